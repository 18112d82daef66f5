"""The raster figure: input spikes, hidden spikes (twin and Brian2) and population rate."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from spatialsnn.analysis.plots._figure import captioned_figure, save

__all__ = ["plot_raster", "population_rate", "raster_figure"]

_TWIN = dict(color="tab:blue", label="PyTorch twin (the training simulation)")
_BRIAN2 = dict(color="tab:red", label="Brian2")


def population_rate(spikes: np.ndarray, dt: float, bin_ms: float = 5.0) -> tuple[np.ndarray, Any]:
    """Mean firing rate of a population in time bins.

    Parameters
    ----------
    spikes : array of shape (time, neuron)
        Spikes per step (bool or counts).
    dt : float
        Step, ms.
    bin_ms : float
        Bin width, ms (rounded to whole steps).

    Returns
    -------
    edges : numpy.ndarray of shape (n_bins + 1,)
        Bin edges, ms.
    rate : numpy.ndarray of shape (n_bins,)
        Spikes per second per neuron.
    """
    s = np.asarray(spikes, dtype=np.float64)
    step = max(1, int(round(bin_ms / dt)))
    n_bins = -(-s.shape[0] // step)
    padded = np.zeros((n_bins * step, s.shape[1]))
    padded[: s.shape[0]] = s
    counts = padded.reshape(n_bins, step, -1).sum((1, 2))
    widths = np.minimum(step, s.shape[0] - np.arange(n_bins) * step) * dt  # last may be short
    edges = np.concatenate([[0.0], np.cumsum(widths)])
    return edges, counts / (s.shape[1] * widths * 1e-3)


def _cluster_order(metrics: xr.Dataset | None, n: int) -> tuple[np.ndarray, np.ndarray, str]:
    for key, what in (
        ("spatial_cluster", "spatial cluster (k-means on positions)"),
        ("community", "community (Louvain modules of the weights)"),
    ):
        if metrics is not None and key in metrics:
            labels = metrics[key].values
            return np.argsort(labels, kind="stable"), labels, what
    return np.arange(n), np.zeros(n, dtype=int), ""


def _input_panel(ax: Any, counts: np.ndarray, dt: float) -> None:
    t, ch = np.nonzero(counts)
    ax.scatter(t * dt, ch, s=25, marker="|", color="k", lw=1.0)
    ax.set_ylim(-0.5, counts.shape[1] - 0.5)


def _hidden_panel(ax: Any, sample: xr.Dataset, rank: np.ndarray, dt: float) -> None:
    t, n = np.nonzero(sample["twin"].values)
    ax.scatter(t * dt, rank[n], s=16, facecolor="none", edgecolor=_TWIN["color"], lw=0.7)
    if "brian2" in sample:
        tb, nb = np.nonzero(sample["brian2"].values)
        ax.scatter(tb * dt, rank[nb], s=3, color=_BRIAN2["color"], lw=0)
    ax.set_ylim(len(rank) - 0.5, -0.5)


def _rate_panel(ax: Any, sample: xr.Dataset, dt: float) -> float:
    edges, rate = population_rate(sample["twin"].values, dt)
    ax.stairs(rate, edges, color=_TWIN["color"], lw=1.6)
    top = rate.max(initial=0.0)
    if "brian2" in sample:
        edges, rate_b = population_rate(sample["brian2"].values, dt)
        ax.stairs(rate_b, edges, color=_BRIAN2["color"], lw=0.9, ls="--")
        top = max(top, rate_b.max(initial=0.0))
    return float(top)


def raster_figure(rasters: xr.Dataset, metrics: xr.Dataset | None = None) -> Any:
    """Dot raster of a few samples: input spikes, hidden spikes, population rate.

    Parameters
    ----------
    rasters : xarray.Dataset
        From :func:`~spatialsnn.analysis.spike_rasters`: ``input``, ``twin`` and
        optionally ``brian2`` (sample, time, ...), ``label``.
    metrics : xarray.Dataset, optional
        From :func:`~spatialsnn.analysis.analyze`; hidden neurons are grouped by its
        ``spatial_cluster`` (else ``community``), boundaries drawn.

    Returns
    -------
    matplotlib.figure.Figure
        One column per sample; rows: input spikes (channel), hidden spikes (neuron,
        twin as open circles, Brian2 as dots), population rate (spikes/s).
    """
    dt = float(rasters.attrs["dt"])
    n_s, n_t = rasters.sizes["sample"], rasters.sizes["time"]
    order, labels, what = _cluster_order(metrics, rasters.sizes["neuron"])
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    bounds = np.flatnonzero(np.diff(labels[order])) + 0.5
    fig, body = captioned_figure(2.9 * n_s + 3.2, 7.0, _caption(rasters, dt, what))
    axes = body.subplots(3, n_s, sharex=True, sharey="row", squeeze=False,
                         height_ratios=(1, 3, 1.1))  # fmt: skip
    top = 0.0
    for k in range(n_s):
        sample = rasters.isel(sample=k)
        _input_panel(axes[0, k], sample["input"].values, dt)
        _hidden_panel(axes[1, k], sample, rank, dt)
        for b in bounds:
            axes[1, k].axhline(b, color="0.5", lw=0.8, ls=":")
        top = max(top, _rate_panel(axes[2, k], sample, dt))
        axes[0, k].set_title(
            f"sample {int(rasters['sample'][k])} (class {int(sample['label'])})", fontsize=9
        )
        axes[2, k].set_xlabel("time (ms)")
        axes[2, k].set_xlim(0, n_t * dt)
    axes[2, 0].set_ylim(0, 1.1 * top or 1.0)
    axes[0, 0].set_ylabel("input channel")
    axes[1, 0].set_ylabel("hidden neuron" + (f",\ngrouped by {what}" if what else ""))
    if bounds.size:
        edges = np.concatenate([[-0.5], bounds, [len(rank) - 0.5]])
        ticks = [f"cluster {c}" for c in np.unique(labels)]
        axes[1, 0].set_yticks((edges[:-1] + edges[1:]) / 2, ticks, fontsize=7)
    axes[2, 0].set_ylabel("population rate\n(spikes/s per neuron)")
    body.legend(handles=_handles("brian2" in rasters, bounds.size > 0), loc="outside right upper",
                fontsize=8)  # fmt: skip
    body.suptitle(_title(rasters), fontsize=10)
    return fig


def _handles(brian2: bool, bounds: bool) -> list:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], ls="", marker="|", ms=8, color="k", label="input spike"),
        Line2D(
            [],
            [],
            marker="o",
            mfc="none",
            color=_TWIN["color"],
            label=_TWIN["label"] + ":\ncircles, solid rate line",
        ),  # fmt: skip
    ]
    if brian2:
        handles.append(Line2D([], [], marker=".", ls="--", color=_BRIAN2["color"],
                              label=_BRIAN2["label"] + ": dots, dashed rate line"))  # fmt: skip
    if bounds:
        handles.append(Line2D([], [], color="0.5", ls=":", label="boundary between clusters"))
    return handles


def _title(rasters: xr.Dataset) -> str:
    n = rasters.sizes["sample"]
    if "brian2" not in rasters:
        return f"Spikes of {n} samples in the PyTorch twin (Brian2 not run)"
    same = int((rasters["twin"] == rasters["brian2"]).all(("time", "neuron")).sum())
    return (
        f"Spikes of {n} samples in the PyTorch twin and in Brian2: "
        f"identical spike trains in {same} of {n} samples"
    )


def _caption(rasters: xr.Dataset, dt: float, what: str) -> str:
    text = (
        f"Top: input spikes. Middle: hidden spikes, one row per neuron, time step {dt:g} ms"
        + (f"; neurons grouped by {what}" if what else "")
        + ". Bottom: population rate in 5 ms bins, averaged over the hidden neurons."
    )
    if "brian2" in rasters:
        text += (
            " Open circles and solid lines: the PyTorch twin; dots and dashed lines: Brian2, "
            "which computes every delay from the positions and the conduction velocity. A "
            "dot inside every circle, and coinciding rate lines, mean that the two "
            "simulators agree spike for spike."
        )
    else:
        text += " Install the brian2 extra to overlay the same samples simulated in Brian2."
    return text


def plot_raster(rasters: xr.Dataset, metrics: xr.Dataset | None, path: str | os.PathLike) -> Path:
    """Write :func:`raster_figure` to ``path`` (PNG); return the path."""
    return save(raster_figure(rasters, metrics), path)
