"""The ``autograd`` backend: plain PyTorch differentiated by torch autograd.

This is the oracle the other backends are tested against. It keeps every
intermediate for autograd, so its memory grows as time·batch·n_post·n_pre: use it
on small problems only.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spatialsnn.dynamics import spike_surrogate
from spatialsnn.ops._common import split_delay


def _straight_through(frac: Tensor, x0: Tensor, x1: Tensor, xr: Tensor | None) -> Tensor:
    """Delayed value for interpolate (``xr is None``) or round mode.

    Interpolate: ``(1-f) x0 + f x1``. Round: the rounded value forward, and the
    slope of the interpolation, ``x1 - x0``, as gradient w.r.t. the delay.
    """
    if xr is None:
        return (1 - frac) * x0 + frac * x1
    return xr + (frac - frac.detach()) * (x1 - x0)


def delayed_linear(x: Tensor, weight: Tensor, delay: Tensor, mode: str, kmax: int) -> Tensor:
    """``y[b,t,i] = sum_j w_ij x[b, t - d_ij, j]``; see :func:`spatialsnn.ops.delayed_linear`."""
    batch, n_t, n_pre = x.shape
    split = split_delay(delay)
    frac = delay - split.k0.to(delay.dtype)  # carries the gradient w.r.t. the delay
    pad = kmax + 1
    xpad = torch.cat([x.new_zeros(batch, pad, n_pre), x], dim=1)
    t = torch.arange(n_t, device=x.device)[:, None, None] + pad
    j = torch.arange(n_pre, device=x.device)[None, None, :]
    x0 = xpad[:, t - split.k0, j]
    x1 = xpad[:, t - split.k0 - 1, j]
    xr = xpad[:, t - split.kr, j] if mode == "round" else None
    return (weight * _straight_through(frac, x0, x1, xr)).sum(-1)


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
    refractory: int = 0,
) -> Tensor:
    """Recurrent LIF layer with delayed recurrence, stepped in Python under autograd.

    ``refractory`` (steps, Brian2's ``timestep(refractory, dt)``): after a spike at step
    ``s`` the membrane is held at its reset value and the threshold is off in steps
    ``s+1 .. s+refractory-1`` (``0`` and ``1`` change nothing).
    """
    batch, n_t, n = drive.shape
    split = split_delay(delay)
    frac = delay - split.k0.to(delay.dtype)
    hist_len = kmax + 2
    j = torch.arange(n, device=drive.device)[None, :]
    v = drive.new_zeros(batch, n)
    i_syn = drive.new_zeros(batch, n)
    hist = drive.new_zeros(batch, hist_len, n)  # hist[:, L-1-k] = z(t-k)
    spikes = []
    # steps of refractoriness left per neuron: the membrane is held (at the reset value)
    # and the threshold is off, so autograd sees no surrogate gradient there
    hold = max(min(int(refractory), n_t + 1) - 1, 0)
    left = torch.zeros(batch, n, dtype=torch.long, device=drive.device)
    for step in range(n_t):
        ref = left > 0
        u = torch.where(ref, v, alpha * v + gamma * i_syn)  # 1. state update
        z = spike_surrogate(u - threshold, slope)  # 2. threshold
        z = torch.where(ref, torch.zeros_like(z), z)
        left = torch.where(z.detach() > 0, hold, (left - 1).clamp_min(0))
        hist = torch.cat([hist[:, 1:], z[:, None]], dim=1)
        x0 = hist[:, hist_len - 1 - split.k0, j]
        x1 = hist[:, hist_len - 2 - split.k0, j]
        xr = hist[:, hist_len - 1 - split.kr, j] if mode == "round" else None
        arrivals = (weight * _straight_through(frac, x0, x1, xr)).sum(-1)
        i_syn = beta * i_syn + drive[:, step] + arrivals  # 3. synaptic arrivals
        v = u * (1 - z.detach())  # 4. reset (not differentiated)
        spikes.append(z)
    return torch.stack(spikes, dim=1)
