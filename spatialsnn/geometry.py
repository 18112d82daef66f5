r"""Positions → pairwise distances → axonal delays.

.. math::

    d_{ij} = \lVert p_i - p_j \rVert_2 / v, \qquad
    k_{ij} = \lfloor d_{ij}/\Delta t + 1/2 \rfloor

Positions are in µm, velocities in µm/ms, delays in ms, delay steps are integers.
The rounding is Brian2's (``int(d/dt + 0.5)``). The distance is differentiable
everywhere; at distance 0 (self-connections, coincident neurons) its gradient is
defined as 0, never NaN.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

__all__ = [
    "DelayClampWarning",
    "delay_steps",
    "delays_from_positions",
    "pairwise_distance",
    "report_clamp",
]


class DelayClampWarning(UserWarning):
    """Emitted when delays exceed the maximum delay and are clamped to it."""


def pairwise_distance(post: Tensor, pre: Tensor | None = None) -> Tensor:
    """Euclidean distances between two sets of positions, safe at distance 0.

    Parameters
    ----------
    post : Tensor of shape (n_post, dims)
        Positions of the postsynaptic population, in µm.
    pre : Tensor of shape (n_pre, dims), optional
        Positions of the presynaptic population, in µm. Defaults to ``post``
        (recurrent projection).

    Returns
    -------
    Tensor of shape (n_post, n_pre)
        ``d[i, j] = ||post[i] - pre[j]||``, in µm. Its gradient is 0 where the
        distance is 0 (``torch.cdist`` and ``norm`` would give NaN there).
    """
    if pre is None:
        pre = post
    if post.ndim != 2 or pre.ndim != 2 or post.shape[1] != pre.shape[1]:
        raise ValueError(
            f"positions must be 2-D with the same number of dims, got {tuple(post.shape)} "
            f"and {tuple(pre.shape)}"
        )
    diff = post[:, None, :] - pre[None, :, :]
    sq = (diff * diff).sum(-1)
    zero = sq == 0
    # sqrt'(0) is infinite; substitute 1 under the root where the distance is 0 so
    # that the gradient there is exactly 0 (the where blocks it).
    safe = torch.where(zero, torch.ones_like(sq), sq)
    return torch.where(zero, torch.zeros_like(sq), safe.sqrt())


def delays_from_positions(post: Tensor, pre: Tensor | None, velocity: float | Tensor) -> Tensor:
    """Axonal delays from positions and a conduction velocity.

    Parameters
    ----------
    post : Tensor of shape (n_post, dims)
        Postsynaptic positions, µm.
    pre : Tensor of shape (n_pre, dims) or None
        Presynaptic positions, µm (None: recurrent, same as ``post``).
    velocity : float or scalar Tensor
        Conduction velocity, µm/ms (1 m/s = 1000 µm/ms). Must be positive.

    Returns
    -------
    Tensor of shape (n_post, n_pre)
        Delays in ms.
    """
    if not float(velocity) > 0:
        raise ValueError(f"velocity must be positive (µm/ms), got {float(velocity)}")
    return pairwise_distance(post, pre) / velocity


def report_clamp(delay: Tensor, max_delay: float, *, what: str = "delays") -> int:
    """Count delays beyond ``max_delay`` and warn with :class:`DelayClampWarning`.

    Parameters
    ----------
    delay : Tensor
        Delays in any unit, compared with ``max_delay`` in the same unit.
    max_delay : float
        The clamp.
    what : str
        Name used in the warning message.

    Returns
    -------
    int
        Number of clamped entries.
    """
    n = int((delay.detach() > max_delay).sum())
    if n:
        # A message without the count: Python's default filter then shows it once per
        # call site instead of flooding a training log; the count is returned.
        warnings.warn(
            f"{what} exceed the maximum delay {max_delay:g} and are clamped to it; "
            "increase max_delay or slow the growth of positions",
            DelayClampWarning,
            stacklevel=3,
        )
    return n


def delay_steps(delay: Tensor, dt: float, max_delay_steps: int | None = None) -> Tensor:
    """Round delays in ms to whole time steps the way Brian2 does.

    Parameters
    ----------
    delay : Tensor
        Delays in ms, any shape, non-negative.
    dt : float
        Time step in ms.
    max_delay_steps : int, optional
        Clamp; delays beyond it are clamped and reported with a
        :class:`DelayClampWarning`.

    Returns
    -------
    Tensor of int64, same shape
        ``floor(delay/dt + 0.5)``, clamped to ``[0, max_delay_steps]``.
    """
    steps = torch.floor(delay.detach() / dt + 0.5).to(torch.int64)
    if max_delay_steps is not None:
        report_clamp(steps, max_delay_steps, what="delay steps")
        steps = steps.clamp(0, max_delay_steps)
    return steps.clamp_min(0)
