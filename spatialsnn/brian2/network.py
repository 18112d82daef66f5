"""A spatialsnn model as Brian2 objects: equations, groups, synapses, delays from positions.

Read :func:`build_network` top to bottom: it is the mapping of docs/brian2.md, one
Brian2 object after the other. Everything runs on ``brian2.defaultclock`` (brian2cuda
requires it). What is not plain Brian2 lives elsewhere: the input's *count copies* in
:mod:`spatialsnn.brian2.inputs`, reading results in :mod:`spatialsnn.brian2.recording`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spatialsnn.brian2.inputs import input_group
from spatialsnn.brian2.objects import Brian2Network
from spatialsnn.brian2.params import exact_delays
from spatialsnn.dynamics import equal_time_constants, refractory_steps

__all__ = ["build_network", "delay_expression", "neuron_equations"]


def delay_expression(space: Sequence[str], clip: bool = False) -> str:
    """Brian2 expression of the axonal delay of a synapse from its neurons' positions.

    Parameters
    ----------
    space : sequence of str
        Names of the position variables, e.g. ``["x", "y"]``.
    clip : bool
        Clamp the delay to ``[0, max_delay]`` (``max_delay`` from the namespace), as the
        twin clamps delays beyond its maximum delay.

    Returns
    -------
    str
        E.g. ``'sqrt((x_pre - x_post)**2 + (y_pre - y_post)**2) / velocity'``.
    """
    squares = " + ".join(f"({c}_pre - {c}_post)**2" for c in space)
    expr = f"sqrt({squares}) / velocity"
    return f"clip({expr}, 0*ms, max_delay)" if clip else expr


def neuron_equations(
    tau_mem: float, tau_syn: float, *, unless_refractory: bool = False, space: Sequence[str] = ()
) -> str:
    """The LIF / leaky-integrator equations of the model (docs/model.md), as Brian2 code.

    Parameters
    ----------
    tau_mem, tau_syn : float
        Time constants, ms. When they are equal, ``I`` decays with ``tau_mem`` so that
        Brian2's exact solver returns the degenerate solution instead of dividing by
        ``tau_mem - tau_syn = 0``.
    unless_refractory : bool
        Hold ``v`` during the refractory period: ``(unless refractory)``.
    space : sequence of str
        Position variables to declare, ``<name> : metre (constant)``.

    Returns
    -------
    str
        One equation per line, e.g. ``dv/dt = (I - v)/tau_mem : 1`` and
        ``dI/dt = -I/tau_syn : 1``.
    """
    v = "dv/dt = (I - v)/tau_mem : 1" + (" (unless refractory)" if unless_refractory else "")
    i = (
        "dI/dt = -I/tau_mem : 1"
        if equal_time_constants(tau_mem, tau_syn)
        else "dI/dt = -I/tau_syn : 1"
    )
    return "".join(f"{line}\n" for line in (v, i, *(f"{c} : metre (constant)" for c in space)))


def build_network(
    params: Mapping[str, Any],
    *,
    n_steps: int | None = None,
    input_mode: str = "spikegen",
    max_count: int = 1,
    n_copies: int = 1,
    dt: float | None = None,
    samples_per_run: int = 1,
) -> Brian2Network:
    """Build the Brian2 objects of a spatialsnn network.

    Call ``brian2.set_device(...)`` and set ``brian2.prefs`` (target, float dtype)
    before this function, as for any Brian2 object.

    Parameters
    ----------
    params : mapping
        The network parameters (:func:`spatialsnn.brian2.network_params`).
    n_steps : int, optional
        Number of time steps of a sample; required for ``input_mode="timedarray"``.
    input_mode : {"spikegen", "timedarray"}
        ``"spikegen"``: ``input`` is a ``SpikeGeneratorGroup``, filled with
        :func:`~spatialsnn.brian2.set_input_spikes`. ``"timedarray"``: ``input`` is a
        ``NeuronGroup`` that fires from the ``TimedArray`` ``input_counts`` (counts per
        step and channel, see :func:`~spatialsnn.brian2.input_count_table`), which
        standalone devices can replace per run.
    max_count : int
        Largest spike count of one channel in one step that can be delivered (the
        number of count copies per channel).
    n_copies : int
        Independent copies of the network, one sample each (copy ``b`` owns neurons
        ``b*n .. (b+1)*n - 1`` of every group).
    dt : float, optional
        Time step in ms; defaults to the model's.
    samples_per_run : int
        Timedarray mode only: samples simulated one after the other by each copy in
        one run. Sample ``s`` occupies steps ``s*period .. s*period + n_steps - 1``,
        ``period = n_steps + gap``; during the ``gap`` (longer than the longest delay
        and the refractory period) the hidden threshold is off, so that spikes in flight
        arrive without causing new ones, and ``v`` and ``I`` of ``hidden`` and
        ``output`` are set to 0 at the start of every sample.

    Returns
    -------
    Brian2Network
        The groups ``input``, ``hidden``, ``output``, the synapses ``input_hidden``,
        ``hidden_hidden``, ``hidden_output`` (None where a projection has no non-zero
        weight), the monitors ``hidden_spikes`` and ``output_voltage`` (``v`` right
        after each step's state update), all in ``network``.
    """
    import brian2 as b2
    from brian2 import ms, umetre

    dt = float(params["dt"]) if dt is None else float(dt)
    n_copies, max_count, per_run = int(n_copies), int(max_count), int(samples_per_run)
    _check_layout(input_mode, n_steps, n_copies, max_count, per_run)
    space = [str(c) for c in np.atleast_1d(params["space"])]
    weight = "w_syn" if "w" in space else "w"  # a coordinate called w would clash
    k_max = int(np.floor(float(params["max_delay"]) / dt + 0.5))  # the clamp, in steps
    namespace = {
        "tau_mem": float(params["tau_mem"]) * ms,
        "tau_syn": float(params["tau_syn"]) * ms,
        "theta": float(params["threshold"]),
        "velocity": float(params["velocity"]) * umetre / ms,
        "max_delay": k_max * dt * ms,
    }
    b2.defaultclock.dt = dt * ms
    period = n_steps
    if per_run > 1:  # samples one after the other, separated by a gap without spikes
        period = int(n_steps) + _gap_steps(params, dt, k_max)
        namespace.update(period=period, n_steps=int(n_steps))

    hidden, output = _neuron_groups(params, space, namespace, n_copies, gated=per_run > 1)
    inp, input_counts = input_group(
        params, space, mode=input_mode, max_count=max_count, n_copies=n_copies,
        n_table_steps=None if period is None else per_run * period, dt=dt,
    )  # fmt: skip
    connect = _Connector(namespace, weight, n_copies)
    w_in = params["weight_input_hidden"]
    input_hidden = connect(inp, hidden, w_in, "input_hidden", count_copies=max_count)
    hidden_hidden = connect(hidden, hidden, params["weight_hidden_hidden"], "hidden_hidden")
    hidden_output = connect(hidden, output, params["weight_hidden_output"], "hidden_output")
    _set_delays(params, {"input_hidden": input_hidden, "hidden_hidden": hidden_hidden},
                connect.index, space, dt, k_max, n_copies)  # fmt: skip

    spikes = b2.SpikeMonitor(hidden, name="hidden_spikes")
    voltage = b2.StateMonitor(output, "v", record=True, when="after_groups", name="output_voltage")
    synapses = (input_hidden, hidden_hidden, hidden_output)
    objects = [inp, hidden, output, *(s for s in synapses if s is not None), spikes, voltage]
    return Brian2Network(
        network=b2.Network(*objects),
        clock=b2.defaultclock,
        input=inp,
        hidden=hidden,
        output=output,
        input_hidden=input_hidden,
        hidden_hidden=hidden_hidden,
        hidden_output=hidden_output,
        hidden_spikes=spikes,
        output_voltage=voltage,
        input_counts=input_counts,
        params=dict(params),
        dt=dt,
        n_steps=None if n_steps is None else int(n_steps),
        n_copies=n_copies,
        max_count=max_count,
        samples_per_run=per_run,
        period=None if period is None else int(period),
        weight=weight,
        namespace=namespace,
        synapse_index=connect.index,
    )


def _neuron_groups(params, space, namespace, n_copies: int, *, gated: bool):
    """The hidden LIF group (with positions) and the output leaky integrators.

    ``gated``: several samples per run; the hidden threshold is off in the gaps between
    samples and ``v``, ``I`` of both groups are set to 0 at the start of each sample.
    """
    import brian2 as b2
    from brian2 import ms

    t_ref = float(params.get("refractory", 0.0))  # format-1 files have none
    tau_mem, tau_syn = float(params["tau_mem"]), float(params["tau_syn"])
    # v is held at the reset value while refractory: by (unless refractory), except with
    # equal time constants, where Brian2's exact solution of that system is 0/0 (a factor
    # 1/(not_refractory - 1)); v is then set back to 0 after each refractory update.
    flag = t_ref > 0 and not equal_time_constants(tau_mem, tau_syn)
    hidden = b2.NeuronGroup(
        n_copies * int(params["n_hidden"]),
        neuron_equations(tau_mem, tau_syn, unless_refractory=flag, space=space),
        threshold="v >= theta and timestep(t, dt) % period < n_steps" if gated else "v >= theta",
        reset="v = 0",
        method="exact",
        namespace=namespace,
        name="hidden",
        **({"refractory": t_ref * ms} if t_ref > 0 else {}),
    )
    if t_ref > 0 and not flag:
        hidden.run_regularly(
            "v = v * int(not_refractory)", when="before_thresholds", name="hidden_refractory"
        )
    _set_positions(hidden, params["position_hidden"], space, n_copies)
    output = b2.NeuronGroup(
        n_copies * int(params["n_out"]),
        neuron_equations(tau_mem, tau_syn),
        method="exact",
        namespace=namespace,
        name="output",
    )
    if gated:
        keep = "int(timestep(t, dt) % period > 0)"  # 0 in a sample's first step, else 1
        for group in (hidden, output):
            group.run_regularly(
                f"v = v * {keep}\nI = I * {keep}", when="start", name=f"{group.name}_sample_start"
            )
    return hidden, output


def _set_delays(params, synapses, index, space, dt: float, k_max: int, n_copies: int) -> None:
    """Delays, after connect(): Brian2 computes them from the positions (or free delays).

    A delay beyond the clamp ``k_max`` steps makes the expression ``clip(...)`` it, as the
    twin clamps it; the ``none`` condition keeps Brian2's default delay 0.
    """
    from brian2 import ms

    delays = exact_delays(params)
    for name, syn in synapses.items():
        positional = name == "input_hidden" or params["delays"] == "spatial"
        if syn is None or delays[name] is None or (not positional and params["delays"] == "none"):
            continue
        pre, post = index[name]
        if positional:
            syn.delay = delay_expression(
                space, clip=bool((delays[name][pre, post] / dt > k_max).any())
            )
        else:  # free delays: the stored values, clamped
            syn.delay = np.tile(delays[name][pre, post].clip(0, k_max * dt), n_copies) * ms


# ----------------------------------------------------------------------------- helpers


def _check_layout(input_mode: str, n_steps, n_copies: int, max_count: int, per_run: int) -> None:
    if n_copies < 1 or max_count < 1 or per_run < 1:
        raise ValueError("n_copies, max_count and samples_per_run must be >= 1")
    if input_mode not in ("spikegen", "timedarray"):
        raise ValueError(f"input_mode must be 'spikegen' or 'timedarray', got {input_mode!r}")
    if input_mode == "timedarray" and n_steps is None:
        raise ValueError("input_mode='timedarray' needs n_steps")
    if per_run > 1 and input_mode != "timedarray":
        raise ValueError("samples_per_run > 1 needs input_mode='timedarray'")


def _set_positions(group, positions, space: Sequence[str], repeats: int) -> None:
    """Set the position variables ``x, y, ...`` of every copy (µm → metre)."""
    from brian2 import umetre

    positions = np.asarray(positions, dtype=float)
    for k, c in enumerate(space):
        setattr(group, c, np.tile(positions[:, k], repeats) * umetre)


def _gap_steps(params, dt: float, k_max: int) -> int:
    """Steps between samples: longer than any delay and than the refractory period."""
    longest = 0.0
    for name, d in exact_delays(params).items():
        if d is not None and (name != "hidden_hidden" or params["delays"] != "none"):
            longest = max(longest, d[np.asarray(params[f"weight_{name}"]) != 0].max(initial=0))
    n_ref = refractory_steps(float(params.get("refractory", 0.0)), dt)
    # +2: one step against rounding at ties, one so that nothing lands on a sample start
    return max(min(int(np.floor(longest / dt + 0.5)), k_max), n_ref) + 2


class _Connector:
    """Synapses for the non-zero weights ``w[pre, post]`` of a projection, in every copy.

    Remembers, per projection, the ``(pre, post)`` indices of the synapses of copy 0
    within their populations, in Brian2's synapse order (:attr:`index`).
    """

    def __init__(self, namespace, weight: str, n_copies: int):
        self.namespace, self.weight, self.n_copies = namespace, weight, n_copies
        self.index: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, pre, post, w, name: str, count_copies: int = 1):
        """``Synapses(pre, post, on_pre='I_post += w')``, or None when every weight is 0.

        ``count_copies``: the presynaptic population is repeated that many times per
        network copy (the input's count copies), each repetition with the same weights.
        """
        import brian2 as b2

        w = np.asarray(w, dtype=float)
        ii, jj = np.nonzero(w)  # i-major order, as Brian2's connect()
        self.index[name] = (ii, jj)
        if ii.size == 0:
            return None
        blocks = np.arange(self.n_copies * count_copies)  # (network copy, count copy)
        pre_offset = blocks * w.shape[0]
        post_offset = (blocks // count_copies) * w.shape[1]
        syn = b2.Synapses(
            pre,
            post,
            f"{self.weight} : 1 (constant)",
            on_pre=f"I_post += {self.weight}",
            namespace=self.namespace,
            name=name,
        )
        syn.connect(i=(pre_offset[:, None] + ii).ravel(), j=(post_offset[:, None] + jj).ravel())
        setattr(syn, self.weight, np.tile(w[ii, jj], blocks.size))
        return syn
