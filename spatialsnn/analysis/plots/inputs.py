"""The input map: where in space each input channel's drive lands (tonotopy)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from spatialsnn.analysis.plots._figure import captioned_figure, save
from spatialsnn.analysis.plots._inset import add_inset, as_xy, fit_limits

__all__ = ["input_map_figure", "plot_input_map"]

_PANELS = {
    "preferred_position": "from the input weights:\n|input weight|-weighted mean position",
    "activity_preferred_position": "from the activity: weighted by the hidden spikes\n"
    "in the 5 ms after each input spike",
}


def _draw(ax: Any, pos: np.ndarray, pref: np.ndarray, channel: np.ndarray, size: float) -> Any:
    ax.scatter(pos[:, 0], pos[:, 1], s=size * 0.35, c="0.8", zorder=1)
    ok = np.isfinite(pref).all(1)
    ax.plot(pref[ok, 0], pref[ok, 1], color="0.5", lw=0.6, zorder=2)
    return ax.scatter(pref[ok, 0], pref[ok, 1], c=channel[ok], cmap="viridis", s=size,
                      edgecolor="k", lw=0.5, zorder=3)  # fmt: skip


def _panel(ax: Any, pos: np.ndarray, pref: np.ndarray, channel: np.ndarray) -> Any:
    sc = _draw(ax, pos, pref, channel, 40)
    ok = np.isfinite(pref).all(1)
    everything = np.concatenate([pos, pref[ok]])
    limits = fit_limits(ax, everything)
    extent = float(np.ptp(everything, axis=0).max()) or 1.0
    spread = float(np.ptp(pref[ok], axis=0).max()) if ok.any() else extent
    if spread < 0.25 * extent:
        middle = (pref[ok].min(0) + pref[ok].max(0)) / 2
        half = max(spread, 0.02 * extent) * 0.6
        inset, _ = add_inset(ax, everything, limits, (middle - half, middle + half))
        _draw(inset, pos, pref, channel, 30)
    return sc


def input_map_figure(metrics: xr.Dataset) -> Any:
    """Preferred position of every input channel among the hidden neurons.

    Parameters
    ----------
    metrics : xarray.Dataset
        From :func:`~spatialsnn.analysis.analyze`: ``position``, ``preferred_position``,
        optionally ``activity_preferred_position`` (both centred on the neurons'
        centroid, drawn here in the neurons' own coordinates) and ``position_r2``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.lines import Line2D

    keys = [k for k in _PANELS if k in metrics]
    fig, body = captioned_figure(5.6 * len(keys) + 2.6, 5.0, _caption(metrics))
    axes = body.subplots(1, len(keys), squeeze=False)[0]
    pos = as_xy(metrics["position"].values)
    channel = metrics["channel"].values
    space = [str(s) for s in metrics["space"].values]
    for ax, key in zip(axes, keys, strict=True):
        pref = as_xy(metrics[key].values) + pos.mean(0)  # back in the neurons' coordinates
        sc = _panel(ax, pos, pref, channel)
        ax.set_title(_PANELS[key], fontsize=9)
        ax.set_xlabel(f"{space[0]} (µm)")
        ax.set_ylabel(f"{space[1]} (µm)" if len(space) > 1 else "")
    body.colorbar(sc, ax=list(axes), label="input channel", shrink=0.8)
    handles = [
        Line2D([], [], ls="", marker="o", color="0.8", label="hidden neuron"),
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            mfc="tab:green",
            mec="k",
            label="input channel's preferred position (colour: channel)",
        ),  # fmt: skip
        Line2D([], [], color="0.5", lw=0.6, label="joins channels 0, 1, 2, ... in order"),
    ]
    body.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8)
    body.suptitle("Where each input channel drives the hidden layer", fontsize=10)
    return fig


def _caption(metrics: xr.Dataset) -> str:
    text = (
        "A channel's preferred position is the mean position of the hidden neurons, each "
        "weighted by how strongly that channel drives it. A smooth path from one end of "
        "the layout to the other means neighbouring channels drive neighbouring neurons (a "
        "topographic map, such as tonotopy for sound frequency channels)."
    )
    if "position_r2" in metrics:
        text += (
            f"\nHeld-out R² of predicting a hidden neuron's position from its input weights "
            f"(ridge regression, 5-fold cross-validation): {float(metrics['position_r2']):.2f}. "
            "1 = positions fully predictable, 0 = no better than the mean position, below "
            "0 = worse than the mean (no map)."
        )
    return text


def plot_input_map(metrics: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write :func:`input_map_figure` to ``path`` (PNG); return the path."""
    return save(input_map_figure(metrics), path)
