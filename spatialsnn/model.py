"""The differentiable twin: a recurrent spiking network whose neurons live in space.

Architecture (the paper's): input spike sources → one recurrent LIF population →
leaky-integrator (LI) outputs. Recurrent delays are ``distance / velocity`` (the
"spatial" condition), free per-synapse parameters ("free"), or zero ("none").
Inputs may also have positions, which gives the input→hidden projection distance
delays as well. The discretisation (docs/model.md): exact integration, Brian2's step
order, Brian2's delay rounding in ``round`` mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from spatialsnn import ops
from spatialsnn.dynamics import lif_coefficients, refractory_steps
from spatialsnn.geometry import delay_steps, delays_from_positions, report_clamp
from spatialsnn.ops._common import check_mode
from spatialsnn.readouts import READOUTS, readout

__all__ = ["CONDITIONS", "DELAY_KINDS", "MAX_DELAY_STEPS", "SNNOutput", "SpatialSNN"]

#: Largest ``max_delay / dt``, steps: delays are counted in int64 steps, and the compiled
#: kernels index their ring buffers with 32-bit integers.
MAX_DELAY_STEPS = 2**30

#: Sources of the recurrent delays (``SpatialSNN(delays=...)``).
DELAY_KINDS = ("spatial", "free", "none")

#: The comparison conditions of the paper (docs/training.md): keyword arguments for
#: :class:`SpatialSNN` (``"model"``) and :class:`spatialsnn.SNNLoss` (``"loss"``).
CONDITIONS: dict[str, dict[str, dict[str, Any]]] = {
    "spatial": {"model": {"delays": "spatial"}, "loss": {}},
    "spatial+cost": {
        "model": {"delays": "spatial"},
        "loss": {"connection_cost": 1e-5, "cost_exponent": 2},
    },
    "free": {"model": {"delays": "free"}, "loss": {}},
    "none": {"model": {"delays": "none"}, "loss": {}},
}


@dataclass
class SNNOutput:
    """What :meth:`SpatialSNN.forward` returns.

    Attributes
    ----------
    logits : Tensor of shape (batch, n_out)
        Readout of the output membrane.
    hidden_spikes : Tensor of shape (batch, time, n_hidden)
        Hidden spikes (0/1).
    output_voltage : Tensor of shape (batch, time, n_out)
        Output membrane, recorded right after each step's state update (Brian2:
        a ``StateMonitor`` with ``when='after_groups'``).
    dt : float
        Time step of the two traces, ms (``model.dt / substeps``).
    """

    logits: Tensor
    hidden_spikes: Tensor
    output_voltage: Tensor
    dt: float

    @property
    def duration(self) -> float:
        """Simulated time of one sample, ms (``time * dt``, whatever the substeps)."""
        return self.hidden_spikes.shape[1] * self.dt

    def rates(self) -> Tensor:
        """Mean firing rate of each hidden neuron over the batch, spikes/s, shape (n_hidden,)."""
        return self.hidden_spikes.detach().sum(1).mean(0) / (self.duration * 1e-3)


def _names_of_space(dims: int) -> list[str]:
    return list("xyzw"[:dims]) if dims <= 4 else [f"x{k}" for k in range(dims)]


class SpatialSNN(nn.Module):
    """Recurrent spiking network with position-derived axonal delays.

    Parameters
    ----------
    n_in, n_hidden, n_out : int
        Population sizes.
    dims : int
        Dimension of space (D >= 1; the paper uses 2, also 3 and 4).
    velocity : float
        Axonal conduction velocity in µm/ms (1 m/s = 1000 µm/ms). Default 100 µm/ms
        (0.1 m/s, slow unmyelinated axons).
    dt : float
        Time step, ms.
    tau_mem, tau_syn : float
        Membrane and synaptic time constants, ms.
    threshold : float
        Firing threshold of the hidden LIF neurons (dimensionless).
    refractory : float
        Absolute refractory period of the hidden neurons, ms (0: none, the paper's
        model). After a spike the membrane is held at the reset value and the neuron
        cannot spike for ``refractory_steps`` steps counted from the spike (Brian2's
        ``refractory=`` with ``(unless refractory)``; docs/model.md).
    max_delay : float
        Largest delay, ms; longer delays are clamped and reported with a
        :class:`spatialsnn.DelayClampWarning`.
    delays : {"spatial", "free", "none"}
        Recurrent delays from positions, free learnable per-synapse delays, or none.
    delay_mode : {"interpolate", "round"}
        Delay mode while training (see :func:`spatialsnn.ops.delayed_linear`).
    eval_delay_mode : {"round", "interpolate"}
        Delay mode in ``eval()`` mode; ``"round"`` is bit-compatible with Brian2.
    readout : {"exp_mean", "sum", "max", "last"}
        Readout of the output membrane, see :func:`spatialsnn.readout`.
    input_positions : bool
        Give the input population positions too; input→hidden synapses then get
        distance delays through :func:`spatialsnn.ops.delayed_linear`.
    init_extent : float, optional
        Positions start Uniform(-init_extent, init_extent) per coordinate, µm.
        Defaults to ``velocity * 1 ms`` (initial delays of a few steps, as in the
        paper).
    w_in_mean, w_in_std, w_rec_std, w_out_std : float
        Normal initialisation of the weights (the paper's values by default).
    surrogate_slope : float
        SuperSpike surrogate slope.
    backend : {"auto", "autograd", "reference"}
        Implementation of the delayed propagation, see :mod:`spatialsnn.ops`.
    seed : int, optional
        Seed of the initialisation (a private generator; the global RNG is untouched).

    Examples
    --------
    >>> import torch, spatialsnn
    >>> model = spatialsnn.SpatialSNN(n_in=10, n_hidden=16, n_out=3, seed=0)
    >>> out = model(torch.zeros(2, 50, 10))
    >>> out.logits.shape, out.hidden_spikes.shape, model.delays().shape
    (torch.Size([2, 3]), torch.Size([2, 50, 16]), torch.Size([16, 16]))
    """

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        dims: int = 2,
        *,
        velocity: float = 100.0,
        dt: float = 1.0,
        tau_mem: float = 20.0,
        tau_syn: float = 5.0,
        threshold: float = 1.0,
        refractory: float = 0.0,
        max_delay: float = 1000.0,
        delays: str = "spatial",
        delay_mode: str = "interpolate",
        eval_delay_mode: str = "round",
        readout: str = "exp_mean",
        input_positions: bool = False,
        init_extent: float | None = None,
        w_in_mean: float = 0.03,
        w_in_std: float = 0.01,
        w_rec_std: float = 0.02,
        w_out_std: float = 0.03,
        surrogate_slope: float = 25.0,
        backend: str = "auto",
        seed: int | None = None,
    ) -> None:
        super().__init__()
        for name, value in (
            ("n_in", n_in),
            ("n_hidden", n_hidden),
            ("n_out", n_out),
            ("dims", dims),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not (velocity > 0 and math.isfinite(velocity)):
            raise ValueError(f"velocity must be a positive number of µm/ms, got {velocity}")
        if not max_delay >= 0:
            raise ValueError(f"max_delay must be >= 0 ms, got {max_delay}")
        if not (refractory >= 0 and math.isfinite(refractory)):
            raise ValueError(f"refractory must be a finite number of ms >= 0, got {refractory}")
        if delays not in DELAY_KINDS:
            raise ValueError(f"delays must be one of {DELAY_KINDS}, got {delays!r}")
        check_mode(delay_mode)
        check_mode(eval_delay_mode)
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        ops.resolve_backend(backend)
        self.coefficients = lif_coefficients(dt, tau_mem, tau_syn)
        if not max_delay / dt < MAX_DELAY_STEPS:
            raise ValueError(
                f"max_delay / dt = {max_delay / dt:g} steps; at most {MAX_DELAY_STEPS} allowed"
            )
        if init_extent is None:
            init_extent = velocity * 1.0
        self.hparams: dict[str, Any] = dict(
            n_in=n_in, n_hidden=n_hidden, n_out=n_out, dims=dims, velocity=float(velocity),
            dt=float(dt), tau_mem=float(tau_mem), tau_syn=float(tau_syn),
            threshold=float(threshold), refractory=float(refractory),
            max_delay=float(max_delay), delays=delays,
            delay_mode=delay_mode, eval_delay_mode=eval_delay_mode, readout=readout,
            input_positions=bool(input_positions), init_extent=float(init_extent),
            w_in_mean=w_in_mean, w_in_std=w_in_std, w_rec_std=w_rec_std, w_out_std=w_out_std,
            surrogate_slope=float(surrogate_slope), backend=backend, seed=seed,
        )  # fmt: skip
        gen = torch.Generator().manual_seed(seed) if seed is not None else None

        def normal(shape, mean, std):
            return torch.randn(shape, generator=gen) * std + mean

        def uniform(shape):
            return (torch.rand(shape, generator=gen) * 2 - 1) * init_extent

        self.w_in = nn.Parameter(normal((n_hidden, n_in), w_in_mean, w_in_std))
        self.w_rec = nn.Parameter(normal((n_hidden, n_hidden), 0.0, w_rec_std))
        self.w_out = nn.Parameter(normal((n_out, n_hidden), 0.0, w_out_std))
        self.positions = nn.Parameter(uniform((n_hidden, dims)), requires_grad=delays == "spatial")
        self.input_positions = nn.Parameter(uniform((n_in, dims))) if input_positions else None
        #: synapses whose delay was clamped to max_delay in the last forward pass
        self.clamped_delays: dict[str, int] = {"recurrent": 0, "input": 0}
        if delays == "free":
            # Start where the spatial condition starts: delays of the initial positions.
            init = delays_from_positions(self.positions.detach(), None, velocity)
            self.rec_delay = nn.Parameter(init.clone())
        else:
            self.rec_delay = None

    # ----------------------------------------------------------------- properties
    @property
    def velocity(self) -> float:
        """Conduction velocity, µm/ms."""
        return self.hparams["velocity"]

    @property
    def dt(self) -> float:
        """Time step, ms."""
        return self.hparams["dt"]

    @property
    def refractory_steps(self) -> int:
        """The refractory period in whole steps, as Brian2 counts it.

        Brian2's ``timestep(refractory, dt) = int((refractory + 1e-3 dt) / dt)``: a
        neuron that spiked at step ``s`` may spike again at step ``s + refractory_steps``
        at the earliest (``0`` and ``1``: in the next step, i.e. no refractory period).
        """
        return refractory_steps(self.hparams["refractory"], self.hparams["dt"])

    @property
    def max_delay_steps(self) -> int:
        """The delay clamp in whole time steps."""
        return int(math.floor(self.hparams["max_delay"] / self.hparams["dt"] + 0.5))

    @property
    def space(self) -> list[str]:
        """Names of the coordinates (``x, y, z, w`` for D <= 4)."""
        return _names_of_space(self.hparams["dims"])

    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-serialisable (what :func:`spatialsnn.save` stores)."""
        return dict(self.hparams)

    # --------------------------------------------------------------------- delays
    def delays(self) -> Tensor:
        """Recurrent delays in ms, shape (n_hidden_post, n_hidden_pre), like ``w_rec``.

        Differentiable w.r.t. the positions (spatial) or the free delays.
        """
        kind = self.hparams["delays"]
        if kind == "spatial":
            return delays_from_positions(self.positions, None, self.hparams["velocity"])
        if kind == "free":
            return self.rec_delay.clamp_min(0)
        return torch.zeros_like(self.w_rec)

    def input_delays(self) -> Tensor | None:
        """Input→hidden delays in ms, shape (n_hidden, n_in), or None without input positions."""
        if self.input_positions is None:
            return None
        return delays_from_positions(self.positions, self.input_positions, self.hparams["velocity"])

    def delay_steps(self) -> Tensor:
        """Recurrent delays rounded to steps as Brian2 does (``int(d/dt + 0.5)``), int64."""
        return delay_steps(self.delays(), self.hparams["dt"], self.max_delay_steps)

    # -------------------------------------------------------------------- forward
    def forward(self, x: Tensor, *, substeps: int = 1) -> SNNOutput:
        """Simulate a batch.

        Parameters
        ----------
        x : Tensor of shape (batch, time, n_in)
            Input spike counts per time step of ``dt`` (integer or floating).
        substeps : int
            Simulate on a grid ``substeps`` times finer than ``dt`` (the same network
            at the step ``dt / substeps``: exact propagators, delays and refractory
            period rounded to the finer grid as Brian2 rounds them). The counts of a bin
            arrive at its first sub-step, as in ``spatialsnn validate --dt``. The
            outputs are then on the fine grid (``time * substeps`` steps).

        Returns
        -------
        SNNOutput
        """
        hp = self.hparams
        if x.ndim != 3 or x.shape[2] != hp["n_in"]:
            raise ValueError(
                f"input must be [batch, time, n_in={hp['n_in']}], got shape {tuple(x.shape)}"
            )
        if x.shape[1] < 1:
            raise ValueError("input must have at least one time step")
        if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
            raise ValueError(f"substeps must be a positive integer, got {substeps!r}")
        if x.dtype != torch.uint8:  # byte counts go to the input projection as they are
            x = x.to(self.w_in.dtype)
        mode = hp["delay_mode"] if self.training else hp["eval_delay_mode"]
        c, dt = self.coefficients, hp["dt"]
        kmax, n_ref = self.max_delay_steps, self.refractory_steps
        if substeps > 1:
            dt = dt / substeps
            c = lif_coefficients(dt, hp["tau_mem"], hp["tau_syn"])
            kmax = int(math.floor(hp["max_delay"] / dt + 0.5))
            n_ref = refractory_steps(hp["refractory"], dt)
            fine = x.new_zeros(x.shape[0], x.shape[1] * substeps, x.shape[2])
            fine[:, ::substeps] = x
            x = fine
        backend = hp["backend"]
        if self.input_positions is None:
            drive = ops.spike_linear(x, self.w_in, backend=backend)  # event-driven if sparse
        else:
            d_in = self.input_delays() / dt
            self.clamped_delays["input"] = report_clamp(d_in, kmax, what="input delays (steps)")
            x = x.to(self.w_in.dtype)
            drive = ops.delayed_linear(x, self.w_in, d_in, mode, max_delay=kmax, backend=backend)
        d_rec = self.delays() / dt
        self.clamped_delays["recurrent"] = report_clamp(
            d_rec, kmax, what="recurrent delays (steps)"
        )
        spikes = ops.lif_recurrent(
            drive, self.w_rec, d_rec, alpha=c.alpha, beta=c.beta, gamma=c.gamma,
            threshold=hp["threshold"], slope=hp["surrogate_slope"], mode=mode,
            max_delay=kmax, refractory=n_ref, backend=backend,
        )  # fmt: skip
        # the hidden spikes are sparse too: event-driven where the backend allows
        voltage = self._output_layer(ops.spike_linear(spikes, self.w_out, backend=backend), c)
        return SNNOutput(readout(voltage, hp["readout"]), spikes, voltage, dt)

    def _output_layer(self, drive: Tensor, c) -> Tensor:
        """Leaky integrators: V recorded after the state update, then ``I += drive``."""
        v = drive.new_zeros(drive.shape[0], drive.shape[2])
        i_syn = torch.zeros_like(v)
        trace = []
        # unbind, not drive[:, t]: the backward of T selects would allocate and zero T
        # full-size gradient tensors (86 % of an SHD training step on the CPU); unbind's
        # backward stacks the T slices once.
        for drive_t in drive.unbind(1):
            v = c.alpha * v + c.gamma * i_syn
            i_syn = c.beta * i_syn + drive_t
            trace.append(v)
        return torch.stack(trace, dim=1)

    def extra_repr(self) -> str:
        """One-line summary shown by ``print(model)``."""
        hp = self.hparams
        return (
            f"n_in={hp['n_in']}, n_hidden={hp['n_hidden']}, n_out={hp['n_out']}, "
            f"dims={hp['dims']}, delays={hp['delays']!r}, velocity={hp['velocity']:g} um/ms, "
            f"dt={hp['dt']:g} ms, refractory={hp['refractory']:g} ms, "
            f"max_delay={hp['max_delay']:g} ms"
        )
