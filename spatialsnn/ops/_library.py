"""The compiled kernels registered as torch operators (``torch.ops.spatialsnn.*``).

Each operator is a :func:`torch.library.custom_op` with a fake (meta) implementation for
:func:`torch.compile` and a registered autograd formula whose backward is itself an
operator, so tracing sees through the whole training step. One implementation serves
CPU and CUDA tensors: it hands the (contiguous) tensors to the extension of their device,
built on first use by :mod:`spatialsnn.ops._build`.

Operators
---------
``spatialsnn::delayed_linear(x, weight, delay, mode, kmax) -> y``
``spatialsnn::delayed_linear_grad_input(grad, weight, delay, mode, kmax) -> grad_x``
``spatialsnn::delayed_linear_grad_params(grad, x, weight, delay, mode, kmax) -> (grad_w, grad_d)``
``spatialsnn::lif_recurrent(drive, weight, delay, alpha, beta, gamma, threshold, slope, mode,
kmax, refractory) -> (z, u)``
``spatialsnn::lif_recurrent_backward(grad_z, z, u, weight, delay, alpha, beta, gamma,
threshold, slope, mode, kmax, refractory) -> (grad_drive, grad_w, grad_d)``
``spatialsnn::spike_linear(x, weight) -> y``
``spatialsnn::spike_linear_grad_weight(grad, x) -> grad_w``

``refractory`` is the refractory period in whole steps (docs/model.md); the backward
recomputes which steps were refractory from ``z``.

``delay`` must already be clamped to ``[0, kmax]`` (the public functions in
:mod:`spatialsnn.ops` do this, differentiably); the kernels clamp again for memory safety.
``u`` is the membrane potential after the state update, kept for the backward pass; it is
not differentiable. Double backward is not supported.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import Tensor

from spatialsnn.ops import _build

__all__ = [
    "delayed_linear",
    "delayed_linear_grad_input",
    "delayed_linear_grad_params",
    "lif_recurrent",
    "lif_recurrent_backward",
    "spike_linear",
    "spike_linear_grad_weight",
]

_DEVICES = ("cpu", "cuda")


def _kernels(device: torch.device) -> ModuleType:
    """The compiled extension for tensors on ``device`` (tests may substitute it)."""
    if device.type == "cpu":
        return _build.load_cpu()
    if device.type == "cuda":
        return _build.load_cuda()
    raise NotImplementedError(f"spatialsnn kernels run on CPU and CUDA, not {device.type}")


def _c(t: Tensor) -> Tensor:
    return t.contiguous()


# ----------------------------------------------------------------------------- delayed_linear


@torch.library.custom_op("spatialsnn::delayed_linear", mutates_args=(), device_types=_DEVICES)
def delayed_linear(x: Tensor, weight: Tensor, delay: Tensor, mode: str, kmax: int) -> Tensor:
    """``y[b, t, i] = sum_j w_ij x[b, t - d_ij, j]``; see :func:`spatialsnn.ops.delayed_linear`."""
    return _kernels(x.device).linear_forward(_c(x), _c(weight), _c(delay), mode, kmax)


@delayed_linear.register_fake
def _(x: Tensor, weight: Tensor, delay: Tensor, mode: str, kmax: int) -> Tensor:
    return x.new_empty((x.shape[0], x.shape[1], weight.shape[0]))


@torch.library.custom_op(
    "spatialsnn::delayed_linear_grad_input", mutates_args=(), device_types=_DEVICES
)
def delayed_linear_grad_input(
    grad: Tensor, weight: Tensor, delay: Tensor, mode: str, kmax: int
) -> Tensor:
    """Gradient of :func:`delayed_linear` w.r.t. ``x``."""
    return _kernels(grad.device).linear_grad_input(_c(grad), _c(weight), _c(delay), mode, kmax)


@delayed_linear_grad_input.register_fake
def _(grad: Tensor, weight: Tensor, delay: Tensor, mode: str, kmax: int) -> Tensor:
    return grad.new_empty((grad.shape[0], grad.shape[1], weight.shape[1]))


@torch.library.custom_op(
    "spatialsnn::delayed_linear_grad_params", mutates_args=(), device_types=_DEVICES
)
def delayed_linear_grad_params(
    grad: Tensor, x: Tensor, weight: Tensor, delay: Tensor, mode: str, kmax: int
) -> tuple[Tensor, Tensor]:
    """Gradients of :func:`delayed_linear` w.r.t. ``weight`` and ``delay``."""
    gw, gd = _kernels(x.device).linear_grad_params(
        _c(grad), _c(x), _c(weight), _c(delay), mode, kmax
    )
    return gw, gd


@delayed_linear_grad_params.register_fake
def _(
    grad: Tensor, x: Tensor, weight: Tensor, delay: Tensor, mode: str, kmax: int
) -> tuple[Tensor, Tensor]:
    return weight.new_empty(weight.shape), weight.new_empty(weight.shape)


def _delayed_linear_setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    x, weight, delay, mode, kmax = inputs
    ctx.save_for_backward(x, weight, delay)
    ctx.mode, ctx.kmax = mode, kmax


def _delayed_linear_backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
    x, weight, delay = ctx.saved_tensors
    need_x, need_w, need_d = ctx.needs_input_grad[:3]
    gx = gw = gd = None
    if need_x:
        gx = torch.ops.spatialsnn.delayed_linear_grad_input(grad, weight, delay, ctx.mode, ctx.kmax)
    if need_w or need_d:
        gw, gd = torch.ops.spatialsnn.delayed_linear_grad_params(
            grad, x, weight, delay, ctx.mode, ctx.kmax
        )
    return gx, gw if need_w else None, gd if need_d else None, None, None


delayed_linear.register_autograd(_delayed_linear_backward, setup_context=_delayed_linear_setup)


# ----------------------------------------------------------------------------- lif_recurrent


@torch.library.custom_op("spatialsnn::lif_recurrent", mutates_args=(), device_types=_DEVICES)
def lif_recurrent(
    drive: Tensor,
    weight: Tensor,
    delay: Tensor,
    alpha: float,
    beta: float,
    gamma: float,
    threshold: float,
    slope: float,
    mode: str,
    kmax: int,
    refractory: int,
) -> tuple[Tensor, Tensor]:
    """Spikes ``z`` and membrane ``u``; see :func:`spatialsnn.ops.lif_recurrent`."""
    z, u = _kernels(drive.device).lif_forward(
        _c(drive), _c(weight), _c(delay), alpha, beta, gamma, threshold, mode, kmax, refractory
    )
    return z, u


@lif_recurrent.register_fake
def _(
    drive: Tensor,
    weight: Tensor,
    delay: Tensor,
    alpha: float,
    beta: float,
    gamma: float,
    threshold: float,
    slope: float,
    mode: str,
    kmax: int,
    refractory: int,
) -> tuple[Tensor, Tensor]:
    return drive.new_empty(drive.shape), drive.new_empty(drive.shape)


@torch.library.custom_op(
    "spatialsnn::lif_recurrent_backward", mutates_args=(), device_types=_DEVICES
)
def lif_recurrent_backward(
    grad_z: Tensor,
    z: Tensor,
    u: Tensor,
    weight: Tensor,
    delay: Tensor,
    alpha: float,
    beta: float,
    gamma: float,
    threshold: float,
    slope: float,
    mode: str,
    kmax: int,
    refractory: int,
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients of :func:`lif_recurrent` w.r.t. drive, weight and delay."""
    g_drive, g_w, g_d = _kernels(u.device).lif_backward(
        _c(grad_z),
        _c(z),
        _c(u),
        _c(weight),
        _c(delay),
        alpha,
        beta,
        gamma,
        threshold,
        slope,
        mode,
        kmax,
        refractory,
    )
    return g_drive, g_w, g_d


