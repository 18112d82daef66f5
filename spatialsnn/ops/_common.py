"""Shared helpers of the delay backends: validation and delay decomposition."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

MODES = ("round", "interpolate")


@dataclass
class DelaySplit:
    """A clamped delay in steps, split for the two delay modes.

    ``k0 = floor(d)``, ``frac = d - k0`` (the interpolation weight of slot
    ``k0 + 1``), ``kr = floor(d + 0.5)`` (Brian2's rounding). ``k0 + 1 <= kmax + 1``.
    """

    k0: Tensor
    frac: Tensor
    kr: Tensor


def split_delay(delay: Tensor) -> DelaySplit:
    """Split a (clamped, non-negative) delay in steps; no gradient flows through it."""
    d = delay.detach()
    k0 = torch.floor(d)
    return DelaySplit(k0=k0.long(), frac=d - k0, kr=torch.floor(d + 0.5).long())


def check_mode(mode: str) -> None:
    """Raise ``ValueError`` for an unknown delay mode."""
    if mode not in MODES:
        raise ValueError(f"delay mode must be one of {MODES}, got {mode!r}")


def check_projection(x: Tensor, weight: Tensor, delay: Tensor, *, what: str) -> None:
    """Check shapes of ``x [batch, time, n_pre]``, ``weight``/``delay [n_post, n_pre]``."""
    if x.ndim != 3:
        raise ValueError(f"{what}: input must be [batch, time, n_pre], got shape {tuple(x.shape)}")
    if weight.ndim != 2 or weight.shape[1] != x.shape[2]:
        raise ValueError(
            f"{what}: weight must be [n_post, n_pre={x.shape[2]}], got {tuple(weight.shape)}"
        )
    if delay.shape != weight.shape:
        raise ValueError(
            f"{what}: delay must have the weight's shape {tuple(weight.shape)}, "
            f"got {tuple(delay.shape)}"
        )
    if not (x.dtype == weight.dtype == delay.dtype) or not x.dtype.is_floating_point:
        raise TypeError(
            f"{what}: input, weight and delay must share one floating dtype, got "
            f"{x.dtype}, {weight.dtype}, {delay.dtype}"
        )
