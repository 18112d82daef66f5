"""The ``cpu`` and ``cuda`` backends: compiled kernels behind the torch operators.

``cpu``: C++/OpenMP kernels. Forward passes propagate only spikes (non-zero inputs)
through ring buffers of future arrivals; the recurrent backward keeps a ring buffer of the
adjoint with the batch as the SIMD dimension. Memory is O(time·batch·neurons) plus the
ring buffers.

``cuda``: CUDA kernels, one thread per output element ("owner computes"), so no
floating-point atomics and deterministic results. The recurrent forward scatters each
step's spikes (a bitmask) into a ring buffer of future arrivals; the backward keeps the
adjoint of the synaptic current for all steps, batch-fastest for coalesced gathers, and
sums weight and delay gradients over the spikes only.

Both are built on first use (:mod:`spatialsnn.ops._build`) and registered as
``torch.ops.spatialsnn.*`` (:mod:`spatialsnn.ops._library`); the two backends differ only
in the device they accept and the extension they load. Design: ``docs/kernels.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import torch
from torch import Tensor

from spatialsnn.ops import _build, _library

__all__ = ["CPU", "CUDA", "CompiledBackend"]


class CompiledBackend:
    """One compiled backend: the device it serves and how to build its extension.

    Parameters
    ----------
    device : {"cpu", "cuda"}
        Device type of the tensors it accepts.
    status : callable
        ``() -> (usable, why)``, compiling the extension if needed.
    load : callable
        ``() -> module``, the compiled extension; raises ``KernelBuildError`` (saying
        what to do) if it cannot be built.
    """

    def __init__(
        self,
        device: str,
        status: Callable[[], tuple[bool, str]],
        load: Callable[[], ModuleType],
    ) -> None:
        self.device = device
        self._status = status
        self._load = load

    def __repr__(self) -> str:
        return f"CompiledBackend({self.device!r})"

    def status(self) -> tuple[bool, str]:
        """Whether this backend is usable (compiling the extension if needed), and why."""
        return self._status()

    def check(self, t: Tensor, what: str) -> None:
        """Raise unless ``t`` is on this backend's device and the extension can be loaded."""
        if t.device.type != self.device:
            raise ValueError(
                f"{what}: backend {self.device!r} needs {self.device.upper()} tensors, got "
                f"{t.device}; use backend='auto' to pick the kernel of the tensors' device"
            )
        if t.dtype not in (torch.float32, torch.float64):
            raise TypeError(
                f"{what}: backend {self.device!r} supports float32 and float64, got dtype "
                f"{t.dtype}; use backend='reference' (or 'auto') for other dtypes"
            )
        self._load()

    def delayed_linear(
        self, x: Tensor, weight: Tensor, delay: Tensor, mode: str, kmax: int
    ) -> Tensor:
        """Compiled ``delayed_linear``; see :func:`spatialsnn.ops.delayed_linear`."""
        self.check(x, "delayed_linear")
        return _library.delayed_linear(x, weight, delay, mode, kmax)

    def spike_linear(self, x: Tensor, weight: Tensor) -> Tensor:
        """Compiled event-driven ``x @ weight.T``; see :func:`spatialsnn.ops.spike_linear`."""
        self.check(weight, "spike_linear")
        return _library.spike_linear(x, weight)

    def lif_recurrent(
        self,
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
        refractory: int = 0,
    ) -> Tensor:
        """Compiled recurrent LIF layer; see :func:`spatialsnn.ops.lif_recurrent`."""
        self.check(drive, "lif_recurrent")
        z, _ = _library.lif_recurrent(
            drive, weight, delay, alpha, beta, gamma, threshold, slope, mode, kmax, refractory
        )
        return z


#: The C++/OpenMP backend for CPU tensors.
CPU = CompiledBackend("cpu", _build.cpu_status, _build.load_cpu)
#: The CUDA backend for GPU tensors.
CUDA = CompiledBackend("cuda", _build.cuda_status, _build.load_cuda)
