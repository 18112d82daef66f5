"""The positions figure: hidden neurons in space, their clusters and strongest synapses."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from spatialsnn.analysis.plots._figure import captioned_figure, save
from spatialsnn.analysis.plots._inset import add_inset, as_xy, fit_limits

__all__ = ["dense_core", "outliers", "plot_positions", "positions_figure"]

_CLUSTER_KINDS = {
    "functional_cluster": "functional cluster (k-means on each neuron's mean rate per class)",
    "community": "community (Louvain modules of the recurrent weights)",
}


def outliers(pos: np.ndarray, *, fence: float = 3.0) -> np.ndarray:
    """Neurons far from all the others (Tukey's far-out rule on the distances).

    Parameters
    ----------
    pos : array of shape (neuron, space)
        Positions, µm.
    fence : float
        How many interquartile ranges beyond the upper quartile count as far.

    Returns
    -------
    numpy.ndarray of bool, shape (neuron,)
        True where the distance to the median position lies more than ``fence``
        interquartile ranges above the upper quartile of these distances.
    """
    d = np.linalg.norm(pos - np.median(pos, axis=0), axis=1)
    q1, q3 = np.percentile(d, [25, 75])
    return d > q3 + fence * (q3 - q1)


def dense_core(
    pos: np.ndarray, *, fraction: float = 0.2, max_size: float = 0.2
) -> tuple[np.ndarray, np.ndarray] | None:
    """The box around the densest group of neurons, if it is small against the whole.

    Parameters
    ----------
    pos : array of shape (neuron, space)
        Positions, µm (the first two coordinates are used).
    fraction : float
        The densest square holding this fraction of the neurons (at least 4) seeds the
        group; the group is every neuron within twice that square's half-side.
    max_size : float
        Report the box only if its larger side is below this fraction of the larger
        side of the whole layout.

    Returns
    -------
    (lower, upper) : pair of numpy.ndarray of shape (2,), or None
        Corners of the box (µm), padded; None when there is no such dense core.
    """
    p = np.asarray(pos, dtype=np.float64)[:, :2]
    n = len(p)
    k = max(4, math.ceil(fraction * n))
    if p.shape[1] < 2 or n < 2 * k:
        return None
    cheb = np.abs(p[:, None, :] - p[None, :, :]).max(-1)  # square "radius" between neurons
    radius = np.sort(cheb, axis=1)[:, k - 1]  # the square around i holding k neurons
    centre = int(np.argmin(radius))
    members = p[cheb[centre] <= 2 * radius[centre]]  # the whole clump, not just k
    lower, upper = members.min(0), members.max(0)
    extent = float((p.max(0) - p.min(0)).max())
    side = float((upper - lower).max())
    if extent == 0 or side >= max_size * extent:
        return None
    middle, half = (lower + upper) / 2, max(side, 0.02 * extent) * 0.6
    return middle - half, middle + half


def _arrows(ax: Any, pos: np.ndarray, w: np.ndarray, n_draw: int, wmax: float) -> None:
    """The ``n_draw`` strongest synapses as arrows, pre -> post (clipped to the axes)."""
    from matplotlib.patches import FancyArrowPatch

    for idx in np.argsort(np.abs(w).ravel())[::-1][:n_draw]:
        post, pre = np.unravel_index(idx, w.shape)
        ax.add_patch(
            FancyArrowPatch(
                pos[pre, :2],
                pos[post, :2],
                arrowstyle="-|>",
                mutation_scale=8,
                color="tab:red" if w[post, pre] > 0 else "tab:blue",
                lw=0.3 + 1.5 * abs(w[post, pre]) / wmax,
                alpha=0.45,
                shrinkA=4,
                shrinkB=4,
            )
        )


def _neurons(ax: Any, pos: np.ndarray, labels: np.ndarray, far: np.ndarray, size: float) -> None:
    for c in np.unique(labels):
        sel = labels == c
        ax.scatter(*pos[sel, :2].T, s=size, color=f"C{int(c) % 10}", edgecolor="k", zorder=3)
    if far.any():
        ax.scatter(*pos[far, :2].T, s=size * 3.5, facecolor="none", edgecolor="k", lw=1.2,
                   zorder=4)  # fmt: skip


def _scale_bar(ax: Any, extent: float, velocity: float, loc: str) -> None:
    """A bar of a round length with its conduction delay: space as time."""
    from matplotlib.offsetbox import AnchoredOffsetbox, AuxTransformBox, TextArea, VPacker
    from matplotlib.patches import Rectangle

    length = 10 ** math.floor(math.log10(max(extent / 4, 1e-9)))
    length *= 5 if 5 * length <= extent / 4 else 2 if 2 * length <= extent / 4 else 1
    box = AuxTransformBox(ax.transData)
    box.add_artist(Rectangle((0, 0), length, 0, lw=2, edgecolor="k"))
    label = TextArea(f"{length:g} µm = {length / velocity:g} ms of delay",
                     textprops=dict(size=7))  # fmt: skip
    packed = VPacker(children=[box, label], align="center", pad=0, sep=3)
    ax.add_artist(AnchoredOffsetbox(loc, child=packed, pad=0.4, frameon=False))


def positions_figure(metrics: xr.Dataset, conn: xr.Dataset, *, top: float = 0.03) -> Any:
    """Hidden neurons in space coloured by cluster, with the strongest synapses.

    A dense group of neurons that would be unreadable at the scale of the whole layout is
    magnified in an inset; neurons far from all others are ringed.

    Parameters
    ----------
    metrics : xarray.Dataset
        From :func:`~spatialsnn.analysis.analyze` (``functional_cluster`` if present,
        else ``community``; ``ari`` and ``ari_p`` if present).
    conn : xarray.Dataset
        From :func:`~spatialsnn.analysis.connectivity`.
    top : float
        Fraction of the recurrent synapses drawn (the strongest by ``|w|``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    pos = as_xy(conn["position"].values)
    key = "functional_cluster" if "functional_cluster" in metrics else "community"
    labels = metrics[key].values
    w = conn["weight"].values.copy()
    np.fill_diagonal(w, 0.0)
    n_draw = max(1, int(top * w.size))
    wmax = float(np.abs(w).max()) or 1.0
    far = outliers(pos)
    core = dense_core(pos)
    caption = _caption(metrics, key, top, n_draw, far, core is not None)
    fig, body = captioned_figure(8.6, 5.6, caption)
    ax = body.subplots()
    _arrows(ax, pos, w, n_draw, wmax)
    _neurons(ax, pos, labels, far, 55)
    space = [str(s) for s in conn["space"].values]
    ax.set_xlabel(f"{space[0]} (µm)")
    ax.set_ylabel(f"{space[1]} (µm)" if len(space) > 1 else "")
    limits = fit_limits(ax, pos[:, :2])
    extent = float(np.ptp(pos[:, :2], axis=0).max()) or 1.0
    corner = "lower right"
    if core is not None:
        inset, (x0, y0) = add_inset(ax, pos[:, :2], limits, core)
        _arrows(inset, pos, w, n_draw, wmax)
        _neurons(inset, pos, labels, far, 40)
        if x0 > 0.5 and y0 < 0.5:
            corner = "lower left"
    _scale_bar(ax, extent, float(conn.attrs["velocity"]), corner)
    _legend(ax, labels, key, far, core is not None)
    ax.set_title(f"Learned positions of the {len(pos)} hidden neurons", fontsize=10)
    return fig


def _legend(ax: Any, labels: np.ndarray, key: str, far: np.ndarray, inset: bool) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], ls="", marker="o", ms=7, mfc=f"C{int(c) % 10}", mec="k", label=f"{c}")
        for c in np.unique(labels)
    ]
    handles += [
        Line2D([], [], color="tab:red", lw=1.5, label="excitatory synapse (w > 0)"),
        Line2D([], [], color="tab:blue", lw=1.5, label="inhibitory synapse (w < 0)"),
    ]
    if far.any():
        handles.append(Line2D([], [], ls="", marker="o", ms=12, mfc="none", mec="k",
                              label=f"outlier ({int(far.sum())}): far from the rest"))  # fmt: skip
    ax.legend(handles=handles, title=key.replace("_", " "), fontsize=8, title_fontsize=8,
              loc="upper left", bbox_to_anchor=(1.02, 1.0))  # fmt: skip


