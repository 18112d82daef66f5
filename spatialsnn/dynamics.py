r"""Exact discretisation of the current-based LIF / LI neuron (docs/model.md).

Continuous model (time in ms, voltages dimensionless, threshold 1):

.. math::

    \tau_m \dot V = -V + I, \qquad \tau_s \dot I = -I

integrated exactly over one step :math:`\Delta t` (Brian2's ``method='exact'``):

.. math::

    V \leftarrow \alpha V + \gamma I, \qquad I \leftarrow \beta I, \qquad
    \alpha = e^{-\Delta t/\tau_m},\ \beta = e^{-\Delta t/\tau_s},\
    \gamma = \frac{\tau_s}{\tau_s - \tau_m}(\beta - \alpha)

with the limit :math:`\gamma = (\Delta t/\tau) e^{-\Delta t/\tau}` when
:math:`\tau_s = \tau_m = \tau`.

One step, in Brian2's schedule order: state update → threshold → synaptic
arrivals (``I += w``) → reset (``V = 0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "LIFCoefficients",
    "equal_time_constants",
    "lif_coefficients",
    "refractory_steps",
    "spike_surrogate",
    "superspike_grad",
]


@dataclass(frozen=True)
class LIFCoefficients:
    """Per-step propagator of the (V, I) system.

    Attributes
    ----------
    alpha : float
        Membrane decay ``exp(-dt/tau_mem)``.
    beta : float
        Synaptic decay ``exp(-dt/tau_syn)``.
    gamma : float
        Coupling of I into V over one step.
    """

    alpha: float
    beta: float
    gamma: float


def equal_time_constants(tau_mem: float, tau_syn: float) -> bool:
    """Whether the twin treats ``tau_mem == tau_syn`` as the degenerate case (rel. 1e-9).

    Parameters
    ----------
    tau_mem, tau_syn : float
        Time constants, ms.

    Returns
    -------
    bool
        True where the propagator uses the limit ``gamma = (dt/tau) exp(-dt/tau)``, and
        where the Brian2 export writes ``I``'s decay with ``tau_mem`` (Brian2's exact
        solver would otherwise divide by ``tau_mem - tau_syn = 0``).
    """
    return math.isclose(tau_mem, tau_syn, rel_tol=1e-9)


def lif_coefficients(dt: float, tau_mem: float, tau_syn: float) -> LIFCoefficients:
    """Exact one-step propagator coefficients.

    Parameters
    ----------
    dt, tau_mem, tau_syn : float
        Time step and time constants, ms; all positive.

    Returns
    -------
    LIFCoefficients
    """
    for name, value in (("dt", dt), ("tau_mem", tau_mem), ("tau_syn", tau_syn)):
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a positive finite number of ms, got {value}")
    alpha = math.exp(-dt / tau_mem)
    beta = math.exp(-dt / tau_syn)
    if equal_time_constants(tau_mem, tau_syn):
        gamma = dt / tau_mem * alpha
    else:
        gamma = tau_syn / (tau_syn - tau_mem) * (beta - alpha)
    return LIFCoefficients(alpha, beta, gamma)


def refractory_steps(refractory: float, dt: float) -> int:
    """A refractory period in whole steps, rounded as Brian2 does.

    Brian2 tests ``timestep(t - lastspike, dt) >= timestep(refractory, dt)`` with
    ``timestep(x, dt) = int((x + 1e-3 dt) / dt)``; this is the right-hand side.

    Parameters
    ----------
    refractory : float
        Refractory period, ms (``>= 0``).
    dt : float
        Time step, ms.

    Returns
    -------
    int
        ``r``: a neuron that spiked at step ``s`` is refractory in steps
        ``s+1 .. s+r-1`` (none for ``r <= 1``).
    """
    if not (refractory >= 0 and math.isfinite(refractory)):
        raise ValueError(f"refractory must be a finite number of ms >= 0, got {refractory}")
    return int((refractory + 1e-3 * dt) / dt)


def superspike_grad(x: Tensor, slope: float) -> Tensor:
    """SuperSpike fast-sigmoid surrogate derivative ``1 / (slope*|x| + 1)**2``.

    Parameters
    ----------
    x : Tensor
        Membrane potential minus threshold (dimensionless).
    slope : float
        Steepness of the surrogate (Zenke & Ganguli 2018 use 10–100).
    """
    return 1.0 / (slope * x.abs() + 1.0) ** 2


class _SpikeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, slope: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (x,) = ctx.saved_tensors
        return grad * superspike_grad(x, ctx.slope), None


def spike_surrogate(x: Tensor, slope: float) -> Tensor:
    """Heaviside ``[x >= 0]`` forward, SuperSpike surrogate derivative backward.

    Parameters
    ----------
    x : Tensor
        ``V - theta``.
    slope : float
        Surrogate steepness, see :func:`superspike_grad`.
    """
    return _SpikeFn.apply(x, slope)
