"""Figures of one model's analysis (matplotlib, Agg backend; the ``plot`` extra).

The only module of :mod:`spatialsnn.analysis` that imports matplotlib, lazily.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

__all__ = [
    "plot_all",
    "plot_distributions",
    "plot_input_map",
    "plot_positions",
    "plot_raster",
    "pyplot",
]


def pyplot() -> Any:
    """``matplotlib.pyplot``, or an ImportError naming the ``plot`` extra.

    The backend is left as it is (inline in Jupyter, Agg without a display); the
    ``plot_*`` functions of this module do not use pyplot at all, so they never change
    or depend on it.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError('plotting needs matplotlib: pip install "spatialsnn[plot]"') from None
    return plt


def _figure(nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Any, Any]:
    """A standalone ``matplotlib.figure.Figure`` (not registered with pyplot) and its axes.

    ``figsize`` and ``layout`` go to the Figure, everything else to ``Figure.subplots``.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError('plotting needs matplotlib: pip install "spatialsnn[plot]"') from None
    fig_kw = {k: kwargs.pop(k) for k in ("figsize", "layout") if k in kwargs}
    fig = Figure(**fig_kw)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def _save(fig: Any, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def plot_positions(
    metrics: xr.Dataset, conn: xr.Dataset, path: str | os.PathLike, *, top: float = 0.03
) -> Path:
    """Hidden neurons in space coloured by functional cluster, with the strongest synapses.

    Parameters
    ----------
    metrics : xarray.Dataset
        From :func:`~spatialsnn.analysis.analyze` (``functional_cluster`` if present,
        else ``community``).
    conn : xarray.Dataset
        From :func:`~spatialsnn.analysis.connectivity`.
    path : path-like
        PNG to write.
    top : float
        Fraction of synapses drawn (strongest ``|w|``; red excitatory, blue inhibitory).
    """
    pos = conn["position"].values
    key = "functional_cluster" if "functional_cluster" in metrics else "community"
    labels = metrics[key].values
    w = conn["weight"].values.copy()
    np.fill_diagonal(w, 0.0)
    n_draw = max(1, int(top * w.size))
    flat = np.argsort(np.abs(w).ravel())[::-1][:n_draw]
    fig, ax = _figure(figsize=(6, 5.5))
    wmax = np.abs(w).max() or 1.0
    for idx in flat:
        post, pre = np.unravel_index(idx, w.shape)
        colour = "tab:red" if w[post, pre] > 0 else "tab:blue"
        ax.annotate(
            "",
            xy=pos[post, :2],
            xytext=pos[pre, :2],
            arrowprops=dict(
                arrowstyle="-|>",
                color=colour,
                lw=0.3 + 1.5 * abs(w[post, pre]) / wmax,
                alpha=0.5,
                shrinkA=4,
                shrinkB=4,
            ),
        )
    sc = ax.scatter(
        pos[:, 0],
        pos[:, 1] if pos.shape[1] > 1 else np.zeros(len(pos)),
        c=labels,
        cmap="tab10",
        s=60,
        edgecolor="k",
        zorder=3,
        vmin=0,
        vmax=9,
    )
    ax.set_xlabel(f"{conn['space'].values[0]} (µm)")
    if pos.shape[1] > 1:
        ax.set_ylabel(f"{conn['space'].values[1]} (µm)")
    ax.set_aspect("equal", adjustable="datalim")
    title = f"{key.replace('_', ' ')}; top {top:.0%} |w| (red +, blue -)"
    if "ari" in metrics:
        ari, p = float(metrics["ari"]), float(metrics["ari_p"])
        title += f"\nARI vs spatial clusters {ari:.2f} (p={p:.3f})"
    ax.set_title(title, fontsize=9)
    clusters = np.unique(labels)
    handles = [
        ax.scatter([], [], color=sc.cmap(sc.norm(c)), s=40, edgecolor="k", label=str(c))
        for c in clusters
    ]
    ax.legend(
        handles=handles,
        title=key.replace("_", " "),
        fontsize=8,
        title_fontsize=8,
        loc="center left",
        bbox_to_anchor=(1.02, 0.5),
    )
    return _save(fig, path)


def plot_distributions(metrics: xr.Dataset, path: str | os.PathLike) -> Path:
    """Histograms of synapse distance (µm) and delay (ms): counts and summed ``|w|``."""
    fig, axes = _figure(1, 2, figsize=(9, 3.5))
    for ax, name, units in ((axes[0], "distance", "µm"), (axes[1], "delay", "ms")):
        centre = metrics[f"{name}_bin"].values
        width = centre[1] - centre[0] if centre.size > 1 else 1.0
        count = metrics[f"{name}_count"].values
        weight = metrics[f"{name}_weight"].values
        ax.bar(centre, count / max(count.sum(), 1), width=width, alpha=0.5, label="synapses")
        ax.step(
            centre, weight / max(weight.sum(), 1e-300), where="mid", color="k", label="|w|-weighted"
        )
        ax.set_xlabel(f"{name} ({units})")
        ax.set_ylabel("fraction")
        ax.legend(fontsize=8)
    fig.suptitle(f"recurrent synapses ({metrics.attrs.get('delays', '?')} delays)", fontsize=10)
    return _save(fig, path)


def plot_raster(
    activity: xr.Dataset, metrics: xr.Dataset, path: str | os.PathLike, *, n_samples: int = 4
) -> Path:
    """Spike-count raster of a few samples, neurons sorted by spatial cluster.

    Uses ``binned_count`` (sample, time, neuron) of the activity.
    """
    binned = activity["binned_count"]
    key = "spatial_cluster" if "spatial_cluster" in metrics else "community"
    labels = metrics[key].values
    order = np.argsort(labels, kind="stable")
    n = min(n_samples, binned.sizes["sample"])
    fig, axes = _figure(1, n, figsize=(3 * n, 4), sharey=True, squeeze=False)
    bounds = np.flatnonzero(np.diff(labels[order])) + 0.5
    t = binned["time"].values
    for k, ax in enumerate(axes[0]):
        img = binned.isel(sample=k).transpose("neuron", "time").values[order]
        ax.imshow(
            img,
            aspect="auto",
            cmap="Greys",
            interpolation="nearest",
            extent=(t[0], t[-1] + (t[1] - t[0] if t.size > 1 else 1), len(order) - 0.5, -0.5),
        )
        for b in bounds:
            ax.axhline(b, color="tab:orange", lw=0.8)
        ax.set_title(f"sample {k} (class {int(activity['label'][k])})", fontsize=9)
        ax.set_xlabel("time (ms)")
    axes[0, 0].set_ylabel(f"neuron, sorted by {key.replace('_', ' ')}")
    return _save(fig, path)


def plot_input_map(metrics: xr.Dataset, path: str | os.PathLike) -> Path:
    """Preferred position of every input channel (weight- and activity-based), by channel."""
    keys = [k for k in ("preferred_position", "activity_preferred_position") if k in metrics]
    fig, axes = _figure(
        1, len(keys), figsize=(5.5 * len(keys), 4.5), squeeze=False, layout="constrained"
    )
    pos = metrics["position"].values
    pos = pos - pos.mean(0)
    for ax, key in zip(axes[0], keys, strict=True):
        pref = metrics[key].values
        ax.scatter(pos[:, 0], pos[:, 1], s=12, c="lightgrey", label="hidden neurons")
        sc = ax.scatter(
            pref[:, 0], pref[:, 1], c=metrics["channel"].values, cmap="viridis", s=40, edgecolor="k"
        )
        ax.set_title(key.replace("_", " ") + " (centred)", fontsize=9)
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
        ax.set_aspect("equal", adjustable="datalim")
        fig.colorbar(sc, ax=ax, label="input channel", shrink=0.7)
    if "position_r2" in metrics:
        fig.suptitle(
            f"cross-validated R² of position from input weights: "
            f"{float(metrics['position_r2']):.2f}",
            fontsize=10,
        )
    return _save(fig, path)


def plot_all(
    metrics: xr.Dataset, conn: xr.Dataset, activity: xr.Dataset | None, directory: str | os.PathLike
) -> list[Path]:
    """Write every figure of one model into ``directory``; return the paths."""
    d = Path(directory)
    paths = [
        plot_positions(metrics, conn, d / "positions.png"),
        plot_distributions(metrics, d / "distributions.png"),
        plot_input_map(metrics, d / "input_map.png"),
    ]
    if activity is not None and "binned_count" in activity:
        paths.append(plot_raster(activity, metrics, d / "raster.png"))
    return paths
