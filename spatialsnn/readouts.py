"""Readouts: from the output membrane trace to class scores (docs/model.md).

The function :func:`readout` is also :func:`spatialsnn.readout`; the module is named in the
plural so that it never hides the function.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["READOUTS", "readout"]

READOUTS = ("exp_mean", "sum", "max", "last")


def readout(voltage: Tensor, kind: str = "exp_mean") -> Tensor:
    """Reduce the output-layer membrane over time.

    Parameters
    ----------
    voltage : Tensor of shape (batch, time, n_out)
        Membrane of the leaky-integrator output neurons (dimensionless), recorded
        right after each step's state update.
    kind : {"exp_mean", "sum", "max", "last"}
        ``exp_mean`` (the paper's default): ``(1/T) sum_t exp(-t/T) V(t)`` with ``t``
        and ``T`` in steps (the weighting is the same in ms); ``sum``, ``max``
        over time; ``last``, the final step.

    Returns
    -------
    Tensor of shape (batch, n_out)
        Logits.
    """
    if voltage.ndim != 3:
        raise ValueError(f"voltage must be [batch, time, n_out], got {tuple(voltage.shape)}")
    n_t = voltage.shape[1]
    if kind == "exp_mean":
        t = torch.arange(n_t, device=voltage.device, dtype=voltage.dtype)
        return (voltage * torch.exp(-t / n_t)[:, None]).sum(1) / n_t
    if kind == "sum":
        return voltage.sum(1)
    if kind == "max":
        return voltage.amax(1)
    if kind == "last":
        return voltage[:, -1]
    raise ValueError(f"readout must be one of {READOUTS}, got {kind!r}")
