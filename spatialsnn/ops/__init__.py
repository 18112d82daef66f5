"""Delayed spike propagation: the differentiable operators of the twin.

Three operators, each with interchangeable backends:

* :func:`delayed_linear` — a feed-forward projection in which every synapse has
  its own (real-valued, differentiable) delay.
* :func:`lif_recurrent` — a recurrent LIF population whose recurrent synapses have
  per-synapse delays, stepped in Brian2's order (docs/model.md).
* :func:`spike_linear` — the input projection ``x @ weight.T`` of spike counts, event-driven
  (cost proportional to the input spikes) on the compiled backends when the input is sparse.

Backends
--------
``"autograd"``
    Plain PyTorch differentiated by autograd: the oracle. Memory grows as
    time·batch·neurons², so small problems only.
``"reference"``
    Vectorised PyTorch with hand-written backward passes; memory
    O(time·batch·neurons). Runs on any device and dtype.
``"cpu"``
    Compiled C++/OpenMP kernels (float32/float64, CPU tensors), built on first use.
``"cuda"``
    Compiled CUDA kernels (float32/float64, CUDA tensors), built on first use.
``"auto"``
    The fastest usable backend for the tensors at hand: ``"cuda"`` for CUDA tensors,
    ``"cpu"`` for CPU tensors, if the kernel builds; otherwise ``"reference"``, with one
    :class:`KernelUnavailableWarning` per kernel and process. Other dtypes than
    float32/float64 and other devices use ``"reference"``. The environment variable
    ``SPATIALSNN_BACKEND`` (e.g. ``reference``) overrides ``"auto"``.

The compiled backends are registered as ``torch.ops.spatialsnn.*`` custom operators
(usable under :func:`torch.compile`); see ``docs/kernels.md`` and ``spatialsnn doctor``.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Literal

import torch
from torch import Tensor

from spatialsnn.ops import _autograd, _reference
from spatialsnn.ops._build import KernelBuildError, KernelUnavailableWarning
from spatialsnn.ops._common import check_mode, check_projection
from spatialsnn.ops._compiled import CPU as _cpu
from spatialsnn.ops._compiled import CUDA as _cuda

__all__ = [
    "BACKENDS",
    "EVENT_DRIVEN_MAX_DENSITY",
    "KernelBuildError",
    "KernelUnavailableWarning",
    "available_backends",
    "delayed_linear",
    "lif_recurrent",
    "resolve_backend",
    "spike_linear",
]

Backend = Literal["auto", "autograd", "reference", "cpu", "cuda"]
#: Names accepted as ``backend`` (see "Backends" above).
BACKENDS = ("auto", "autograd", "reference", "cpu", "cuda")
_IMPLS = {"autograd": _autograd, "reference": _reference, "cpu": _cpu, "cuda": _cuda}
#: Kernels for which the fallback warning was already emitted in this process.
_WARNED: set[str] = set()
_KERNEL_DTYPES = (torch.float32, torch.float64)
#: Largest fraction of non-zero input entries at which :func:`spike_linear` runs event-driven
#: on a compiled backend; denser inputs take a dense matrix product (docs/kernels.md).
EVENT_DRIVEN_MAX_DENSITY = 0.05


def available_backends() -> list[str]:
    """Names of the concrete backends usable in this process.

    Checking ``"cpu"`` builds the CPU kernel if it is not in the cache yet; ``"cuda"`` is
    only checked (and built) when a GPU is visible.
    """
    names = ["autograd", "reference"]
    if _cpu.status()[0]:
        names.append("cpu")
    if torch.cuda.is_available() and _cuda.status()[0]:
        names.append("cuda")
    return names


def resolve_backend(
    backend: str = "auto",
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> str:
    """Map a backend request to a concrete backend name.

    Parameters
    ----------
    backend : {"auto", "autograd", "reference", "cpu", "cuda"}
        ``"auto"`` honours the ``SPATIALSNN_BACKEND`` environment variable, then picks
        the fastest usable backend for ``device`` and ``dtype``.
    device : torch.device or str, optional
        Device of the tensors (default: CPU).
    dtype : torch.dtype, optional
        Their dtype (default: one the kernels support).

    Returns
    -------
    str
        A key of :data:`BACKENDS` other than ``"auto"``.
    """
    if backend == "auto":
        forced = os.environ.get("SPATIALSNN_BACKEND", "").strip()
        if forced and forced != "auto":
            if forced not in _IMPLS:
                raise ValueError(
                    f"SPATIALSNN_BACKEND={forced!r} is not a backend; choose one of {tuple(_IMPLS)}"
                )
            return forced
        return _auto(torch.device(device) if device is not None else torch.device("cpu"), dtype)
    if backend not in _IMPLS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    return backend


def _auto(device: torch.device, dtype: torch.dtype | None) -> str:
    if device.type not in ("cpu", "cuda") or (dtype is not None and dtype not in _KERNEL_DTYPES):
        return "reference"
    impl = _IMPLS[device.type]
    ok, why = impl.status()
    if ok:
        return device.type
    if device.type not in _WARNED:
        _WARNED.add(device.type)
        warnings.warn(
            f"spatialsnn: the {device.type} kernel is unavailable, using the slower "
            f"'reference' backend instead. {why}",
            KernelUnavailableWarning,
            stacklevel=4,
        )
    return "reference"


def _clamp(delay: Tensor, n_steps: int, max_delay: float | None) -> tuple[Tensor, int]:
    """Clamp delays to ``[0, min(max_delay, T)]``; return them and the buffer depth."""
    if max_delay is None:
        max_delay = float(delay.detach().max()) if delay.numel() else 0.0
    if not max_delay >= 0:
        raise ValueError(f"max_delay must be >= 0 steps, got {max_delay}")
    limit = min(float(max_delay), float(n_steps))  # later arrivals fall outside the sequence
    return delay.clamp(0, limit), math.ceil(limit)


def delayed_linear(
    x: Tensor,
    weight: Tensor,
    delay: Tensor,
    mode: str = "interpolate",
    *,
    max_delay: float | None = None,
    backend: Backend = "auto",
) -> Tensor:
    r"""Feed-forward projection with a real-valued delay per synapse.

    .. math:: y_{b,t,i} = \sum_j w_{ij}\, x_{b,\,t - d_{ij},\,j}

    where ``x`` before time 0 is zero and the delayed read is resolved by ``mode``.

    Parameters
    ----------
    x : Tensor of shape (batch, time, n_pre)
        Presynaptic signal per time step (e.g. spike counts).
    weight : Tensor of shape (n_post, n_pre)
        Synaptic weights.
    delay : Tensor of shape (n_post, n_pre)
        Delays in time steps (real-valued, ``>= 0``), clamped to ``[0, max_delay]``.
    mode : {"interpolate", "round"}
        ``"round"`` reads ``x`` at ``t - floor(d + 0.5)`` (Brian2's rounding) with a
        straight-through gradient w.r.t. ``d`` (the slope of the interpolation);
        ``"interpolate"`` reads ``(1-f) x[t-floor(d)] + f x[t-floor(d)-1]``, ``f`` the
        fractional part, with its exact gradient.
    max_delay : float, optional
        Clamp in steps; defaults to the largest delay.
    backend : {"auto", "autograd", "reference", "cpu", "cuda"}
        Implementation, see the module docstring.

    Returns
    -------
    Tensor of shape (batch, time, n_post)
        Differentiable w.r.t. ``x``, ``weight`` and ``delay``.
    """
    check_mode(mode)
    check_projection(x, weight, delay, what="delayed_linear")
    delay, kmax = _clamp(delay, x.shape[1], max_delay)
    impl = _IMPLS[resolve_backend(backend, x.device, x.dtype)]
    return impl.delayed_linear(x, weight, delay, mode, kmax)


def lif_recurrent(
    drive: Tensor,
    weight: Tensor,
    delay: Tensor,
    *,
    alpha: float,
    beta: float,
    gamma: float,
    threshold: float = 1.0,
    slope: float = 25.0,
    mode: str = "interpolate",
    max_delay: float | None = None,
    refractory: int = 0,
    backend: Backend = "auto",
) -> Tensor:
    """Recurrent LIF population with per-synapse delayed recurrence.

    Steps, for ``t = 0 .. T-1`` (Brian2's order, docs/model.md)::

        u = alpha*V + gamma*I                     # 1. exact state update
        z[t] = [u >= threshold]                   # 2. threshold (surrogate gradient)
        I = beta*I + drive[t] + sum_j w_ij z[t - d_ij, j]   # 3. arrivals
        V = u * (1 - z[t])                        # 4. reset to 0

    A delay of 0 arrives in the same step's arrival slot; the reset is not
    differentiated (the common "detached reset"). With ``refractory = r`` steps, a
    neuron that spiked at step ``s`` is refractory in steps ``s+1 .. s+r-1``: there
    ``u = V`` (the membrane is held at the reset value, ``I`` decays and receives
    arrivals as usual) and ``z = 0`` (no surrogate gradient). This is Brian2's
    ``refractory=`` with ``(unless refractory)`` on ``v``; ``r = 0`` and ``r = 1`` are
    the same as no refractory period.

    Parameters
    ----------
    drive : Tensor of shape (batch, time, n)
        Synaptic current jumps from other projections (e.g. ``input @ w_in.T``).
    weight : Tensor of shape (n, n)
        Recurrent weights ``[post, pre]``.
    delay : Tensor of shape (n, n)
        Recurrent delays in time steps ``[post, pre]``.
    alpha, beta, gamma : float
        Propagator coefficients, see :func:`spatialsnn.dynamics.lif_coefficients`.
    threshold : float
        Firing threshold (dimensionless).
    slope : float
        SuperSpike surrogate slope.
    mode : {"interpolate", "round"}
        Delay mode, as in :func:`delayed_linear`.
    max_delay : float, optional
        Clamp in steps; defaults to the largest delay.
    refractory : int
        Refractory period in whole steps (Brian2's ``timestep(refractory, dt)``), ``>= 0``.
    backend : {"auto", "autograd", "reference", "cpu", "cuda"}
        Implementation, see the module docstring.

    Returns
    -------
    Tensor of shape (batch, time, n)
        Spikes (0/1, dtype of ``drive``), differentiable through the surrogate
        w.r.t. ``drive``, ``weight`` and ``delay``.
    """
    check_mode(mode)
    if drive.ndim != 3 or weight.shape != (drive.shape[2], drive.shape[2]):
        raise ValueError(
            f"lif_recurrent: drive must be [batch, time, n] and weight [n, n], got "
            f"{tuple(drive.shape)} and {tuple(weight.shape)}"
        )
    check_projection(drive, weight, delay, what="lif_recurrent")
    if isinstance(refractory, bool) or int(refractory) != refractory or refractory < 0:
        raise ValueError(f"lif_recurrent: refractory must be a whole number of steps >= 0, got "
                         f"{refractory!r}")  # fmt: skip
    delay, kmax = _clamp(delay, drive.shape[1], max_delay)
    impl = _IMPLS[resolve_backend(backend, drive.device, drive.dtype)]
    return impl.lif_recurrent(
        drive,
        weight,
        delay,
        alpha=float(alpha),
        beta=float(beta),
        gamma=float(gamma),
        threshold=float(threshold),
        slope=float(slope),
        mode=mode,
        kmax=kmax,
        refractory=int(refractory),
    )


def _density(x: Tensor, rows: int = 4096) -> float:
    """Fraction of non-zero entries of ``x``, from at most ``rows`` evenly spaced time steps.

    A strided sample instead of a full scan: deciding between the two paths must cost far
    less than either (a full count of SHD's batch took 0.1 s, as long as the projection).
    """
    flat = x.reshape(-1, x.shape[-1]) if x.ndim else x.reshape(1, 1)
    sample = flat[:: max(1, flat.shape[0] // rows)]
    return int(torch.count_nonzero(sample)) / max(sample.numel(), 1)


def spike_linear(
    x: Tensor,
    weight: Tensor,
    *,
    backend: Backend = "auto",
    event_driven: bool | None = None,
) -> Tensor:
    r"""Input projection of spike counts, event-driven where the input is sparse.

    .. math:: y_{b,t,i} = \sum_j w_{ij}\, x_{b,t,j}

    On the compiled backends (``"cpu"``, ``"cuda"``) a sparse ``x`` is projected spike by
    spike: the forward pass and the weight gradient cost time proportional to the number
    of non-zero entries of ``x`` times ``n_out`` (plus one scan of ``x``), instead of
    ``batch·time·n_in·n_out``. Which path runs is decided per call from the density of
    ``x`` (:data:`EVENT_DRIVEN_MAX_DENSITY`); both compute the same sums, in a different
    order. The density is estimated from at most 4096 evenly spaced time steps of ``x``. The
    other backends always use ``x @ weight.T``.

    Parameters
    ----------
    x : Tensor of shape (batch, time, n_in)
        Input per time step (spike counts): uint8, or any real dtype (converted to the
        weight's). uint8 counts are read as they are, without a floating-point copy.
    weight : Tensor of shape (n_out, n_in)
        Weights (float32 or float64 for the compiled backends).
    backend : {"auto", "autograd", "reference", "cpu", "cuda"}
        Implementation, see the module docstring.
    event_driven : bool, optional
        ``None``: event-driven on a compiled backend if at most
        :data:`EVENT_DRIVEN_MAX_DENSITY` of ``x`` is non-zero; ``True``: always (compiled
        backends only); ``False``: never.

    Returns
    -------
    Tensor of shape (batch, time, n_out)
        In the weight's dtype; differentiable w.r.t. ``weight`` (and a floating ``x``).
    """
    if x.ndim != 3 or weight.ndim != 2 or weight.shape[1] != x.shape[2]:
        raise ValueError(
            f"spike_linear: input must be [batch, time, n_in] and weight [n_out, n_in], got "
            f"{tuple(x.shape)} and {tuple(weight.shape)}"
        )
    if not weight.dtype.is_floating_point:
        raise TypeError(f"spike_linear: weight must be floating point, got {weight.dtype}")
    name = resolve_backend(backend, weight.device, weight.dtype)
    if name in ("cpu", "cuda") and x.device == weight.device:
        if x.dtype not in (torch.uint8, weight.dtype):
            x = x.to(weight.dtype)
        if event_driven is None:
            event_driven = _density(x) <= EVENT_DRIVEN_MAX_DENSITY
        if event_driven:
            return _IMPLS[name].spike_linear(x, weight)
    elif event_driven:
        raise ValueError(
            f"spike_linear: event_driven=True needs a compiled backend ('cpu' or 'cuda') for "
            f"the tensors at hand, got backend {name!r}"
        )
    return x.to(weight.dtype) @ weight.T