def _caption(
    metrics: xr.Dataset, key: str, top: float, n_draw: int, far: np.ndarray, inset: bool
) -> str:
    text = (
        f"Colour: {_CLUSTER_KINDS[key]}. Arrows: the strongest {top:.0%} of the recurrent "
        f"synapses ({n_draw}, by |w|, w = synaptic weight), from the presynaptic to the "
        "postsynaptic neuron, width proportional to |w|. Delay = distance / conduction "
        "velocity (scale bar)."
    )
    if inset:
        text += " Inset: the densest group of neurons, magnified (grey box)."
    if far.any():
        text += (
            " Ringed: outliers, whose distance to the median position lies more than 3 "
            "interquartile ranges above the upper quartile of these distances."
        )
    if "ari" in metrics:
        ari, p = float(metrics["ari"]), float(metrics["ari_p"])
        text += (
            f"\nAdjusted Rand index (ARI) between functional clusters and spatial clusters "
            f"(k-means on positions): {ari:.2f} (0 = chance, 1 = identical), permutation "
            f"p = {p:.3f}."
        )
    return text


def plot_positions(
    metrics: xr.Dataset, conn: xr.Dataset, path: str | os.PathLike, *, top: float = 0.03
) -> Path:
    """Write :func:`positions_figure` to ``path`` (PNG); return the path."""
    return save(positions_figure(metrics, conn, top=top), path)
