"""The ``reference`` backend: vectorised PyTorch with hand-written backward passes.

Memory is O(time·batch·neurons): the forward keeps the spikes (1 byte each) and
the pre-threshold membrane (for the surrogate); transient buffers are at most
batch·n_post·n_pre per step (recurrent) or a bounded chunk (feed-forward). It never
stores time·batch·neurons² or an n_post·n_pre·max_delay kernel.

Discrete adjoint of the recurrent layer (docs/model.md), step ``t`` backwards::

    lam_I[t] = beta * lam_I[t+1] + gamma * lam_u[t+1]
    lam_V[t] = alpha * lam_u[t+1]
    G[t, j]  = dL/dz[t, j] + sum_i w_ij sum_k c_ij(k) lam_I[t+k, i]
    lam_u[t] = lam_V[t] * (1 - z[t]) + G[t] * surrogate'(u[t] - theta)
    dL/d drive[t] = lam_I[t]
    dL/dw_ij += sum_k c_ij(k) z[t, j] lam_I[t+k, i]
    dL/dd_ij += w_ij z[t, j] (lam_I[t+k0+1, i] - lam_I[t+k0, i])

where ``c_ij`` puts weight 1 on ``round(d)`` (round mode) or ``1-f, f`` on
``floor(d), floor(d)+1`` (interpolate mode); the delay gradient is the slope of the
interpolation in both modes (straight-through for round).
"""

from __future__ import annotations

import torch
from torch import Tensor

from spatialsnn.dynamics import superspike_grad
from spatialsnn.ops._common import split_delay

#: Upper bound on elements of a transient gather buffer in :func:`delayed_linear`.
CHUNK_ELEMENTS = 1 << 24


def _chunks(n_rows: int, row_elements: int):
    step = max(1, CHUNK_ELEMENTS // max(1, row_elements))
    for start in range(0, n_rows, step):
        yield slice(start, min(n_rows, start + step))


class _DelayedLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, delay, mode, kmax):
        batch, n_t, n_pre = x.shape
        n_post = weight.shape[0]
        split = split_delay(delay)
        pad = kmax + 1
        xpad = torch.cat([x.new_zeros(batch, pad, n_pre), x], dim=1)
        t = torch.arange(n_t, device=x.device)[:, None, None] + pad
        j = torch.arange(n_pre, device=x.device)[None, None, :]
        out = x.new_empty(batch, n_t, n_post)
        for rows in _chunks(n_post, batch * n_t * n_pre):
            if mode == "round":
                val = xpad[:, t - split.kr[rows], j] * weight[rows]
            else:
                f = split.frac[rows]
                val = xpad[:, t - split.k0[rows], j] * (weight[rows] * (1 - f))
                val += xpad[:, t - split.k0[rows] - 1, j] * (weight[rows] * f)
            out[:, :, rows] = val.sum(-1)
        ctx.save_for_backward(x, weight, delay)
        ctx.mode, ctx.kmax = mode, kmax
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight, delay = ctx.saved_tensors
        mode, kmax = ctx.mode, ctx.kmax
        batch, n_t, n_pre = x.shape
        n_post = weight.shape[0]
        split = split_delay(delay)
        grad = grad.contiguous()
        need_x, need_w, need_d = ctx.needs_input_grad[:3]
        gx = gw = gd = None
        pad = kmax + 1
        if need_w or need_d:
            gw = torch.zeros_like(weight) if need_w else None
            gd = torch.zeros_like(delay) if need_d else None
            xpad = torch.cat([x.new_zeros(batch, pad, n_pre), x], dim=1)
            t = torch.arange(n_t, device=x.device)[:, None, None] + pad
            j = torch.arange(n_pre, device=x.device)[None, None, :]
            for rows in _chunks(n_post, batch * n_t * n_pre):
                g = grad[:, :, rows]
                x0 = xpad[:, t - split.k0[rows], j]
                x1 = xpad[:, t - split.k0[rows] - 1, j]
                if need_w:
                    if mode == "round":
                        xw = xpad[:, t - split.kr[rows], j]
                    else:
                        f = split.frac[rows]
                        xw = x0 * (1 - f) + x1 * f
                    gw[rows] = torch.einsum("btc,btcj->cj", g, xw)
                if need_d:
                    gd[rows] = weight[rows] * torch.einsum("btc,btcj->cj", g, x1 - x0)
        if need_x:
            # dx[b, s, j] = sum_i w_ij sum_k c_ij(k) grad[b, s + k, i]
            gpad = torch.cat([grad, grad.new_zeros(batch, pad, n_post)], dim=1)
            s = torch.arange(n_t, device=x.device)[:, None, None]
            i = torch.arange(n_post, device=x.device)[None, :, None]
            gx = x.new_empty(batch, n_t, n_pre)
            for cols in _chunks(n_pre, batch * n_t * n_post):
                if mode == "round":
                    val = gpad[:, s + split.kr[:, cols], i] * weight[:, cols]
                else:
                    f = split.frac[:, cols]
                    val = gpad[:, s + split.k0[:, cols], i] * (weight[:, cols] * (1 - f))
                    val += gpad[:, s + split.k0[:, cols] + 1, i] * (weight[:, cols] * f)
                gx[:, :, cols] = val.sum(2)
        return gx, gw, gd, None, None


