"""The distributions figure: how long the recurrent synapses are, and where the weight is."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import xarray as xr

from spatialsnn.analysis.plots._figure import captioned_figure, save

__all__ = ["distributions_figure", "plot_distributions"]


def _histogram(ax: Any, metrics: xr.Dataset, name: str) -> None:
    centre = metrics[f"{name}_bin"].values
    width = centre[1] - centre[0] if centre.size > 1 else 1.0
    count = metrics[f"{name}_count"].values
    weight = metrics[f"{name}_weight"].values
    ax.bar(centre, count / max(count.sum(), 1), width=width, color="0.75",
           label="fraction of the synapses")  # fmt: skip
    ax.step(centre, weight / max(weight.sum(), 1e-300), where="mid", color="k",
            label="fraction of the total |w|")  # fmt: skip
    mean = float(metrics[f"{name}_weighted_mean"])
    ax.axvline(float(metrics[f"{name}_mean"]), color="0.4", ls=":", label="mean")
    ax.axvline(mean, color="k", ls="--", label="|w|-weighted mean")
    ax.set_ylabel("fraction")
    ax.legend(fontsize=8)


def distributions_figure(metrics: xr.Dataset) -> Any:
    """Histogram of the recurrent synapses' lengths and delays, counted and by weight.

    With spatial delays the delay is the distance divided by the conduction velocity,
    so one histogram shows both (distance below, delay above). With free delays only
    the learned delays are shown (positions do not set them); without delays, only the
    distances between the (unused) positions.

    Parameters
    ----------
    metrics : xarray.Dataset
        From :func:`~spatialsnn.analysis.analyze` (``distance_*`` and ``delay_*``
        histograms; attributes ``delays`` and ``velocity``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    kind = str(metrics.attrs.get("delays", "spatial"))
    velocity = float(metrics.attrs.get("velocity", 1.0))
    fig, body = captioned_figure(
        6.6,
        4.0,
        "Grey bars: fraction of the recurrent synapses (self-connections excluded) in each "
        "bin. Black line: fraction of the summed |w| (w = synaptic weight) in each bin; "
        "where it lies above the bars, the synapses of that length are stronger than "
        "average.",
    )
    ax = body.subplots()
    name = "delay" if kind == "free" else "distance"
    _histogram(ax, metrics, name)
    if kind == "spatial":
        ax.set_xlabel("distance between the two neurons (µm)")
        top = ax.secondary_xaxis("top", functions=(lambda d: d / velocity, lambda t: t * velocity))
        top.set_xlabel(f"delay (ms) = distance / {velocity:g} µm/ms")
        what = "delays = distance / conduction velocity"
    elif kind == "free":
        ax.set_xlabel("learned delay (ms)")
        what = "free, learned per synapse (positions play no part)"
    else:
        ax.set_xlabel("distance between the two neurons (µm)")
        what = "none: every recurrent delay is 0 ms, positions are not used"
    body.suptitle(f"Recurrent synapses ({what})", fontsize=10)
    return fig


def plot_distributions(metrics: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write :func:`distributions_figure` to ``path`` (PNG); return the path."""
    return save(distributions_figure(metrics), path)
