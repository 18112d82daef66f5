"""Network structure of the recurrent weights: modularity, clustering, efficiency, wiring.

Conventions
-----------
Matrices are ``[post, pre]`` like ``SpatialSNN.w_rec`` (the measures below do not
depend on the orientation except where stated). Graph measures use ``A = |W| / max|W|``
with the diagonal (self-connections) removed.

Null model (stated): **weight-preserving shuffle**. The off-diagonal entries of ``A``
are permuted at random, which keeps the number of edges (density) and the multiset of
weights and destroys all topology. For a symmetric matrix the upper triangle is
permuted and mirrored, so a binary undirected graph gets an Erdős–Rényi ``G(n, m)``
null with the same number of edges. This follows the paper's recipe (d.2, d.4), except
that the diagonal is excluded on both sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np
import xarray as xr
from scipy.sparse.csgraph import shortest_path

__all__ = [
    "clustering_coefficient",
    "distributions",
    "global_efficiency",
    "modularity",
    "null_shuffle",
    "small_world",
    "symmetrise",
    "threshold",
    "wiring_cost",
    "wiring_efficiency",
]


def _matrix(w: Any) -> np.ndarray:
    if isinstance(w, xr.DataArray):
        w = w.values
    elif hasattr(w, "detach"):
        w = w.detach().cpu().numpy()
    m = np.array(w, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {m.shape}")
    return m


def _abs_offdiag(w: Any) -> np.ndarray:
    a = np.abs(_matrix(w))
    np.fill_diagonal(a, 0.0)
    return a


def symmetrise(w: Any) -> np.ndarray:
    """``(|W| + |W|ᵀ) / 2`` with a zero diagonal, shape (neuron, neuron)."""
    a = _abs_offdiag(w)
    return (a + a.T) / 2


def threshold(w: Any, percentile: float, *, binary: bool = False) -> np.ndarray:
    """Keep the entries of ``|W|`` above a percentile of the off-diagonal ``|W|``.

    Parameters
    ----------
    w : array-like of shape (neuron, neuron)
        Weights.
    percentile : float
        In [0, 100]: 90 keeps the strongest 10 % of connections.
    binary : bool
        Return a 0/1 adjacency instead of the kept weights.

    Returns
    -------
    numpy.ndarray of shape (neuron, neuron)
        Zero diagonal.
    """
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must lie in [0, 100], got {percentile}")
    a = _abs_offdiag(w)
    off = ~np.eye(a.shape[0], dtype=bool)
    cut = np.percentile(a[off], percentile)
    keep = (a > cut) & off
    return keep.astype(np.float64) if binary else np.where(keep, a, 0.0)


# ------------------------------------------------------------------ modularity
def modularity(w: Any, *, seeds: int | Sequence[int] = 10, resolution: float = 1.0) -> xr.Dataset:
    """Louvain modularity of the symmetrised ``|W|`` (networkx), over several seeds.

    Parameters
    ----------
    w : array-like of shape (neuron, neuron)
        Weights (signed; magnitudes are used). Pass a :func:`threshold`-ed matrix for
        a sparser graph.
    seeds : int or sequence of int
        Louvain seeds; an int ``n`` means ``range(n)``.
    resolution : float
        Louvain resolution (1: standard modularity).

    Returns
    -------
    xarray.Dataset
        ``q`` and ``n_communities`` (seed); ``q_mean``, ``q_sd`` (population sd);
        ``community`` (neuron): the partition of the best seed.
    """
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    a = symmetrise(w)
    graph = nx.from_numpy_array(a)
    qs, ns, parts = [], [], []
    for s in seeds:
        comms = nx.community.louvain_communities(
            graph, weight="weight", resolution=resolution, seed=s
        )
        qs.append(
            nx.community.modularity(graph, comms, weight="weight", resolution=resolution)
            if graph.size(weight="weight") > 0
            else 0.0
        )
        ns.append(len(comms))
        labels = np.empty(a.shape[0], dtype=np.int64)
        for k, c in enumerate(sorted(comms, key=min)):
            labels[list(c)] = k
        parts.append(labels)
    best = int(np.argmax(qs))
    return xr.Dataset(
        {
            "q": ("seed", np.array(qs), {"units": "1", "long_name": "Louvain modularity Q"}),
            "n_communities": ("seed", np.array(ns), {"units": "1"}),
            "q_mean": ((), float(np.mean(qs)), {"units": "1"}),
            "q_sd": ((), float(np.std(qs)), {"units": "1"}),
            "community": ("neuron", parts[best], {"units": "1", "long_name": "community"}),
        },
        coords={"seed": seeds, "neuron": np.arange(a.shape[0])},
        attrs={"graph": "undirected, weights (|W| + |W|^T) / 2", "resolution": resolution},
    )


# ------------------------------------------------------ clustering and efficiency
def clustering_coefficient(w: Any) -> np.ndarray:
    """Weighted directed clustering coefficient per node (Fagiolo 2007; BCT ``clustering_coef_wd``).

    Uses ``A = |W| / max|W|`` with a zero diagonal and cube-root weights. On a binary
    undirected graph it equals the ordinary clustering coefficient.

    Returns
    -------
    numpy.ndarray of shape (neuron,)
        Dimensionless, 0 for nodes without triangles.
    """
    a = _abs_offdiag(w)
    if a.max() > 0:
        a = a / a.max()
    adj = (a > 0).astype(np.float64)
    s = np.cbrt(a) + np.cbrt(a).T
    k = adj.sum(0) + adj.sum(1)
    cyc3 = np.diag(s @ s @ s) / 2
    possible = k * (k - 1) - 2 * np.diag(adj @ adj)
    return np.divide(cyc3, possible, out=np.zeros_like(cyc3), where=(cyc3 > 0) & (possible > 0))


def global_efficiency(w: Any) -> float:
    """Weighted global efficiency: mean over ordered pairs i ≠ j of ``1 / L_ij``.

    ``L`` is the shortest directed path length with edge length ``1 / A_ij``,
    ``A = |W| / max|W|`` (BCT ``efficiency_wei`` lengths; a binary matrix gives the
    hop count). Unreachable pairs contribute 0.
    """
    a = _abs_offdiag(w)
    n = a.shape[0]
    if n < 2 or a.max() == 0:
        return 0.0
    a = a / a.max()
    length = np.divide(1.0, a, out=np.zeros_like(a), where=a > 0)  # 0 = no edge for csgraph
    dist = shortest_path(length, method="D", directed=True)
    off = ~np.eye(n, dtype=bool)
    inv = np.divide(1.0, dist[off], out=np.zeros(n * (n - 1)), where=np.isfinite(dist[off]))
    return float(inv.mean())


def null_shuffle(w: Any, rng: np.random.Generator) -> np.ndarray:
    """One weight-preserving shuffle of ``|W|`` (see the module docstring for the null)."""
    a = _abs_offdiag(w)
    n = a.shape[0]
    out = np.zeros_like(a)
    if np.allclose(a, a.T):
        iu = np.triu_indices(n, 1)
        out[iu] = rng.permutation(a[iu])
        return out + out.T
    off = ~np.eye(n, dtype=bool)
    out[off] = rng.permutation(a[off])
    return out


def small_world(w: Any, *, n_null: int = 20, seed: int = 0) -> xr.Dataset:
    """Clustering and efficiency against the shuffle null; small-worldness σ.

    ``σ = (C / C_null) · (E / E_null)`` with ``C`` the mean :func:`clustering_coefficient`
    and ``E`` the :func:`global_efficiency` (≈ 1 / path length), each null averaged over
    ``n_null`` seeded :func:`null_shuffle` draws. σ > 1: more clustered than chance at
    comparable efficiency (small-world); σ ≈ 1 for a random graph.

    Parameters
    ----------
    w : array-like of shape (neuron, neuron)
        Weights, or a (binary) thresholded adjacency from :func:`threshold`.
    n_null : int
        Null draws.
    seed : int
        Seed of the null draws.

    Returns
    -------
    xarray.Dataset
        Scalars ``clustering``, ``clustering_null``, ``clustering_ratio``,
        ``efficiency``, ``efficiency_null``, ``efficiency_ratio``, ``sigma`` (all
        dimensionless).
    """
    a = _abs_offdiag(w)
    c, e = float(clustering_coefficient(a).mean()), global_efficiency(a)
    rng = np.random.default_rng(seed)
    cn, en = [], []
    for _ in range(n_null):
        r = null_shuffle(a, rng)
        cn.append(clustering_coefficient(r).mean())
        en.append(global_efficiency(r))
    c0, e0 = float(np.mean(cn)), float(np.mean(en))
    cr = c / c0 if c0 > 0 else np.nan
    er = e / e0 if e0 > 0 else np.nan
    unit = {"units": "1"}
    return xr.Dataset(
        {
            "clustering": ((), c, {**unit, "long_name": "mean weighted clustering (Fagiolo)"}),
            "clustering_null": ((), c0, unit),
            "clustering_ratio": ((), cr, unit),
            "efficiency": ((), e, {**unit, "long_name": "weighted global efficiency"}),
            "efficiency_null": ((), e0, unit),
            "efficiency_ratio": ((), er, unit),
            "sigma": ((), cr * er, {**unit, "long_name": "small-worldness (C/C0)(E/E0)"}),
        },
        attrs={
            "null": "weight-preserving shuffle of off-diagonal entries",
            "n_null": n_null,
            "seed": seed,
        },
    )


# ---------------------------------------------------------------------- wiring
def wiring_cost(w: Any, length: Any) -> float:
    """``Σ_ij |w_ij| · d_ij``: weight times length, in µm when ``length`` is in µm."""
    return float((np.abs(_matrix(w)) * _matrix(length)).sum())


def wiring_efficiency(w: Any, length: Any) -> float:
    """Wiring efficiency in [0, 1] from the rearrangement-inequality bounds (paper d.3).

    ``1 - (cost - min) / (max - min)`` where ``min`` (``max``) pairs the sorted ``|w|``
    with the lengths sorted the opposite (same) way: 1 means the strongest synapses
    are the shortest possible.
    """
    aw = np.sort(np.abs(_matrix(w)).ravel())
    d = np.sort(_matrix(length).ravel())
    lo, hi = float(aw @ d[::-1]), float(aw @ d)
    if hi == lo:
        return 1.0
    return 1.0 - (wiring_cost(w, length) - lo) / (hi - lo)


def distributions(conn: xr.Dataset, *, bins: int = 30) -> xr.Dataset:
    """Histograms of synapse distances and delays (off-diagonal synapses).

    Parameters
    ----------
    conn : xarray.Dataset
        From :func:`~spatialsnn.analysis.connectivity` (``weight``, ``distance``,
        ``delay``).
    bins : int
        Number of bins.

    Returns
    -------
    xarray.Dataset
        ``distance_count`` / ``distance_weight`` (distance_bin) and ``delay_count`` /
        ``delay_weight`` (delay_bin): number of synapses and summed ``|w|`` per bin;
        coordinates are bin centres (µm, ms) with ``*_edges`` attributes.
    """
    off = ~np.eye(conn.sizes["post"], dtype=bool)
    aw = np.abs(conn["weight"].values[off])
    out: dict[str, Any] = {}
    coords: dict[str, Any] = {}
    for name, units in (("distance", "um"), ("delay", "ms")):
        v = conn[name].values[off]
        hi = float(v.max()) if v.size and v.max() > 0 else 1.0
        edges = np.linspace(0.0, hi, bins + 1)
        count, _ = np.histogram(v, edges)
        weight, _ = np.histogram(v, edges, weights=aw)
        dim = f"{name}_bin"
        coords[dim] = (dim, (edges[:-1] + edges[1:]) / 2, {"units": units})
        out[f"{name}_count"] = (dim, count, {"units": "1", "long_name": f"synapses per {name} bin"})
        out[f"{name}_weight"] = (dim, weight, {"units": "1", "long_name": "summed |w| per bin"})
        out[f"{name}_mean"] = ((), float(v.mean()) if v.size else np.nan, {"units": units})
        out[f"{name}_weighted_mean"] = (
            (),
            float((aw * v).sum() / aw.sum()) if aw.sum() else np.nan,
            {"units": units, "long_name": f"|w|-weighted mean {name}"},
        )
    return xr.Dataset(out, coords=coords)