def delayed_linear(x: Tensor, weight: Tensor, delay: Tensor, mode: str, kmax: int) -> Tensor:
    """Reference ``delayed_linear``; see :func:`spatialsnn.ops.delayed_linear`."""
    return _DelayedLinear.apply(x, weight, delay, mode, kmax)


class _LIFRecurrent(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx, drive, weight, delay, alpha, beta, gamma, threshold, slope, mode, kmax, refractory
    ):
        batch, n_t, n = drive.shape
        dtype, dev = drive.dtype, drive.device
        split = split_delay(delay)
        pad = kmax + 1
        # Flat indices into z_pad.view(batch, (pad + T) * n) of z[t - k_ij, j] at t = 0.
        j = torch.arange(n, device=dev)[None, :]
        base_r = ((pad - split.kr) * n + j).reshape(-1)
        base_0 = ((pad - split.k0) * n + j).reshape(-1)
        base_1 = base_0 - n
        if mode == "round":
            terms = [(base_r, weight)]
        else:
            terms = [(base_0, weight * (1 - split.frac)), (base_1, weight * split.frac)]
        z_pad = torch.zeros(batch, pad + n_t, n, dtype=torch.uint8, device=dev)
        z_flat = z_pad.view(batch, -1)
        u_all = drive.new_empty(batch, n_t, n)
        v = drive.new_zeros(batch, n)
        i_syn = drive.new_zeros(batch, n)
        hold = max(min(refractory, n_t + 1) - 1, 0)  # a period beyond T acts as T
        left = torch.zeros(batch, n, dtype=torch.int32, device=dev) if hold else None
        for t in range(n_t):
            u = alpha * v + gamma * i_syn  # 1. state update
            if left is not None:  # refractory: membrane held, threshold off
                ref = left > 0
                u = torch.where(ref, v, u)
            u_all[:, t] = u
            z = u >= threshold  # 2. threshold
            if left is not None:
                z &= ~ref
                left = torch.where(z, hold, (left - 1).clamp_min(0))
            z_pad[:, pad + t] = z
            i_syn = beta * i_syn + drive[:, t]  # 3. arrivals
            for base, coef in terms:
                zk = z_flat.index_select(1, base + t * n).view(batch, n, n).to(dtype)
                i_syn += (zk * coef).sum(-1)
            v = torch.where(z, torch.zeros_like(u), u)  # 4. reset
        ctx.save_for_backward(weight, delay, z_pad, u_all)
        ctx.consts = (alpha, beta, gamma, threshold, slope, mode, kmax, refractory)
        return z_pad[:, pad:].to(dtype)

    @staticmethod
    def backward(ctx, grad_z):
        weight, delay, z_pad, u_all = ctx.saved_tensors
        alpha, beta, gamma, threshold, slope, mode, kmax, refractory = ctx.consts
        need_drive, need_w, need_d = ctx.needs_input_grad[:3]
        batch, n_t, n = u_all.shape
        dtype, dev = u_all.dtype, u_all.device
        split = split_delay(delay)
        pad = kmax + 1
        grad_z = grad_z.contiguous()
        # Flat indices into lam_pad.view(batch, (T + pad) * n) of lam_I[t + k_ij, i] at t = 0,
        # laid out [i, j] like the weight.
        i = torch.arange(n, device=dev)[:, None]
        base_0 = (split.k0 * n + i).reshape(-1)
        base_1 = base_0 + n
        base_r = (split.kr * n + i).reshape(-1)
        lam_pad = u_all.new_zeros(batch, n_t + pad, n)
        lam_flat = lam_pad.view(batch, -1)
        lam_u = u_all.new_zeros(batch, n)
        lam_i = u_all.new_zeros(batch, n)
        gw = torch.zeros_like(weight) if need_w else None
        gd = torch.zeros_like(delay) if need_d else None
        frac = split.frac
        held = refractory_mask(z_pad[:, pad:], refractory)
        for t in range(n_t - 1, -1, -1):
            lam_i = beta * lam_i + gamma * lam_u
            lam_v = alpha * lam_u
            lam_pad[:, t] = lam_i
            z = z_pad[:, pad + t].to(dtype)

            def gather(base, t=t):
                return lam_flat.index_select(1, base + t * n).view(batch, n, n)

            a0 = gather(base_0)
            a1 = gather(base_1)
            if mode == "round":
                ar = gather(base_r)
                back = (ar * weight).sum(1)
                wsum = ar
            else:
                wsum = a0 * (1 - frac) + a1 * frac
                back = (wsum * weight).sum(1)
            if need_w:
                gw += torch.einsum("bij,bj->ij", wsum, z)
            if need_d:
                gd += weight * torch.einsum("bij,bj->ij", a1 - a0, z)
            g = grad_z[:, t] + back
            u = u_all[:, t]
            lam_u = lam_v * (1 - z) + g * superspike_grad(u - threshold, slope)
            if held is not None:  # a held membrane leads back only to the detached reset
                lam_u = lam_u.masked_fill(held[:, t], 0.0)
        g_drive = lam_pad[:, :n_t] if need_drive else None
        return g_drive, gw, gd, None, None, None, None, None, None, None, None


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
    """Reference recurrent LIF layer; see :func:`spatialsnn.ops.lif_recurrent`."""
    return _LIFRecurrent.apply(
        drive, weight, delay, alpha, beta, gamma, threshold, slope, mode, kmax, int(refractory)
    )


def refractory_mask(z: Tensor, refractory: int) -> Tensor | None:
    """Which steps are refractory, from the spikes; None if ``refractory <= 1``.

    Parameters
    ----------
    z : Tensor of shape (batch, time, n)
        Spikes (0/1, any dtype).
    refractory : int
        Refractory period in steps: a spike at step ``s`` makes ``s+1 .. s+refractory-1``
        refractory.

    Returns
    -------
    Tensor of bool, shape (batch, time, n), or None
    """
    if refractory <= 1:
        return None
    refractory = min(refractory, z.shape[1] + 1)  # a longer period holds to the end
    count = torch.cumsum(z.to(torch.int32), dim=1)
    # spikes in the window [t - refractory + 1, t - 1] = count[t-1] - count[t-refractory]
    pad = count.new_zeros(count.shape[0], refractory, count.shape[2])
    padded = torch.cat([pad, count], dim=1)
    n_t = z.shape[1]
    recent = padded[:, refractory - 1 : refractory - 1 + n_t] - padded[:, :n_t]
    return recent > 0
