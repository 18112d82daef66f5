"""Derived variables of a model file, recomputed from their source of truth.

A model file stores the recurrent delays rounded to time steps
(``delay_steps_hidden_hidden``) for inspection only; the delays spatialsnn simulates
always come from the positions and velocity (or the free delays), ``dt`` and
``max_delay`` (docs/format.md). When the stored steps disagree with those, because the
file was edited (``dt`` changed, positions moved) or damaged, readers say so with a
:class:`DerivedVariableWarning` naming the variable, and go on with the recomputed steps.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["DerivedVariableWarning", "check_derived", "implied_delay_steps"]


def _real(dtype: np.dtype) -> bool:
    """Integer or floating point (not bool, complex, string or object)."""
    return np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)


class DerivedVariableWarning(UserWarning):
    """A model file's stored derived values disagree with what its source of truth implies.

    Emitted when ``delay_steps_hidden_hidden`` (the recurrent delays rounded to steps,
    stored for inspection) differs from the steps the file's positions (or free delays),
    velocity, ``dt`` and ``max_delay`` give: the file was edited (for example ``dt``
    changed) or damaged. Readers never use the stored steps, so the warning says which
    numbers a reader of the raw file would see differ from what spatialsnn simulates.
    """


def implied_delay_steps(ds: xr.Dataset, cfg: dict[str, Any]) -> tuple[np.ndarray, str]:
    """Recurrent delays in steps of ``dt`` before rounding, from the source of truth.

    Parameters
    ----------
    ds : xarray.Dataset
        A model Dataset that passed :func:`spatialsnn.io.validate_dataset`.
    cfg : dict
        What :func:`spatialsnn.io.validate_dataset` returned.

    Returns
    -------
    steps : numpy.ndarray of float64, shape (n_hidden, n_hidden)
        ``delay / dt`` per synapse, [pre, post], not rounded and not clamped.
    source : str
        What the delays were computed from, in words (for messages).
    """
    n = int(cfg["n_hidden"])
    kind = cfg.get("delays", "spatial")
    if kind == "free":
        delay = np.maximum(ds["delay_hidden_hidden"].values.astype(np.float64), 0.0)
        what = "the free delays (delay_hidden_hidden) and dt"
    elif kind == "none":
        delay = np.zeros((n, n))
        what = "the condition 'none' (every delay 0)"
    else:
        p = ds["position_hidden"].values.astype(np.float64)
        distance = np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1))
        delay = distance / cfg["velocity"]
        what = "the positions, velocity and dt"
    return delay / cfg["dt"], what


def check_derived(ds: xr.Dataset, cfg: dict[str, Any], source: Any = "<dataset>") -> str | None:
    """Compare the stored delay steps with those the source of truth implies; warn if they differ.

    ``delay_steps_hidden_hidden`` (optional, [pre, post]) holds the recurrent delays
    rounded to steps when the file was written. They are recomputed here in float64 from
    the positions and velocity (free delays; none), ``dt`` and ``max_delay``, rounded as
    Brian2 rounds (``floor(d/dt + 0.5)``, clamped). Synapses whose delay lies within
    float32 rounding error of a half step are not counted.

    Parameters
    ----------
    ds : xarray.Dataset
        A model Dataset that passed :func:`spatialsnn.io.validate_dataset`.
    cfg : dict
        What :func:`spatialsnn.io.validate_dataset` returned.
    source : str or path
        Named in the message.

    Returns
    -------
    str or None
        The warning's message, or None when the stored steps agree or are absent.

    Warns
    -----
    DerivedVariableWarning
        Naming the variable, how many synapses differ and by how much. Readers ignore
        the stored steps whatever they hold.
    """
    name = "delay_steps_hidden_hidden"
    if name not in ds.variables:
        return None
    n = int(cfg["n_hidden"])
    var = ds[name]
    implied, what = implied_delay_steps(ds, cfg)
    kmax = math.floor(cfg["max_delay"] / cfg["dt"] + 0.5)
    if var.dims != ("hidden_pre", "hidden_post") or var.shape != (n, n) or not _real(var.dtype):
        problem = (
            f"has dims {var.dims}, shape {var.shape} and dtype {var.dtype}, not "
            f"('hidden_pre', 'hidden_post') of {n} x {n} numbers"
        )
    elif not np.isfinite(var.values).all():
        problem = "contains NaN or infinite values"
    else:
        stored = var.values.astype(np.float64)
        steps = np.clip(np.floor(implied + 0.5), 0, kmax)
        half = implied + 0.5
        tie = np.abs(half - np.round(half)) <= 1e-5 + 1e-6 * half  # float32 vs float64
        differs = (stored != steps) & ~(tie & (np.abs(stored - steps) <= 1))
        if not differs.any():
            return None
        largest = float(np.abs(stored - steps)[differs].max())
        problem = (
            f"disagrees with the delays implied by {what} in {int(differs.sum())} of "
            f"{n * n} synapses (by up to {largest:g} steps)"
        )
    message = (
        f"{source}: the stored derived variable {name!r} {problem}; it is ignored: "
        f"spatialsnn computes the delays from {what}"
    )
    warnings.warn(message, DerivedVariableWarning, stacklevel=3)
    return message
