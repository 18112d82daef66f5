"""Fixed equal-aspect limits and magnifying insets placed where they hide the least."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["add_inset", "as_xy", "fit_limits"]

#: Inset positions tried, in axes fractions (x0, y0); the inset is square.
_CORNERS = ((0.02, 0.60), (0.60, 0.60), (0.02, 0.02), (0.60, 0.02))


def as_xy(a: np.ndarray) -> np.ndarray:
    """The first two coordinates of points (n, space); a 1-D layout gets y = 0."""
    a = np.asarray(a, dtype=np.float64)
    if a.shape[1] == 1:
        return np.column_stack([a[:, 0], np.zeros(len(a))])
    return a[:, :2]


def fit_limits(ax: Any, xy: np.ndarray, pad: float = 0.06) -> tuple[np.ndarray, np.ndarray]:
    """Set equal-aspect limits that hold every point, padded; return ``(lower, upper)``.

    The limits are fixed (``adjustable="box"``), so an inset can be placed against them
    before the figure is drawn.
    """
    lower, upper = np.nanmin(xy, 0), np.nanmax(xy, 0)
    span = float((upper - lower).max()) or 1.0
    lower, upper = lower - pad * span, upper + pad * span
    ax.set(xlim=(lower[0], upper[0]), ylim=(lower[1], upper[1]))
    ax.set_aspect("equal", adjustable="box")
    return lower, upper


def _emptiest_corner(xy: np.ndarray, lower: np.ndarray, upper: np.ndarray, size: float) -> tuple:
    frac = (xy - lower) / np.where(upper > lower, upper - lower, 1.0)
    best, fewest = _CORNERS[0], None
    for x0, y0 in _CORNERS:
        inside = (
            (frac[:, 0] >= x0 - 0.03)
            & (frac[:, 0] <= x0 + size + 0.03)
            & (frac[:, 1] >= y0 - 0.03)
            & (frac[:, 1] <= y0 + size + 0.03)
        )
        if fewest is None or inside.sum() < fewest:
            best, fewest = (x0, y0), int(inside.sum())
    return best


def add_inset(
    ax: Any,
    xy: np.ndarray,
    limits: tuple[np.ndarray, np.ndarray],
    box: tuple[np.ndarray, np.ndarray],
    *,
    size: float = 0.38,
) -> tuple[Any, tuple[float, float]]:
    """A square inset magnifying ``box`` in the corner of ``ax`` that covers the fewest points.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        With limits fixed by :func:`fit_limits` (returned as ``limits``).
    xy : array of shape (n, 2)
        The points drawn in ``ax`` (data coordinates).
    limits, box : pair of arrays of shape (2,)
        Lower and upper corners of the axes' view and of the magnified region.
    size : float
        Side of the inset, a fraction of the axes.

    Returns
    -------
    inset : matplotlib.axes.Axes
        With its limits set, a zoom indicator and a "magnified ×k" label in its corner.
    corner : (float, float)
        Its lower-left corner in axes fractions.
    """
    x0, y0 = _emptiest_corner(xy, *limits, size)
    inset = ax.inset_axes((x0, y0, size, size))
    lo, hi = box
    half = float((hi - lo).max()) / 2
    mid = (lo + hi) / 2
    inset.set(xlim=(mid[0] - half, mid[0] + half), ylim=(mid[1] - half, mid[1] + half))
    inset.set_aspect("equal", adjustable="box")
    inset.tick_params(labelsize=6)
    zoom = float((limits[1] - limits[0]).max()) / (2 * half)
    # Inside the inset: a title above it would run into the axes' title when the inset
    # sits in an upper corner.
    inset.text(
        0.03, 0.97, f"magnified ×{zoom:.0f}", transform=inset.transAxes, ha="left", va="top",
        fontsize=7, bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        zorder=10,
    )  # fmt: skip
    ax.indicate_inset_zoom(inset, edgecolor="0.4")
    return inset, (x0, y0)
