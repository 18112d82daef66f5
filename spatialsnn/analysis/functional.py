"""Functional profiles, functional and spatial clusters, and how well they agree.

Cluster agreement is the adjusted Rand index (ARI) and the adjusted mutual information
(AMI, arithmetic normalisation, as scikit-learn's default), both implemented here on
numpy/scipy, with a permutation null: the neuron labels of one clustering are shuffled,
which keeps both cluster-size distributions and destroys any correspondence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy.cluster.vq import ClusterError, kmeans2
from scipy.special import gammaln
from scipy.stats import rankdata

__all__ = [
    "adjusted_mutual_info",
    "adjusted_rand",
    "agreement",
    "functional_clusters",
    "functional_similarity",
    "kmeans",
    "mantel",
    "selectivity",
    "spatial_clusters",
    "tuning",
]


def _values(a: Any) -> np.ndarray:
    if isinstance(a, xr.DataArray):
        return np.asarray(a.values)
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return np.asarray(a)


# --------------------------------------------------------------------- profiles
def tuning(activity: xr.Dataset) -> xr.DataArray:
    """Class-conditional mean firing rate of every neuron.

    Parameters
    ----------
    activity : xarray.Dataset
        From :func:`~spatialsnn.analysis.record` (``rate`` (sample, neuron), ``label``).

    Returns
    -------
    xarray.DataArray of shape (neuron, class)
        Hz; NaN for a class without samples.
    """
    rate = activity["rate"].assign_coords(label=activity["label"])
    mean = rate.groupby("label").mean("sample").rename(label="class")
    classes = activity["class"].values if "class" in activity.coords else mean["class"].values
    out = mean.reindex({"class": classes}).transpose("neuron", "class")
    out.attrs = {"units": "Hz", "long_name": "class-conditional mean rate"}
    return out


def selectivity(profile: xr.DataArray) -> xr.Dataset:
    """Class selectivity of every neuron.

    ``selectivity = (r_pref - r_other) / (r_pref + r_other)``, with ``r_pref`` the rate
    for the preferred class and ``r_other`` the mean rate over the other classes: 0 for
    a neuron that fires equally for all classes (or is silent), 1 for one that fires
    for one class only.

    Parameters
    ----------
    profile : xarray.DataArray of shape (neuron, class)
        From :func:`tuning`, Hz.

    Returns
    -------
    xarray.Dataset
        ``selectivity`` (neuron, dimensionless) and ``preferred_class`` (neuron).
    """
    r = np.nan_to_num(_values(profile.transpose("neuron", "class")))
    pref = r.argmax(1)
    r_pref = r.max(1)
    n_class = r.shape[1]
    r_other = (r.sum(1) - r_pref) / max(n_class - 1, 1)
    denom = r_pref + r_other
    sel = np.divide(r_pref - r_other, denom, out=np.zeros_like(denom), where=denom > 0)
    neuron = profile["neuron"]
    return xr.Dataset(
        {
            "selectivity": ("neuron", sel, {"units": "1", "long_name": "class selectivity"}),
            "preferred_class": ("neuron", pref, {"units": "1"}),
        },
        coords={"neuron": neuron},
    )


# --------------------------------------------------------------------- clustering
def kmeans(points: Any, k: int, *, seed: int = 0, n_init: int = 10) -> np.ndarray:
    """k-means labels of ``points`` (n, features): best of ``n_init`` seeded k-means++ runs.

    ``k`` is reduced to the number of distinct points if there are fewer. Labels are
    renumbered by first appearance, so equal partitions give equal arrays.
    """
    x = np.asarray(_values(points), dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if k < 1:
        raise ValueError("k must be >= 1")
    # no more clusters than distinct points (e.g. many silent neurons share one profile)
    k = int(min(k, len(np.unique(x, axis=0))))
    if k <= 1:
        return np.zeros(len(x), dtype=np.int64)
    rng = np.random.default_rng(seed)
    best, best_inertia = None, np.inf
    for attempt in range(n_init + 20):
        if attempt >= n_init and best is not None:
            break
        try:
            centroids, labels = kmeans2(x, k, minit="++", rng=rng, missing="raise")
        except ClusterError:  # an empty cluster: another initialisation
            continue
        inertia = float(((x - centroids[labels]) ** 2).sum())
        if inertia < best_inertia - 1e-12:
            best, best_inertia = labels, inertia
    if best is None:
        raise RuntimeError(f"k-means found no solution with {k} non-empty clusters")
    return _canonical(best)


def _canonical(labels: np.ndarray) -> np.ndarray:
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first)
    remap = np.empty(order.size, dtype=np.int64)
    remap[order] = np.arange(order.size)
    return remap[np.unique(labels, return_inverse=True)[1]]


def functional_clusters(
    profile: xr.DataArray, k: int | None = None, *, seed: int = 0
) -> xr.DataArray:
    """Cluster neurons by the shape of their class tuning.

    Each neuron's profile is divided by its Euclidean norm (so clusters reflect which
    classes drive the neuron, not how much it fires); silent neurons become the zero
    vector. k-means with ``k`` clusters (default: the number of classes).

    Returns
    -------
    xarray.DataArray of shape (neuron,)
        Integer cluster labels.
    """
    r = np.nan_to_num(_values(profile.transpose("neuron", "class")))
    norm = np.linalg.norm(r, axis=1, keepdims=True)
    shape = np.divide(r, norm, out=np.zeros_like(r), where=norm > 0)
    k = r.shape[1] if k is None else k
    labels = kmeans(shape, k, seed=seed)
    return xr.DataArray(
        labels,
        dims="neuron",
        coords={"neuron": profile["neuron"]},
        attrs={"long_name": "functional cluster", "units": "1"},
    )


def spatial_clusters(positions: Any, k: int, *, seed: int = 0) -> xr.DataArray:
    """k-means clusters of neuron positions (neuron, space), µm.

    Returns
    -------
    xarray.DataArray of shape (neuron,)
        Integer cluster labels.
    """
    labels = kmeans(positions, k, seed=seed)
    return xr.DataArray(
        labels,
        dims="neuron",
        coords={"neuron": np.arange(labels.size)},
        attrs={"long_name": "spatial cluster", "units": "1"},
    )


# --------------------------------------------------------------------- agreement
def _contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(table, (ai, bi), 1)
    return table


def _comb2(n: np.ndarray | float) -> np.ndarray:
    n = np.asarray(n, dtype=np.float64)
    return n * (n - 1) / 2


def adjusted_rand(a: Any, b: Any) -> float:
    """Adjusted Rand index of two labelings of the same items (1: identical partitions).

    Hubert & Arabie (1985); 1.0 when both labelings put everything in one cluster.
    """
    table = _contingency(np.ravel(_values(a)), np.ravel(_values(b)))
    n = table.sum()
    sum_ij = _comb2(table).sum()
    sum_a, sum_b = _comb2(table.sum(1)).sum(), _comb2(table.sum(0)).sum()
    expected = sum_a * sum_b / _comb2(n) if n > 1 else 0.0
    maximum = 0.5 * (sum_a + sum_b)
    if maximum == expected:
        return 1.0
    return float((sum_ij - expected) / (maximum - expected))


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def _mutual_info(table: np.ndarray) -> float:
    n = table.sum()
    pij = table / n
    outer = np.outer(table.sum(1), table.sum(0)) / n**2
    nz = pij > 0
    return float((pij[nz] * np.log(pij[nz] / outer[nz])).sum())


def _expected_mutual_info(a_sizes: np.ndarray, b_sizes: np.ndarray) -> float:
    """E[MI] under the hypergeometric model of random labelings with these cluster sizes."""
    n = int(a_sizes.sum())
    total = 0.0
    lg = gammaln
    for ai in a_sizes:
        for bj in b_sizes:
            lo, hi = max(1, int(ai + bj - n)), int(min(ai, bj))
            if hi < lo:
                continue
            nij = np.arange(lo, hi + 1, dtype=np.float64)
            term = nij / n * np.log(n * nij / (ai * bj))
            logp = (
                lg(ai + 1)
                + lg(bj + 1)
                + lg(n - ai + 1)
                + lg(n - bj + 1)
                - lg(n + 1)
                - lg(nij + 1)
                - lg(ai - nij + 1)
                - lg(bj - nij + 1)
                - lg(n - ai - bj + nij + 1)
            )
            total += float((term * np.exp(logp)).sum())
    return total


def _ami_from(mi: float, h_a: float, h_b: float, emi: float) -> float:
    denom = 0.5 * (h_a + h_b) - emi
    if abs(denom) < 1e-15:
        return 1.0 if abs(mi - emi) < 1e-15 else 0.0
    return (mi - emi) / denom


def adjusted_mutual_info(a: Any, b: Any) -> float:
    """Adjusted mutual information (arithmetic-mean normalisation; Vinh et al. 2010).

    1 for identical partitions, 0 in expectation for random ones. 1.0 when both
    labelings have a single cluster.
    """
    table = _contingency(np.ravel(_values(a)), np.ravel(_values(b)))
    if table.shape[0] == table.shape[1] == 1:
        return 1.0
    ra, rb = table.sum(1), table.sum(0)
    emi = _expected_mutual_info(ra, rb)
    return float(_ami_from(_mutual_info(table), _entropy(ra), _entropy(rb), emi))


def _p_value(null: np.ndarray, observed: float) -> float:
    """One-sided permutation p-value, ``(1 + #{null >= observed}) / (1 + n)``."""
    return float((1 + np.sum(null >= observed - 1e-12)) / (1 + null.size))


def agreement(a: Any, b: Any, *, n_perm: int = 1000, seed: int = 0) -> xr.Dataset:
    """ARI and AMI between two clusterings, each with a permutation null and p-value.

    Parameters
    ----------
    a, b : array-like of shape (neuron,)
        Cluster labels (e.g. functional and spatial clusters).
    n_perm : int
        Permutations of ``b`` relative to ``a``.
    seed : int
        Seed of the permutations.

    Returns
    -------
    xarray.Dataset
        Scalars ``ari``, ``ami``, their null mean and sd (``*_null_mean``,
        ``*_null_sd``) and one-sided p-values ``ari_p``, ``ami_p`` (the chance that
        a random relabelling agrees at least as well). Attribute ``n_perm``.
    """
    a = np.ravel(_values(a))
    b = np.ravel(_values(b))
    if a.shape != b.shape:
        raise ValueError(f"labelings differ in length: {a.shape} vs {b.shape}")
    table = _contingency(a, b)
    ra, rb = table.sum(1), table.sum(0)
    emi = _expected_mutual_info(ra, rb) if table.size > 1 else 0.0
    h_a, h_b = _entropy(ra), _entropy(rb)
    ari, ami = adjusted_rand(a, b), adjusted_mutual_info(a, b)
    rng = np.random.default_rng(seed)
    null_ari, null_ami = np.empty(n_perm), np.empty(n_perm)
    for k in range(n_perm):
        bp = rng.permutation(b)
        null_ari[k] = adjusted_rand(a, bp)
        null_ami[k] = _ami_from(_mutual_info(_contingency(a, bp)), h_a, h_b, emi)
    out = {}
    for name, obs, null in (("ari", ari, null_ari), ("ami", ami, null_ami)):
        out[name] = ((), obs, {"units": "1", "long_name": f"{name.upper()} of the two clusterings"})
        out[f"{name}_null_mean"] = ((), float(null.mean()) if n_perm else np.nan, {"units": "1"})
        out[f"{name}_null_sd"] = ((), float(null.std()) if n_perm else np.nan, {"units": "1"})
        out[f"{name}_p"] = (
            (),
            _p_value(null, obs) if n_perm else np.nan,
            {"units": "1", "long_name": "permutation p-value (one-sided)"},
        )
    return xr.Dataset(out, attrs={"n_perm": n_perm, "seed": seed})


# --------------------------------------------------------------------- Mantel test
def functional_similarity(activity: xr.Dataset) -> xr.DataArray:
    """Pearson correlation between neurons' spike counts across samples.

    Parameters
    ----------
    activity : xarray.Dataset
        From :func:`~spatialsnn.analysis.record` (``count`` (sample, neuron)).

    Returns
    -------
    xarray.DataArray of shape (post, pre)
        Dimensionless, in [-1, 1]; 0 for pairs involving a neuron with constant counts
        (e.g. silent), 1 on the diagonal.
    """
    c = np.asarray(activity["count"].transpose("sample", "neuron").values, dtype=np.float64)
    c = c - c.mean(0)
    sd = np.sqrt((c**2).sum(0))
    z = np.divide(c, sd, out=np.zeros_like(c), where=sd > 0)
    r = z.T @ z
    np.fill_diagonal(r, 1.0)
    idx = activity["neuron"].values
    return xr.DataArray(
        r,
        dims=("post", "pre"),
        coords={"post": idx, "pre": idx},
        attrs={"units": "1", "long_name": "count correlation across samples"},
    )


def mantel(
    x: Any, y: Any, *, n_perm: int = 1000, seed: int = 0, method: str = "spearman"
) -> xr.Dataset:
    """Mantel test: correlation between two square matrices over neuron pairs.

    The off-diagonal upper-triangle entries of ``(x + x.T) / 2`` and ``(y + y.T) / 2``
    are correlated; the null permutes the neuron labels of ``y`` (rows and columns
    together), which keeps each matrix's internal structure.

    Parameters
    ----------
    x, y : array-like of shape (neuron, neuron)
        E.g. distance (µm) and functional similarity.
    n_perm : int
        Number of permutations.
    seed : int
        Seed of the permutations.
    method : {"spearman", "pearson"}
        Correlation coefficient.

    Returns
    -------
    xarray.Dataset
        ``r``, ``null_mean``, ``null_sd`` and the two-sided p-value ``p``
        (``(1 + #{|r_null| >= |r|}) / (1 + n_perm)``).
    """
    if method not in ("spearman", "pearson"):
        raise ValueError(f"method must be 'spearman' or 'pearson', got {method!r}")
    xm, ym = np.asarray(_values(x), float), np.asarray(_values(y), float)
    xm, ym = (xm + xm.T) / 2, (ym + ym.T) / 2
    n = xm.shape[0]
    iu = np.triu_indices(n, 1)

    def prep(v: np.ndarray) -> np.ndarray:
        v = rankdata(v) if method == "spearman" else v
        v = v - v.mean()
        s = np.sqrt((v**2).sum())
        return v / s if s > 0 else v

    xv = prep(xm[iu])
    r = float(xv @ prep(ym[iu]))
    rng = np.random.default_rng(seed)
    null = np.empty(n_perm)
    for k in range(n_perm):
        p = rng.permutation(n)
        null[k] = xv @ prep(ym[np.ix_(p, p)][iu])
    p_value = float((1 + np.sum(np.abs(null) >= abs(r) - 1e-12)) / (1 + n_perm))
    return xr.Dataset(
        {
            "r": ((), r, {"units": "1", "long_name": f"{method} correlation over pairs"}),
            "null_mean": ((), float(null.mean()) if n_perm else np.nan, {"units": "1"}),
            "null_sd": ((), float(null.std()) if n_perm else np.nan, {"units": "1"}),
            "p": ((), p_value if n_perm else np.nan, {"units": "1", "long_name": "two-sided p"}),
        },
        attrs={"n_perm": n_perm, "seed": seed, "method": method},
    )
