"""Pruning curves: zero the longest or weakest recurrent synapses and re-evaluate the twin."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr

__all__ = ["CRITERIA", "accuracy", "prune", "prune_mask", "pruning_curve"]

CRITERIA = ("length", "magnitude")


def prune_mask(weight: Any, length: Any, fraction: float, by: str) -> np.ndarray:
    """Which recurrent synapses to remove.

    Parameters
    ----------
    weight, length : array-like of shape (post, pre)
        Weights and synapse lengths (µm).
    fraction : float
        In [0, 1]: the fraction of all ``post × pre`` entries to remove
        (``round(fraction · N²)``).
    by : {"length", "magnitude"}
        Remove the longest synapses, or those of smallest ``|w|``. Ties are broken by
        flat index (stable sort), so the result is deterministic.

    Returns
    -------
    numpy.ndarray of bool, shape (post, pre)
        True where the synapse is removed.
    """
    if by not in CRITERIA:
        raise ValueError(f"by must be one of {CRITERIA}, got {by!r}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    w = np.asarray(weight.detach().cpu() if hasattr(weight, "detach") else weight, np.float64)
    key = -np.asarray(length, np.float64).ravel() if by == "length" else np.abs(w).ravel()
    n_remove = int(round(fraction * w.size))
    mask = np.zeros(w.size, dtype=bool)
    mask[np.argsort(key, kind="stable")[:n_remove]] = True
    return mask.reshape(w.shape)


def prune(model, fraction: float, by: str = "magnitude"):
    """A copy of ``model`` with a fraction of its recurrent synapses set to zero.

    Only ``w_rec`` changes (as in the paper). Lengths are those of
    :func:`~spatialsnn.analysis.network.synapse_length`.

    Returns
    -------
    SpatialSNN
        A deep copy; ``model`` is untouched.
    """
    from spatialsnn.analysis.network import synapse_length

    pruned = copy.deepcopy(model)
    mask = prune_mask(model.w_rec, synapse_length(model).cpu().numpy(), fraction, by)
    with torch.no_grad():
        pruned.w_rec[torch.from_numpy(mask)] = 0.0
    return pruned


def accuracy(model, data: Any, *, batch_size: int = 128, max_samples: int | None = None) -> float:
    """Fraction of samples classified correctly (eval mode, no gradients)."""
    from spatialsnn.analysis.record import as_tensors

    x_all, y_all, _ = as_tensors(data, max_samples)
    was_training = model.training
    model.eval()
    correct = 0
    try:
        with torch.no_grad():
            for start in range(0, len(y_all), batch_size):
                x = x_all[start : start + batch_size].to(model.w_in.dtype)
                logits = model(x).logits
                correct += int((logits.argmax(1) == y_all[start : start + batch_size]).sum())
    finally:
        model.train(was_training)
    return correct / max(1, len(y_all))


def pruning_curve(
    model,
    data: Any,
    *,
    fractions: Sequence[float] = (0.0, 0.5, 0.9),
    by: Sequence[str] = CRITERIA,
    batch_size: int = 128,
    max_samples: int | None = None,
) -> xr.Dataset:
    """Accuracy of the twin after pruning each fraction of recurrent synapses.

    Parameters
    ----------
    model : SpatialSNN
        The network (not modified).
    data : SpikeDataset or (x, y)
        Evaluation data.
    fractions : sequence of float
        Fractions of the ``N²`` recurrent entries to remove.
    by : sequence of {"length", "magnitude"}
        Criteria.
    batch_size, max_samples
        See :func:`accuracy`.

    Returns
    -------
    xarray.Dataset
        ``accuracy`` and ``weight_removed`` (fraction of ``Σ|w|`` removed), both
        (criterion, fraction). Fraction 0 is evaluated once and shared.
    """
    from spatialsnn.analysis.network import synapse_length

    fractions = [float(f) for f in fractions]
    length = synapse_length(model).cpu().numpy()
    w = model.w_rec.detach().cpu().numpy().astype(np.float64)
    total = np.abs(w).sum()
    acc = np.empty((len(by), len(fractions)))
    removed = np.empty_like(acc)
    base = None
    for i, criterion in enumerate(by):
        for j, f in enumerate(fractions):
            mask = prune_mask(w, length, f, criterion)
            removed[i, j] = np.abs(w[mask]).sum() / total if total > 0 else 0.0
            if not mask.any():
                if base is None:
                    base = accuracy(model, data, batch_size=batch_size, max_samples=max_samples)
                acc[i, j] = base
            else:
                acc[i, j] = accuracy(
                    prune(model, f, criterion), data, batch_size=batch_size, max_samples=max_samples
                )
    return xr.Dataset(
        {
            "accuracy": (("criterion", "fraction"), acc, {"units": "1"}),
            "weight_removed": (
                ("criterion", "fraction"),
                removed,
                {"units": "1", "long_name": "fraction of sum |w| removed"},
            ),
        },
        coords={"criterion": list(by), "fraction": ("fraction", fractions, {"units": "1"})},
    )
