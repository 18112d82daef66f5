"""The ``cpu`` backend: compiled C++/OpenMP kernels for CPU tensors.

Forward passes propagate only spikes (non-zero inputs) through ring buffers of future
arrivals; the recurrent backward keeps a ring buffer of the adjoint with the batch as the
SIMD dimension. Memory is O(time·batch·neurons) plus the ring buffers. Built on first use
(:mod:`spatialsnn.ops._build`), registered as ``torch.ops.spatialsnn.*``
(:mod:`spatialsnn.ops._library`). Design: ``docs/kernels.md``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spatialsnn.ops import _build, _library

__all__ = ["DEVICE", "delayed_linear", "lif_recurrent", "status"]

#: Device type of the tensors this backend accepts.
DEVICE = "cpu"


def status() -> tuple[bool, str]:
    """Whether this backend is usable (compiling the extension if needed), and why."""
    return _build.cpu_status()


def check(t: Tensor, what: str) -> None:
    """Raise unless ``t`` is on this backend's device and the extension can be loaded."""
    if t.device.type != DEVICE:
        raise ValueError(
            f"{what}: backend {DEVICE!r} needs {DEVICE.upper()} tensors, got {t.device}; "
            "use backend='auto' to pick the kernel of the tensors' device"
        )
    if t.dtype not in (torch.float32, torch.float64):
        raise TypeError(
            f"{what}: backend {DEVICE!r} supports float32 and float64, got dtype {t.dtype}; "
            "use backend='reference' (or 'auto') for other dtypes"
        )
    _build.load_cpu()  # raises KernelBuildError, saying what to do, if it cannot be built


def delayed_linear(x: Tensor, weight: Tensor, delay: Tensor, mode: str, kmax: int) -> Tensor:
    """Compiled ``delayed_linear``; see :func:`spatialsnn.ops.delayed_linear`."""
    check(x, "delayed_linear")
    return _library.delayed_linear(x, weight, delay, mode, kmax)


def lif_recurrent(
    drive: Tensor,
    weight: Tensor,
    delay: Tensor,
    *,
    alpha: float,
    beta: float,
    gamma: float,
    threshold: float,
    slope: float,
    mode: str,
    kmax: int,
) -> Tensor:
    """Compiled recurrent LIF layer; see :func:`spatialsnn.ops.lif_recurrent`."""
    check(drive, "lif_recurrent")
    z, _ = _library.lif_recurrent(
        drive, weight, delay, alpha, beta, gamma, threshold, slope, mode, kmax
    )
    return z