@lif_recurrent_backward.register_fake
def _(
    grad_z: Tensor,
    z: Tensor,
    u: Tensor,
    weight: Tensor,
    delay: Tensor,
    alpha: float,
    beta: float,
    gamma: float,
    threshold: float,
    slope: float,
    mode: str,
    kmax: int,
    refractory: int,
) -> tuple[Tensor, Tensor, Tensor]:
    return u.new_empty(u.shape), weight.new_empty(weight.shape), weight.new_empty(weight.shape)


def _lif_setup(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, Tensor]) -> None:
    drive, weight, delay, alpha, beta, gamma, threshold, slope, mode, kmax, refractory = inputs
    z, u = output
    ctx.mark_non_differentiable(u)
    # u has no gradient: do not let autograd allocate and zero-fill one (T*B*N) per backward
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(z, u, weight, delay)
    ctx.consts = (alpha, beta, gamma, threshold, slope, mode, kmax, refractory)


def _lif_backward(ctx: Any, grad_z: Tensor, grad_u: Tensor | None) -> tuple[Tensor | None, ...]:
    z, u, weight, delay = ctx.saved_tensors
    if grad_z is None:  # not materialised (see _lif_setup): z did not reach the loss
        grad_z = torch.zeros_like(z)
    g_drive, g_w, g_d = torch.ops.spatialsnn.lif_recurrent_backward(
        grad_z, z, u, weight, delay, *ctx.consts
    )
    need = ctx.needs_input_grad
    return (
        g_drive if need[0] else None,
        g_w if need[1] else None,
        g_d if need[2] else None,
        *([None] * 8),
    )


lif_recurrent.register_autograd(_lif_backward, setup_context=_lif_setup)


# ----------------------------------------------------------------------------- spike_linear


@torch.library.custom_op("spatialsnn::spike_linear", mutates_args=(), device_types=_DEVICES)
def spike_linear(x: Tensor, weight: Tensor) -> Tensor:
    """``y = x @ weight.T`` summed over the non-zeros of ``x`` (uint8 or weight's dtype)."""
    return _kernels(x.device).spike_linear_forward(_c(x), _c(weight))


@spike_linear.register_fake
def _(x: Tensor, weight: Tensor) -> Tensor:
    return weight.new_empty((x.shape[0], x.shape[1], weight.shape[0]))


@torch.library.custom_op(
    "spatialsnn::spike_linear_grad_weight", mutates_args=(), device_types=_DEVICES
)
def spike_linear_grad_weight(grad: Tensor, x: Tensor) -> Tensor:
    """Gradient of :func:`spike_linear` w.r.t. ``weight``: ``grad^T x`` over ``x``'s non-zeros."""
    return _kernels(x.device).spike_linear_grad_weight(_c(grad), _c(x))


@spike_linear_grad_weight.register_fake
def _(grad: Tensor, x: Tensor) -> Tensor:
    return grad.new_empty((grad.shape[2], x.shape[2]))


def _spike_linear_setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    x, weight = inputs
    ctx.save_for_backward(x, weight)


def _spike_linear_backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
    x, weight = ctx.saved_tensors
    need_x, need_w = ctx.needs_input_grad[:2]
    gx = grad @ weight if need_x else None  # dense: the input gradient has no sparsity
    gw = torch.ops.spatialsnn.spike_linear_grad_weight(grad, x) if need_w else None
    return gx, gw


spike_linear.register_autograd(_spike_linear_backward, setup_context=_spike_linear_setup)
