"""Input-channel → preferred-position maps and how well weights predict position.

The paper's recipe (d.7): the preferred position of input channel ``c`` is the
``|W_in|``-weighted mean of the hidden positions, centred; the activity-based variant
uses the reverse spike-triggered average instead of ``|W_in|``. The regression (d.8)
predicts each hidden neuron's position from its input weights with ridge regression;
unlike the paper (in-sample R²) it is scored on held-out folds here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

__all__ = ["position_r2", "preferred_positions", "ridge_fit", "ridge_predict"]


def _values(a: Any) -> np.ndarray:
    if isinstance(a, xr.DataArray):
        return np.asarray(a.values, dtype=np.float64)
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy().astype(np.float64)
    return np.asarray(a, dtype=np.float64)


def preferred_positions(weight: Any, positions: Any, *, center: bool = True) -> xr.DataArray:
    """Preferred position of every input channel.

    Parameters
    ----------
    weight : array-like of shape (neuron, channel)
        Input weights ``W_in`` (``weight_in`` of :func:`~spatialsnn.analysis.connectivity`)
        or a non-negative activity measure such as ``rsta`` transposed; magnitudes are used.
    positions : array-like of shape (neuron, space)
        Hidden positions, µm.
    center : bool
        Subtract the centroid of the hidden positions.

    Returns
    -------
    xarray.DataArray of shape (channel, space)
        µm; NaN for a channel whose weights are all zero.
    """
    w = np.abs(_values(weight))
    p = _values(positions)
    if w.shape[0] != p.shape[0]:
        raise ValueError(f"weight has {w.shape[0]} neurons, positions {p.shape[0]}")
    if center:
        p = p - p.mean(0)
    total = w.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        pref = (w.T @ p) / total[:, None]
    space = (
        positions["space"].values
        if isinstance(positions, xr.DataArray)
        else list("xyzw"[: p.shape[1]])
    )
    return xr.DataArray(
        pref,
        dims=("channel", "space"),
        coords={"channel": np.arange(w.shape[1]), "space": space},
        attrs={"units": "um", "long_name": "preferred position of channel"},
    )


def ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression with an unpenalised intercept; returns ``(coef, intercept)``.

    Solved in the dual (``n_samples × n_samples``) when there are more features than
    samples.
    """
    xm, ym = x.mean(0), y.mean(0)
    xc, yc = x - xm, y - ym
    n, f = xc.shape
    if f > n:
        coef = xc.T @ np.linalg.solve(xc @ xc.T + alpha * np.eye(n), yc)
    else:
        coef = np.linalg.solve(xc.T @ xc + alpha * np.eye(f), xc.T @ yc)
    return coef, ym - xm @ coef


def ridge_predict(x: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Predictions of a :func:`ridge_fit` model."""
    return x @ coef + intercept


def _cv_r2(x: np.ndarray, y: np.ndarray, folds: list[np.ndarray], alpha: float) -> np.ndarray:
    pred = np.empty_like(y)
    for test in folds:
        train = np.setdiff1d(np.arange(len(y)), test)
        coef, b = ridge_fit(x[train], y[train], alpha)
        pred[test] = ridge_predict(x[test], coef, b)
    ss_res = ((y - pred) ** 2).sum(0)
    ss_tot = ((y - y.mean(0)) ** 2).sum(0)
    return 1.0 - np.divide(ss_res, ss_tot, out=np.full_like(ss_res, np.nan), where=ss_tot > 0)


def position_r2(
    weight: Any,
    positions: Any,
    *,
    n_folds: int = 5,
    alpha: float = 1.0,
    seed: int = 0,
    n_perm: int = 0,
) -> xr.Dataset:
    """Cross-validated R² of predicting hidden positions from input weights.

    Ridge regression (``alpha`` as in the paper's ``Ridge(alpha=1)``) of each
    coordinate on the neuron's input-weight vector; R² is computed from the pooled
    out-of-fold predictions, ``1 - SS_res / SS_tot`` per coordinate. It is ≤ 0 when
    the weights carry no information about position.

    Parameters
    ----------
    weight : array-like of shape (neuron, channel)
        Input weights.
    positions : array-like of shape (neuron, space)
        Positions, µm.
    n_folds : int
        Folds (a seeded random split of the neurons).
    alpha : float
        Ridge penalty.
    seed : int
        Seed of the fold split and of the permutations.
    n_perm : int
        If > 0, also refit with the positions shuffled across neurons this many times
        and report the null and a one-sided p-value.

    Returns
    -------
    xarray.Dataset
        ``r2`` (space), ``r2_mean`` and, with ``n_perm``, ``r2_null_mean`` and ``p``.
    """
    x, y = _values(weight), _values(positions)
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"weight has {n} neurons, positions {y.shape[0]}")
    n_folds = int(min(n_folds, n))
    if n_folds < 2:
        raise ValueError("need at least 2 folds (and 2 neurons)")
    rng = np.random.default_rng(seed)
    folds = np.array_split(rng.permutation(n), n_folds)
    r2 = _cv_r2(x, y, folds, alpha)
    space = (
        positions["space"].values
        if isinstance(positions, xr.DataArray)
        else list("xyzw"[: y.shape[1]])
    )
    out: dict[str, Any] = {
        "r2": ("space", r2, {"units": "1", "long_name": "cross-validated R^2 per coordinate"}),
        "r2_mean": ((), float(np.nanmean(r2)), {"units": "1"}),
    }
    if n_perm > 0:
        null = np.array(
            [np.nanmean(_cv_r2(x, y[rng.permutation(n)], folds, alpha)) for _ in range(n_perm)]
        )
        out["r2_null_mean"] = ((), float(null.mean()), {"units": "1"})
        p = float((1 + np.sum(null >= np.nanmean(r2))) / (1 + n_perm))
        out["p"] = ((), p, {"units": "1", "long_name": "permutation p (one-sided)"})
    return xr.Dataset(
        out, coords={"space": space}, attrs={"n_folds": n_folds, "alpha": alpha, "seed": seed}
    )
