"""Brian2 export of a spatialsnn network (docs/brian2.md).

This is the only module of spatialsnn that imports :mod:`brian2` (and brian2cuda),
always inside functions, so ``import spatialsnn.brian2`` works without them and the
error names the extra to install.

Mapping (twin → Brian2; see ``docs/brian2.md``)
------------------------------------------------
=========================  ==========================================================
twin                        Brian2
=========================  ==========================================================
hidden LIF population       ``NeuronGroup`` ``hidden``: ``dv/dt = (I - v)/tau_mem``,
                            ``dI/dt = -I/tau_syn``, ``method='exact'``, threshold
                            ``v >= theta``, reset ``v = 0``; with a refractory
                            period ``refractory=refractory`` and ``(unless
                            refractory)`` on ``v`` (none in the paper's model)
positions (µm)              constant state variables ``x, y(, z, w)`` in ``metre``
LI outputs                  ``NeuronGroup`` ``output``: same equations, no threshold
input spike counts          ``input``: a ``SpikeGeneratorGroup`` (user scripts) or a
                            ``NeuronGroup`` driven by the ``TimedArray``
                            ``input_counts`` (standalone runs over many samples);
                            a count ``c`` is delivered as ``c`` spikes of ``c``
                            *count copies* of the channel (below)
weights ``[pre, post]``     ``Synapses`` ``input_hidden``, ``hidden_hidden``,
                            ``hidden_output``, ``on_pre='I_post += w'``, connected
                            with ``i = pre``, ``j = post`` (zero weights dropped)
delays                      set by Brian2 from the positions after ``connect()``:
                            ``delay = 'sqrt((x_pre - x_post)**2 + ...) / velocity'``;
                            free delays are set from the stored values, ``none``
                            leaves them at 0
output trace                ``StateMonitor(output, 'v', when='after_groups')``
=========================  ==========================================================

Count delivery
    A ``SpikeGeneratorGroup`` refuses two spikes of one neuron in one time step, but a
    bin of binned data may hold several spikes of one channel. Every input channel is
    therefore represented by ``max_count`` neurons, its *count copies*
    ``m = 0 .. max_count-1``: copy ``m`` spikes in a step iff the channel's count in
    that step is larger than ``m``. Each copy has the channel's synapses (same weight,
    same position, hence the same delay), so a count ``c`` adds exactly ``c * w`` to
    ``I``. Input neuron ``k = (b*max_count + m)*n_in + c`` is count copy ``m`` of
    channel ``c`` in network copy ``b``.

Many samples
    ``n_copies`` independent copies of the whole network can be simulated in one
    Brian2 run (copy ``b`` owns neurons ``b*n .. (b+1)*n - 1`` of every group).
    :class:`Simulator` builds once and then runs any number of samples: in runtime
    mode with ``store()``/``restore()`` and new spike-generator contents per chunk, in
    ``cpp_standalone``/``cuda_standalone`` mode by compiling once and re-running the
    binary with a new ``input_counts`` TimedArray per chunk (Brian2's ``run_args``
    command line), several binaries in parallel with ``jobs > 1``. In one standalone
    run every copy simulates ``samples_per_run`` samples one after the other, separated
    by gaps longer than the longest delay in which the hidden threshold is off; ``v``
    and ``I`` are reset at the start of each sample (see :func:`build_network`).

The functions in the section *portable code* depend on numpy and brian2 only: they are
copied verbatim into the scripts written by :func:`spatialsnn.export.write_brian2_script`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BRIAN2_EXTRA",
    "CUDA_EXTRA",
    "DEVICES",
    "Brian2Network",
    "Brian2RunError",
    "SimulationResult",
    "Simulator",
    "brian2_version",
    "build_network",
    "configure_brian2cuda",
    "delay_expression",
    "hidden_spike_raster",
    "input_count_table",
    "network_params",
    "output_voltage_trace",
    "readout",
    "require_brian2",
    "set_input_spikes",
    "to_brian2",
]

#: Install hint for the Brian2 extra.
BRIAN2_EXTRA = 'pip install "spatialsnn[brian2]"'
#: Install hint for the brian2cuda extra.
CUDA_EXTRA = 'pip install "spatialsnn[cuda]"'
#: Devices :class:`Simulator` runs on.
DEVICES = ("runtime", "cpp_standalone", "cuda_standalone")
#: Runtime code-generation targets.
TARGETS = ("numpy", "cython")
PRECISIONS = ("float64", "float32")


class Brian2RunError(RuntimeError):
    """Brian2 failed to build or run a network; the message says where and why."""


def require_brian2():
    """Import and return :mod:`brian2`, or raise an ImportError naming the extra.

    Returns
    -------
    module
        The ``brian2`` package.

    Raises
    ------
    ImportError
        If brian2 is not installed (or does not import, e.g. with numpy >= 2.4 for
        brian2 < 2.10).
    """
    try:
        import brian2
    except ImportError as err:
        raise ImportError(
            f"the Brian2 export needs brian2 ({err}); install it with: {BRIAN2_EXTRA}"
        ) from err
    except AttributeError as err:  # brian2 2.9 on numpy 2.4: ndarray.ptp was removed
        raise ImportError(
            f"brian2 does not import with this numpy ({err}); brian2 < 2.10 needs "
            f'numpy < 2.4: pip install "numpy<2.4", or reinstall with: {BRIAN2_EXTRA}'
        ) from err
    return brian2


# --------------------------------------------------------------------------------------
# Parameters: a spatialsnn model as a flat dict of numpy arrays (no brian2 needed)
# --------------------------------------------------------------------------------------


def network_params(model_or_path: Any) -> dict[str, Any]:
    """The parameters Brian2 needs, as a flat dict of numpy values (the export's .npz).

    Parameters
    ----------
    model_or_path : SpatialSNN, str, path-like or dict
        A model, a model file (format v1 or v2), or a dict already returned by this function
        (returned unchanged).

    Returns
    -------
    dict
        ``n_in, n_hidden, n_out, dims`` (int); ``space`` (str array, coordinate names);
        ``dt, tau_mem, tau_syn, max_delay, refractory`` (ms), ``velocity`` (µm/ms),
        ``threshold``
        (float); ``delays`` (``"spatial" | "free" | "none"``), ``readout`` (str);
        ``position_hidden`` ``[n_hidden, dims]`` µm; ``weight_input_hidden``
        ``[n_in, n_hidden]``, ``weight_hidden_hidden`` ``[pre, post]``,
        ``weight_hidden_output`` ``[n_hidden, n_out]`` (float64, presynaptic first);
        optionally ``position_input`` ``[n_in, dims]`` µm and ``delay_hidden_hidden``
        ``[pre, post]`` ms (free delays).

    Raises
    ------
    spatialsnn.ModelFileError
        For a path that is not a valid model file.
    """
    if isinstance(model_or_path, Mapping):
        return dict(model_or_path)
    if isinstance(model_or_path, (str, os.PathLike)):
        from spatialsnn.io import load

        model = load(model_or_path)
    else:
        model = model_or_path
    import torch

    def arr(t: torch.Tensor, transpose: bool = False) -> np.ndarray:
        a = t.detach().cpu().to(torch.float64).numpy()
        return np.ascontiguousarray(a.T if transpose else a)

    hp = model.hparams
    p: dict[str, Any] = {
        "format": "spatialsnn-brian2-params",
        "format_version": 2,
        "n_in": int(hp["n_in"]),
        "n_hidden": int(hp["n_hidden"]),
        "n_out": int(hp["n_out"]),
        "dims": int(hp["dims"]),
        "space": np.array(model.space),
        "dt": float(hp["dt"]),
        "tau_mem": float(hp["tau_mem"]),
        "tau_syn": float(hp["tau_syn"]),
        "threshold": float(hp["threshold"]),
        "refractory": float(hp["refractory"]),
        "velocity": float(hp["velocity"]),
        "max_delay": float(hp["max_delay"]),
        "delays": str(hp["delays"]),
        "readout": str(hp["readout"]),
        "position_hidden": arr(model.positions),
        "weight_input_hidden": arr(model.w_in, transpose=True),
        "weight_hidden_hidden": arr(model.w_rec, transpose=True),
        "weight_hidden_output": arr(model.w_out, transpose=True),
    }
    if model.input_positions is not None:
        p["position_input"] = arr(model.input_positions)
    if model.rec_delay is not None:
        p["delay_hidden_hidden"] = arr(model.rec_delay, transpose=True)
    return p


# --------------------------------------------------------------------------------------
# Portable code: copied verbatim into exported scripts; numpy and brian2 only.
# --------------------------------------------------------------------------------------


def delay_expression(space, clip=False):
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


def build_network(
    params,
    *,
    n_steps=None,
    input_mode="spikegen",
    max_count=1,
    n_copies=1,
    dt=None,
    samples_per_run=1,
):
    """Build the Brian2 objects of a spatialsnn network.

    Call ``brian2.set_device(...)`` and set ``brian2.prefs`` (target, float dtype)
    before this function, as for any Brian2 object.

    Parameters
    ----------
    params : mapping
        The network parameters (:func:`spatialsnn.brian2.network_params`, or the
        arrays of an exported ``.npz`` file).
    n_steps : int, optional
        Number of time steps of a sample; required for ``input_mode="timedarray"``.
    input_mode : {"spikegen", "timedarray"}
        ``"spikegen"``: ``input`` is a ``SpikeGeneratorGroup``, filled with
        :func:`set_input_spikes`. ``"timedarray"``: ``input`` is a ``NeuronGroup``
        that fires from the ``TimedArray`` ``input_counts`` (counts per step and
        channel, see :func:`input_count_table`), which standalone devices can
        replace per run.
    max_count : int
        Largest spike count of one channel in one step that can be delivered (the
        number of count copies per channel).
    n_copies : int
        Independent copies of the network, one sample each.
    dt : float, optional
        Time step in ms; defaults to the model's.
    samples_per_run : int
        Timedarray mode only: samples simulated one after the other by each copy in
        one run. Sample ``s`` occupies steps ``s*period .. s*period + n_steps - 1``,
        ``period = n_steps + gap``; during the ``gap`` (longer than the longest delay)
        the hidden threshold is switched off so that spikes in flight arrive without
        causing new ones, and ``v`` and ``I`` of ``hidden`` and ``output`` are set to
        0 at the start of every sample. Within a sample the network is the one above.

    Returns
    -------
    dict
        ``network`` (``brian2.Network``), ``clock``, the groups ``input``, ``hidden``,
        ``output``, the synapses ``input_hidden``, ``hidden_hidden``, ``hidden_output``
        (None where a projection has no non-zero weight), the monitors
        ``hidden_spikes`` (``SpikeMonitor``) and ``output_voltage`` (``StateMonitor``
        of ``v``, ``when='after_groups'``), ``input_counts`` (the TimedArray or None),
        ``namespace``, ``synapses`` (per projection, the ``(pre, post)`` indices of the
        synapses of copy 0 within their populations, in Brian2's synapse order), and
        the scalars ``dt`` (ms), ``n_steps``, ``n_in``, ``n_hidden``, ``n_out``,
        ``n_copies``, ``max_count``, ``samples_per_run``, ``period`` (steps per sample
        including the gap), ``weight`` (the name of the weight variable: ``w``, or
        ``w_syn`` when a coordinate is called ``w``).
    """
    import brian2 as b2
    import numpy as np
    from brian2 import ms, umetre

    dt_ms = float(params["dt"]) if dt is None else float(dt)
    n_in, n_hid, n_out = int(params["n_in"]), int(params["n_hidden"]), int(params["n_out"])
    space = [str(c) for c in np.atleast_1d(params["space"])]
    n_copies, max_count, per_run = int(n_copies), int(max_count), int(samples_per_run)
    if n_copies < 1 or max_count < 1 or per_run < 1:
        raise ValueError("n_copies, max_count and samples_per_run must be >= 1")
    if input_mode not in ("spikegen", "timedarray"):
        raise ValueError(f"input_mode must be 'spikegen' or 'timedarray', got {input_mode!r}")
    if input_mode == "timedarray" and n_steps is None:
        raise ValueError("input_mode='timedarray' needs n_steps")
    if per_run > 1 and input_mode != "timedarray":
        raise ValueError("samples_per_run > 1 needs input_mode='timedarray'")

    w_in = np.asarray(params["weight_input_hidden"], dtype=float)  # [pre, post]
    w_rec = np.asarray(params["weight_hidden_hidden"], dtype=float)
    w_out = np.asarray(params["weight_hidden_output"], dtype=float)
    pos_hid = np.asarray(params["position_hidden"], dtype=float)  # [neuron, space], um
    pos_in = params["position_input"] if "position_input" in params else None
    pos_in = None if pos_in is None else np.asarray(pos_in, dtype=float)
    kind = str(params["delays"])
    speed = float(params["velocity"])  # um/ms; not "velocity": see namespace
    # Delays longer than max_delay are clamped (as in the twin): to whole steps.
    kmax = int(np.floor(float(params["max_delay"]) / dt_ms + 0.5))

    def distance_delay(pre, post):  # exact delays in ms, [pre, post]
        return np.sqrt(((pre[:, None, :] - post[None, :, :]) ** 2).sum(-1)) / speed

    d_rec = {
        "spatial": lambda: distance_delay(pos_hid, pos_hid),
        "free": lambda: np.asarray(params["delay_hidden_hidden"], dtype=float).clip(0),
        "none": lambda: np.zeros_like(w_rec),
    }[kind]()
    d_in = np.zeros_like(w_in) if pos_in is None else distance_delay(pos_in, pos_hid)

    tau_m, tau_s = float(params["tau_mem"]), float(params["tau_syn"])
    # Equal time constants: one symbol for both, so that Brian2's exact solver returns
    # the degenerate solution instead of dividing by (tau_mem - tau_syn) = 0.
    same_tau = abs(tau_m - tau_s) <= 1e-9 * max(tau_m, tau_s)
    weight = "w_syn" if "w" in space else "w"
    # refractory period in ms (absent from files of format 1: none)
    t_ref = float(params["refractory"]) if "refractory" in params else 0.0
    n_ref = int((t_ref + 1e-3 * dt_ms) / dt_ms)  # Brian2's timestep(refractory, dt)
    namespace = {
        "tau_mem": tau_m * ms,
        "tau_syn": tau_s * ms,
        "theta": float(params["threshold"]),
        "velocity": speed * umetre / ms,
        "max_delay": kmax * dt_ms * ms,
    }
    threshold = "v >= theta"
    period = n_steps
    if per_run > 1:  # gap: longer than any delay (+1 step against rounding at ties)
        longest = max(d_rec[w_rec != 0].max(initial=0), d_in[w_in != 0].max(initial=0))
        # ... and than the refractory period, so no sample starts refractory
        period = int(n_steps) + max(min(int(np.floor(longest / dt_ms + 0.5)), kmax), n_ref) + 2
        namespace.update(period=period, n_steps=int(n_steps))
        threshold = "v >= theta and timestep(t, dt) % period < n_steps"
    # Every object runs on Brian2's defaultclock, as in any Brian2 script (brian2cuda
    # requires it: its spike propagation code refers to the defaultclock).
    b2.defaultclock.dt = dt_ms * ms
    clock = b2.defaultclock
    positions = "".join(f"{c} : metre (constant)\n" for c in space)
    v_eq = "dv/dt = (I - v)/tau_mem : 1"
    i_eq = "dI/dt = -I/tau_mem : 1" if same_tau else "dI/dt = -I/tau_syn : 1"
    neuron = f"{v_eq}\n{i_eq}\n"

    refractory = {}
    hidden_eqs = neuron
    if t_ref > 0:  # held at the reset value (unless refractory), threshold off meanwhile
        refractory = {"refractory": t_ref * ms}
        hidden_eqs = f"{v_eq} (unless refractory)\n{i_eq}\n"
    hidden = b2.NeuronGroup(
        n_copies * n_hid,
        hidden_eqs + positions,
        threshold=threshold,
        reset="v = 0",
        method="exact",
        namespace=namespace,
        name="hidden",
        **refractory,
    )
    for k, c in enumerate(space):
        setattr(hidden, c, np.tile(pos_hid[:, k], n_copies) * umetre)
    output = b2.NeuronGroup(
        n_copies * n_out, neuron, method="exact", namespace=namespace, name="output"
    )
    if per_run > 1:  # a fresh start for every sample: v = I = 0 in its first step
        keep = "int(timestep(t, dt) % period > 0)"  # 0 in a sample's first step, else 1
        for group in (hidden, output):
            group.run_regularly(
                f"v = v * {keep}\nI = I * {keep}", when="start", name=f"{group.name}_sample_start"
            )

    # Input neuron k = (b*max_count + m)*n_in + c: count copy m of channel c, copy b.
    n_input = n_copies * max_count * n_in
    input_counts = None
    if input_mode == "spikegen":
        inp = b2.SpikeGeneratorGroup(
            n_input, np.zeros(0, dtype=int), np.zeros(0) * ms, name="input"
        )
        if pos_in is not None:  # a SpikeGeneratorGroup has no equations: add the variables
            for c in space:
                inp.variables.add_array(c, size=n_input, dimensions=umetre.dim, constant=True)
    else:
        input_counts = b2.TimedArray(
            np.zeros((per_run * int(period), n_copies * n_in)), dt=dt_ms * ms, name="input_counts"
        )
        eqs = "channel : integer (constant)\nrank : integer (constant)\n"
        inp = b2.NeuronGroup(
            n_input,
            eqs + (positions if pos_in is not None else ""),
            threshold="input_counts(t, channel) > rank",
            reset="",
            namespace={"input_counts": input_counts},
            name="input",
        )
        k = np.arange(n_input)
        inp.channel = (k // (max_count * n_in)) * n_in + k % n_in  # column of input_counts
        inp.rank = (k // n_in) % max_count
    if pos_in is not None:
        for k, c in enumerate(space):
            setattr(inp, c, np.tile(pos_in[:, k], n_copies * max_count) * umetre)

    def project(pre, post, w, name, pre_offsets, post_offsets):
        """Synapses with the non-zero entries of w [pre, post], once per offset pair."""
        ii, jj = np.nonzero(w)  # i-major order, as Brian2's connect()
        if ii.size == 0:
            return None, (ii, jj)
        syn = b2.Synapses(
            pre,
            post,
            f"{weight} : 1 (constant)",
            on_pre=f"I_post += {weight}",
            namespace=namespace,
            name=name,
        )
        syn.connect(i=(pre_offsets[:, None] + ii).ravel(), j=(post_offsets[:, None] + jj).ravel())
        setattr(syn, weight, np.tile(w[ii, jj], len(pre_offsets)))
        return syn, (ii, jj)

    copies = np.arange(n_copies)
    blocks = np.arange(n_copies * max_count)  # (copy, count copy) pairs
    s_in, idx_in = project(
        inp, hidden, w_in, "input_hidden", blocks * n_in, (blocks // max_count) * n_hid
    )
    s_rec, idx_rec = project(hidden, hidden, w_rec, "hidden_hidden", copies * n_hid, copies * n_hid)
    s_out, _ = project(hidden, output, w_out, "hidden_output", copies * n_hid, copies * n_out)

    # Delays: connect() first, then let Brian2 compute them from the positions.
    def clip(d, index):  # does any delay exceed the clamp?
        return bool((d[index] / dt_ms > kmax).any())

    if s_rec is not None and kind == "spatial":
        s_rec.delay = delay_expression(space, clip(d_rec, idx_rec))
    elif s_rec is not None and kind == "free":
        s_rec.delay = np.tile(d_rec[idx_rec].clip(0, kmax * dt_ms), n_copies) * ms
    if s_in is not None and pos_in is not None:
        s_in.delay = delay_expression(space, clip(d_in, idx_in))

    spikes = b2.SpikeMonitor(hidden, name="hidden_spikes")
    voltage = b2.StateMonitor(output, "v", record=True, when="after_groups", name="output_voltage")
    objects = [inp, hidden, output, s_in, s_rec, s_out, spikes, voltage]
    objects = [o for o in objects if o is not None]  # not `if o`: empty monitors are falsy
    return {
        "network": b2.Network(*objects),
        "clock": clock,
        "input": inp,
        "hidden": hidden,
        "output": output,
        "input_hidden": s_in,
        "hidden_hidden": s_rec,
        "hidden_output": s_out,
        "hidden_spikes": spikes,
        "output_voltage": voltage,
        "input_counts": input_counts,
        "namespace": namespace,
        "synapses": {"input_hidden": idx_in, "hidden_hidden": idx_rec},
        "dt": dt_ms,
        "n_steps": None if n_steps is None else int(n_steps),
        "n_in": n_in,
        "n_hidden": n_hid,
        "n_out": n_out,
        "n_copies": n_copies,
        "max_count": max_count,
        "samples_per_run": per_run,
        "period": None if period is None else int(period),
        "weight": weight,
    }


def set_input_spikes(net, counts):
    """Load spike counts into the ``SpikeGeneratorGroup`` of a network.

    A count ``c`` of channel ``ch`` in step ``t`` becomes one spike, at ``t * dt``, of
    each of the count copies ``0 .. c-1`` of ``ch``.

    Parameters
    ----------
    net : dict
        A network from :func:`build_network` with ``input_mode="spikegen"``.
    counts : array of int, shape (n_steps, n_in) or (n_samples, n_steps, n_in)
        Spike counts per step; ``n_samples <= n_copies`` (copies beyond get no input).
    """
    import numpy as np
    from brian2 import ms

    counts = np.asarray(counts)
    if counts.ndim == 2:
        counts = counts[None]
    n_in, max_count = net["n_in"], net["max_count"]
    if counts.ndim != 3 or counts.shape[2] != n_in or counts.shape[0] > net["n_copies"]:
        raise ValueError(
            f"counts must be [n_samples <= {net['n_copies']}, n_steps, {n_in}], got {counts.shape}"
        )
    if counts.size and (counts.min() < 0 or counts.max() > max_count):
        raise ValueError(f"counts must lie in [0, max_count={max_count}]")
    b, t, c = np.nonzero(counts)
    n = counts[b, t, c].astype(np.int64)
    event = np.repeat(np.arange(n.size), n)  # one entry per spike
    rank = np.arange(event.size) - np.repeat(np.cumsum(n) - n, n)
    index = (b[event] * max_count + rank) * n_in + c[event]
    net["input"].set_spikes(index, t[event] * net["dt"] * ms)


def input_count_table(counts, n_copies, samples_per_run=1, period=None):
    """Spike counts as the values of the ``input_counts`` TimedArray.

    Parameters
    ----------
    counts : array, shape (n_samples, n_steps, n_in)
        Spike counts, ``n_samples <= n_copies * samples_per_run``. Sample ``j`` goes to
        network copy ``j % n_copies``, slot ``j // n_copies``.
    n_copies : int
        Copies of the network.
    samples_per_run : int
        Samples one after the other per copy (see :func:`build_network`).
    period : int, optional
        Steps per sample including the gap (default: ``n_steps``).

    Returns
    -------
    numpy.ndarray of float64, shape (samples_per_run * period, n_copies * n_in)
        Row ``s*period + t``, column ``b*n_in + c``: channel ``c`` at step ``t`` of the
        sample in slot ``s`` of copy ``b`` (zeros in gaps and unused slots).
    """
    import numpy as np

    counts = np.asarray(counts)
    n, n_steps, n_in = counts.shape
    period = n_steps if period is None else int(period)
    if n > n_copies * samples_per_run:
        raise ValueError(f"{n} samples do not fit {n_copies} copies x {samples_per_run} slots")
    table = np.zeros((samples_per_run, period, n_copies, n_in))
    j = np.arange(n)
    table[j // n_copies, :n_steps, j % n_copies] = counts
    return table.reshape(samples_per_run * period, n_copies * n_in)


def hidden_spike_raster(net, n_steps=None):
    """Hidden spikes recorded in a run, as a boolean raster per network copy.

    Parameters
    ----------
    net : dict
        A network from :func:`build_network` after ``net["network"].run(...)``.
    n_steps : int, optional
        Length of the run in steps (default: the number of steps recorded by the
        output-voltage monitor, i.e. everything run so far).

    Returns
    -------
    numpy.ndarray of bool, shape (n_copies, n_steps, n_hidden)
    """
    import numpy as np

    if n_steps is None:  # the steps run so far (the output monitor records every step)
        n_steps = len(net["output_voltage"].t) or net["n_steps"] or 0
    i = np.asarray(net["hidden_spikes"].i[:], dtype=np.int64)
    step = np.rint(np.asarray(net["hidden_spikes"].t_[:]) / (net["dt"] * 1e-3)).astype(np.int64)
    raster = np.zeros((net["n_copies"], n_steps, net["n_hidden"]), dtype=bool)
    raster[i // net["n_hidden"], step, i % net["n_hidden"]] = True
    return raster


def output_voltage_trace(net):
    """Membrane of the output neurons after each step's state update.

    Returns
    -------
    numpy.ndarray of float64, shape (n_copies, n_steps, n_out)
    """
    import numpy as np

    v = np.asarray(net["output_voltage"].v[:], dtype=np.float64)  # [copies*n_out, steps]
    return v.reshape(net["n_copies"], net["n_out"], -1).transpose(0, 2, 1)


def readout(voltage, kind="exp_mean"):
    """Class scores from the output membrane, as the twin computes them.

    Parameters
    ----------
    voltage : array, shape (..., n_steps, n_out)
        Output membrane after each step's state update.
    kind : {"exp_mean", "sum", "max", "last"}
        ``exp_mean``: ``(1/T) sum_t exp(-t/T) V(t)`` (t, T in steps).

    Returns
    -------
    numpy.ndarray, shape (..., n_out)
    """
    import numpy as np

    voltage = np.asarray(voltage, dtype=np.float64)
    n_steps = voltage.shape[-2]
    if kind == "exp_mean":
        weights = np.exp(-np.arange(n_steps) / n_steps)
        return (voltage * weights[:, None]).sum(-2) / n_steps
    if kind == "sum":
        return voltage.sum(-2)
    if kind == "max":
        return voltage.max(-2)
    if kind == "last":
        return voltage[..., -1, :]
    raise ValueError(f"unknown readout {kind!r}")


# --------------------------------------------------------------------------------------
# User-facing objects
# --------------------------------------------------------------------------------------


@dataclass
class Brian2Network:
    """The Brian2 objects of one exported network (see :func:`to_brian2`).

    Attributes
    ----------
    network : brian2.Network
        Holds every object below; ``network.run(n_steps * dt)``.
    clock : brian2.Clock
        ``brian2.defaultclock``, the clock of every object; :func:`to_brian2` sets its
        ``dt``.
    input : brian2.SpikeGeneratorGroup or brian2.NeuronGroup
        ``max_count * n_in`` neurons per copy (count copies, see the module docstring);
        position variables ``x, y, ...`` (metre) when the model has input positions.
    hidden : brian2.NeuronGroup
        LIF neurons with ``v``, ``I`` (dimensionless) and positions ``x, y, ...``.
    output : brian2.NeuronGroup
        Leaky integrators with ``v``, ``I``.
    input_hidden, hidden_hidden, hidden_output : brian2.Synapses or None
        Weight variable ``w`` (``w_syn`` for 4-D space), ``on_pre='I_post += w'``.
    hidden_spikes : brian2.SpikeMonitor
        Spikes of ``hidden``.
    output_voltage : brian2.StateMonitor
        ``output.v`` recorded right after the state update (``when='after_groups'``).
    input_counts : brian2.TimedArray or None
        Counts ``[n_steps, n_copies * n_in]`` driving ``input`` (timedarray mode).
    params : dict
        The parameters (:func:`network_params`).
    objects : dict
        Everything :func:`build_network` returned.
    """

    network: Any
    clock: Any
    input: Any
    hidden: Any
    output: Any
    input_hidden: Any
    hidden_hidden: Any
    hidden_output: Any
    hidden_spikes: Any
    output_voltage: Any
    input_counts: Any
    params: dict[str, Any]
    objects: dict[str, Any] = field(repr=False)

    @property
    def dt(self) -> float:
        """Time step, ms."""
        return self.objects["dt"]

    @property
    def n_steps(self) -> int | None:
        """Steps of a run (set by :meth:`set_input` or at construction)."""
        return self.objects["n_steps"]

    def set_input(self, counts: np.ndarray) -> None:
        """Deliver spike counts ``[n_steps, n_in]`` or ``[n_samples, n_steps, n_in]``.

        In spikegen mode the generator is refilled; in timedarray mode (runtime device
        only) the TimedArray's values are replaced in place, so the shape must match.
        """
        counts = np.asarray(counts)
        if counts.ndim == 2:
            counts = counts[None]
        if self.input_counts is None:
            set_input_spikes(self.objects, counts)
        else:
            table = input_count_table(counts, self.objects["n_copies"])
            if table.shape != self.input_counts.values.shape:
                raise ValueError(
                    f"counts give a table {table.shape}, expected {self.input_counts.values.shape}"
                )
            if counts.max(initial=0) > self.objects["max_count"]:
                raise ValueError(f"counts exceed max_count={self.objects['max_count']}")
            self.input_counts.values[:] = table
        self.objects["n_steps"] = counts.shape[1]

    def run(self, n_steps: int | None = None, **kwargs: Any) -> None:
        """Run ``n_steps`` steps (default: the length of the last input).

        Sets ``brian2.defaultclock.dt`` to this network's ``dt`` first.
        """
        from brian2 import defaultclock, ms

        n_steps = self.n_steps if n_steps is None else n_steps
        if n_steps is None:
            raise ValueError("give n_steps or call set_input first")
        defaultclock.dt = self.dt * ms
        self.network.run(n_steps * self.dt * ms, **kwargs)

    def hidden_spike_raster(self) -> np.ndarray:
        """Hidden spikes, bool ``[n_copies, n_steps, n_hidden]``."""
        return hidden_spike_raster(self.objects)

    def output_voltage_trace(self) -> np.ndarray:
        """Output membrane, ``[n_copies, n_steps, n_out]``."""
        return output_voltage_trace(self.objects)

    def logits(self) -> np.ndarray:
        """The model's readout of the output membrane, ``[n_copies, n_out]``."""
        return readout(self.output_voltage_trace(), self.params["readout"])


def to_brian2(
    model_or_path: Any,
    *,
    dt: float | None = None,
    counts: np.ndarray | None = None,
    input: str = "spikegen",
    max_count: int | None = None,
    n_copies: int = 1,
    n_steps: int | None = None,
) -> Brian2Network:
    """Build the Brian2 network of a spatialsnn model.

    Set the device (``brian2.set_device``) and preferences (``brian2.prefs``) before
    calling, as for any Brian2 object. All objects run on ``brian2.defaultclock``, whose
    ``dt`` this sets.

    Parameters
    ----------
    model_or_path : SpatialSNN, path-like or dict
        The model, a model file, or :func:`network_params` output.
    dt : float, optional
        Time step in ms (default: the model's). Delays are rounded to this grid by
        Brian2 (``int(d/dt + 0.5)``); inputs are delivered at whole steps.
    counts : array of int, shape (n_steps, n_in) or (n_samples, n_steps, n_in), optional
        Input spike counts per step of ``dt`` to load (``n_samples <= n_copies``). For a
        ``dt`` finer than the data's bins, spread them first, e.g. with
        :func:`spatialsnn.validate.upsample_counts`.
    input : {"spikegen", "timedarray"}
        Input as a ``SpikeGeneratorGroup`` or as a TimedArray-driven ``NeuronGroup``.
    max_count : int, optional
        Largest count per step and channel to deliver (default: ``counts.max()``, at
        least 1).
    n_copies : int
        Independent copies of the network (one sample each).
    n_steps : int, optional
        Steps of a run (default: from ``counts``); needed for ``input="timedarray"``.

    Returns
    -------
    Brian2Network

    Examples
    --------
    >>> net = to_brian2("model.nc", counts=x[0])          # doctest: +SKIP
    >>> net.run()                                         # doctest: +SKIP
    >>> net.hidden_spikes.i, net.hidden_spikes.t          # doctest: +SKIP
    """
    require_brian2()
    params = network_params(model_or_path)
    if counts is not None:
        counts = np.asarray(counts)
        if counts.ndim == 2:
            counts = counts[None]
        n_steps = counts.shape[1] if n_steps is None else n_steps
        if max_count is None:
            max_count = max(1, int(counts.max(initial=0)))
    objects = build_network(
        params,
        n_steps=n_steps,
        input_mode=input,
        max_count=max_count or 1,
        n_copies=n_copies,
        dt=dt,
    )
    net = Brian2Network(
        network=objects["network"],
        clock=objects["clock"],
        input=objects["input"],
        hidden=objects["hidden"],
        output=objects["output"],
        input_hidden=objects["input_hidden"],
        hidden_hidden=objects["hidden_hidden"],
        hidden_output=objects["hidden_output"],
        hidden_spikes=objects["hidden_spikes"],
        output_voltage=objects["output_voltage"],
        input_counts=objects["input_counts"],
        params=params,
        objects=objects,
    )
    if counts is not None:
        net.set_input(counts)
    return net


# --------------------------------------------------------------------------------------
# brian2cuda
# --------------------------------------------------------------------------------------


def _find_curand(cuda_path: str | None) -> Path | None:
    """A directory ``<d>/include/curand.h`` + ``<d>/lib/libcurand.so*`` if cuda lacks one."""
    if cuda_path and Path(cuda_path, "include", "curand.h").exists():
        return None
    import site

    roots = [*site.getsitepackages(), site.getusersitepackages(), *sys.path]
    for root in roots:
        for sub in ("nvidia/cu13", "nvidia/cu12", "nvidia/curand"):
            d = Path(root, sub)
            if (d / "include" / "curand.h").exists():
                return d
    return None


def configure_brian2cuda(
    *,
    build_dir: str | os.PathLike,
    compute_capability: float | None = None,
    gpu_id: int | None = None,
    cuda_path: str | None = None,
) -> dict[str, Any]:
    """Set brian2cuda preferences so that the project compiles (docs/brian2.md).

    Applies the workarounds measured in ``notes/brian2-probe.md`` §4: without a GPU
    (no ``nvidia-smi``) GPU detection is switched off and ``gpu_id``/``compute_capability``
    are set (default 0 and 9.0 = H100/H200); C++17 is forced for nvcc and gcc (CUDA 13's
    Thrust rejects the template's ``-std=c++11``); when the CUDA toolkit has no cuRAND,
    the one of the ``nvidia-curand`` wheel is used (include and library paths, and a
    ``libcurand.so`` link in ``build_dir``).

    Parameters
    ----------
    build_dir : path-like
        Directory for the ``libcurand.so`` link.
    compute_capability : float, optional
        Compute capability of the target GPU when it cannot be detected.
    gpu_id : int, optional
        GPU to run on when it cannot be detected.
    cuda_path : str, optional
        CUDA installation (default: brian2cuda's detection).

    Returns
    -------
    dict
        The preference values that were changed, ``{name: old value}``, for
        restoring them.
    """
    try:
        import brian2cuda  # noqa: F401  (registers the cuda_standalone device)
    except ImportError as err:
        raise ImportError(f"cuda_standalone needs brian2cuda ({err}): {CUDA_EXTRA}") from err
    from brian2 import prefs

    old: dict[str, Any] = {}

    def setp(name: str, value: Any) -> None:
        old.setdefault(name, prefs[name])
        prefs[name] = value

    be = "devices.cuda_standalone.cuda_backend."
    if cuda_path:
        setp(be + "cuda_path", cuda_path)
    if shutil.which("nvidia-smi") is None or compute_capability is not None:
        setp(be + "detect_gpus", False)
        setp(be + "gpu_id", 0 if gpu_id is None else int(gpu_id))
        setp(be + "compute_capability", 9.0 if compute_capability is None else compute_capability)
    nvcc = [a for a in prefs[be + "extra_compile_args_nvcc"] if not a.startswith("-std=")]
    gcc = [a for a in prefs["codegen.cpp.extra_compile_args_gcc"] if not a.startswith("-std=")]
    setp("codegen.cpp.extra_compile_args_gcc", [*gcc, "-std=c++17"])
    cuda_home = cuda_path or prefs[be + "cuda_path"]
    if cuda_home is None and shutil.which("nvcc"):
        cuda_home = str(Path(os.path.realpath(shutil.which("nvcc"))).parent.parent)
    curand = _find_curand(cuda_home)
    if curand is not None:
        libdir = Path(build_dir, "curand_lib")
        libdir.mkdir(parents=True, exist_ok=True)
        libs = sorted((curand / "lib").glob("libcurand.so*"))
        link = libdir / "libcurand.so"
        if libs and not link.exists():
            link.symlink_to(libs[-1])
        nvcc.append(f"-I{curand / 'include'}")
        setp(
            "codegen.cpp.include_dirs",
            [*prefs["codegen.cpp.include_dirs"], str(curand / "include")],
        )
        setp("codegen.cpp.library_dirs", [*prefs["codegen.cpp.library_dirs"], str(libdir)])
        setp(
            "codegen.cpp.runtime_library_dirs",
            [*prefs["codegen.cpp.runtime_library_dirs"], str(curand / "lib")],
        )
    setp(be + "extra_compile_args_nvcc", [*nvcc, "-std=c++17"])
    return old


# --------------------------------------------------------------------------------------
# Many samples: build once, run chunks
# --------------------------------------------------------------------------------------


@dataclass
class SimulationResult:
    """Hidden spikes and output membrane of a batch of samples simulated by Brian2.

    Attributes
    ----------
    hidden_spikes : numpy.ndarray of bool, shape (n_samples, n_steps, n_hidden)
    output_voltage : numpy.ndarray of float64, shape (n_samples, n_steps, n_out)
    """

    hidden_spikes: np.ndarray
    output_voltage: np.ndarray


class _Prefs:
    """Set Brian2 preferences and restore them afterwards."""

    def __init__(self, values: Mapping[str, Any]):
        self.values = dict(values)
        self.old: dict[str, Any] = {}

    def __enter__(self) -> _Prefs:
        from brian2 import prefs

        for k, v in self.values.items():
            self.old[k] = prefs[k]
            prefs[k] = v
        return self

    def __exit__(self, *exc: Any) -> None:
        from brian2 import prefs

        for k, v in self.old.items():
            prefs[k] = v


def _float_dtype(precision: str) -> type:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return np.float64 if precision == "float64" else np.float32


def _realized_steps(delay_seconds: np.ndarray, dt_ms: float) -> np.ndarray:
    """Integer delays as Brian2's spike queue computes them: ``(int)(d/dt + 0.5)``."""
    return np.floor(np.asarray(delay_seconds, dtype=np.float64) / (dt_ms * 1e-3) + 0.5).astype(
        np.int64
    )


class Simulator:
    """Simulate many samples of one network in Brian2, building it only once.

    Parameters
    ----------
    params : mapping
        :func:`network_params` of the model.
    n_steps : int
        Steps per sample (at ``dt``).
    dt : float, optional
        Time step, ms (default: the model's).
    device : {"runtime", "cpp_standalone", "cuda_standalone"}
        Brian2 device.
    target : {"numpy", "cython"}
        Code-generation target of the runtime device.
    precision : {"float64", "float32"}
        Brian2's ``core.default_float_dtype``.
    max_count : int
        Largest spike count per step and channel that runs may deliver.
    batch : int, optional
        Network copies simulated side by side in one run. Default: 16 (runtime), 1
        (standalone).
    samples_per_run : int, optional
        Standalone devices: samples each copy simulates one after the other in one run
        of the binary (see :func:`build_network`). Default: 32 (standalone); the
        runtime device always uses 1 (it restores the network between runs instead).
    jobs : int
        Parallel processes: runtime workers, or concurrent runs of the standalone
        binary (use 1 for cuda_standalone).
    build_dir : path-like, optional
        Standalone project directory (kept); default: a temporary directory, deleted
        by :meth:`close`.
    cuda_options : dict, optional
        Keyword arguments of :func:`configure_brian2cuda` (``compute_capability``,
        ``gpu_id``, ``cuda_path``).

    Examples
    --------
    >>> with Simulator(network_params(model), n_steps=100) as sim:   # doctest: +SKIP
    ...     sim.build()
    ...     result = sim.run(x)          # x: counts [n_samples, 100, n_in]
    """

    def __init__(
        self,
        params: Mapping[str, Any],
        *,
        n_steps: int,
        dt: float | None = None,
        device: str = "runtime",
        target: str = "numpy",
        precision: str = "float64",
        max_count: int = 1,
        batch: int | None = None,
        samples_per_run: int | None = None,
        jobs: int = 1,
        build_dir: str | os.PathLike | None = None,
        cuda_options: Mapping[str, Any] | None = None,
    ) -> None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        _float_dtype(precision)
        if int(n_steps) < 1 or int(max_count) < 1 or int(jobs) < 1:
            raise ValueError("n_steps, max_count and jobs must be >= 1")
        self.params = dict(params)
        self.n_steps = int(n_steps)
        self.dt = float(self.params["dt"] if dt is None else dt)
        self.device = device
        self.target = target
        self.precision = precision
        self.max_count = int(max_count)
        self.batch = int(batch) if batch else (16 if device == "runtime" else 1)
        if device == "runtime":
            self.samples_per_run = 1
        else:
            self.samples_per_run = int(samples_per_run) if samples_per_run else 32
        self.jobs = int(jobs)
        self.cuda_options = dict(cuda_options or {})
        self._own_dir = build_dir is None
        self.build_dir = Path(build_dir) if build_dir is not None else None
        #: Seconds spent building (objects, code generation, compilation).
        self.build_seconds = 0.0
        #: Seconds spent in runs.
        self.run_seconds = 0.0
        #: Number of Brian2 runs (binary invocations or ``Network.run`` calls).
        self.n_runs = 0
        self._impl: _RuntimeImpl | _StandaloneImpl | _PoolImpl | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop workers and delete the temporary project directory."""
        if self._impl is not None:
            self._impl.close()
            self._impl = None
        if self._own_dir and self.build_dir is not None:
            shutil.rmtree(self.build_dir, ignore_errors=True)
            self.build_dir = None

    def build(self) -> float:
        """Build (and compile) the network; return the seconds it took."""
        require_brian2()
        start = time.perf_counter()
        if self.device == "runtime":
            if self.jobs > 1:
                self._impl = _PoolImpl(self)
            else:
                self._impl = _RuntimeImpl(self)
        else:
            if self.build_dir is None:
                self.build_dir = Path(tempfile.mkdtemp(prefix="spatialsnn-brian2-"))
            self._impl = _StandaloneImpl(self)
        self.build_seconds = time.perf_counter() - start
        return self.build_seconds

    # ------------------------------------------------------------------------ run
    def run(
        self, counts: np.ndarray, progress: Callable[[int], None] | None = None
    ) -> SimulationResult:
        """Simulate samples.

        Parameters
        ----------
        counts : array of int, shape (n_samples, n_steps, n_in)
            Spike counts per step (at this simulator's ``dt``).
        progress : callable, optional
            Called with the number of samples finished after each Brian2 run.

        Returns
        -------
        SimulationResult
        """
        if self._impl is None:
            self.build()
        counts = np.asarray(counts)
        n_in = int(self.params["n_in"])
        if counts.ndim != 3 or counts.shape[1:] != (self.n_steps, n_in):
            raise ValueError(
                f"counts must be [n_samples, {self.n_steps}, {n_in}], got {counts.shape}"
            )
        if counts.size and (counts.min() < 0 or counts.max() > self.max_count):
            raise ValueError(f"counts must lie in [0, max_count={self.max_count}]")
        n = counts.shape[0]
        spikes = np.zeros((n, self.n_steps, int(self.params["n_hidden"])), dtype=bool)
        voltage = np.zeros((n, self.n_steps, int(self.params["n_out"])))
        size = self.batch * self.samples_per_run  # samples per Brian2 run
        chunks = [slice(s, min(n, s + size)) for s in range(0, n, size)]
        start = time.perf_counter()
        for sl, (sp, v) in self._impl.map(counts, chunks):
            spikes[sl], voltage[sl] = sp, v
            self.n_runs += 1
            if progress is not None:
                progress(sl.stop - sl.start)
        self.run_seconds += time.perf_counter() - start
        return SimulationResult(spikes, voltage)

    def delay_steps(self) -> dict[str, np.ndarray | None]:
        """Delays in steps as Brian2 realised them, per projection, ``[pre, post]``.

        Returns
        -------
        dict
            ``"hidden_hidden"`` and ``"input_hidden"``: int64 arrays ``[pre, post]``
            with ``int(delay/dt + 0.5)`` of Brian2's delay variable (of copy 0); ``-1``
            where there is no synapse (zero weight); None for a projection without
            delays.
        """
        if self._impl is None:
            self.build()
        return self._impl.delay_steps()


def _delay_matrix(shape: tuple[int, int], index, steps: np.ndarray | None):
    if steps is None:
        return None
    out = np.full(shape, -1, dtype=np.int64)
    ii, jj = index
    out[ii, jj] = steps[: ii.size]
    return out


class _RuntimeImpl:
    """Runtime device in this process: store once, restore + new input per chunk."""

    def __init__(self, sim: Simulator):
        import brian2 as b2

        self.sim = sim
        from brian2.devices.device import RuntimeDevice

        if not isinstance(b2.get_device(), RuntimeDevice):
            b2.set_device("runtime")
        self.prefs = _Prefs(
            {"codegen.target": sim.target, "core.default_float_dtype": _float_dtype(sim.precision)}
        )
        self.old_dt = b2.defaultclock.dt
        with self.prefs:
            self.net = build_network(
                sim.params,
                n_steps=sim.n_steps,
                input_mode="spikegen",
                max_count=sim.max_count,
                n_copies=sim.batch,
                dt=sim.dt,
            )
            self.net["network"].store("spatialsnn_initial")
            # Generate (and for cython compile) the code now, so that it counts as build.
            self.net["network"].run(self.net["dt"] * b2.ms, namespace={})
            self.net["network"].restore("spatialsnn_initial")

    def run_chunk(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from brian2 import defaultclock, ms

        net = self.net
        with self.prefs:
            defaultclock.dt = net["dt"] * ms
            net["network"].restore("spatialsnn_initial")
            set_input_spikes(net, counts)
            net["network"].run(self.sim.n_steps * net["dt"] * ms, namespace={})
        n = counts.shape[0]
        return hidden_spike_raster(net, self.sim.n_steps)[:n], output_voltage_trace(net)[:n]

    def map(self, counts, chunks):
        for sl in chunks:
            yield sl, self.run_chunk(counts[sl])

    def delay_steps(self) -> dict[str, np.ndarray | None]:
        net, p = self.net, self.sim.params
        n_in, n_hid = int(p["n_in"]), int(p["n_hidden"])
        out: dict[str, np.ndarray | None] = {}
        for name, shape, has in (
            ("hidden_hidden", (n_hid, n_hid), p["delays"] != "none"),
            ("input_hidden", (n_in, n_hid), "position_input" in p),
        ):
            syn = net[name]
            steps = None
            if has and syn is not None:
                steps = _realized_steps(np.asarray(syn.delay[:], dtype=np.float64), net["dt"])
            out[name] = _delay_matrix(shape, net["synapses"][name], steps) if has else None
        return out

    def close(self) -> None:
        from brian2 import defaultclock

        self.net = None
        defaultclock.dt = self.old_dt


# Runtime workers (jobs > 1): each process builds the network once.
_WORKER: _RuntimeImpl | None = None


def _worker_init(params, kwargs):
    global _WORKER
    sim = Simulator(params, **kwargs)
    sim._impl = _RuntimeImpl(sim)
    _WORKER = sim._impl


def _worker_run(counts):
    return _WORKER.run_chunk(counts)


def _worker_delays():
    return _WORKER.delay_steps()


class _PoolImpl:
    """Runtime device sharded over ``jobs`` worker processes."""

    def __init__(self, sim: Simulator):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        kwargs = dict(
            n_steps=sim.n_steps,
            dt=sim.dt,
            device="runtime",
            target=sim.target,
            precision=sim.precision,
            max_count=sim.max_count,
            batch=sim.batch,
        )
        self.pool = ProcessPoolExecutor(
            max_workers=sim.jobs,
            mp_context=mp.get_context("spawn"),
            initializer=_worker_init,
            initargs=(sim.params, kwargs),
        )
        # Start every worker (each builds the network) before timing runs.
        list(self.pool.map(time.sleep, [0.2] * sim.jobs))

    def map(self, counts, chunks):
        futures = [self.pool.submit(_worker_run, counts[sl]) for sl in chunks]
        for sl, fut in zip(chunks, futures, strict=True):
            yield sl, fut.result()

    def delay_steps(self):
        return self.pool.submit(_worker_delays).result()

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


@dataclass
class _ArrayFile:
    name: str
    dtype: Any


class _StandaloneImpl:
    """cpp_standalone / cuda_standalone: compile once, rerun the binary per chunk."""

    def __init__(self, sim: Simulator):
        import brian2 as b2

        self.sim = sim
        project = Path(sim.build_dir).resolve()
        project.mkdir(parents=True, exist_ok=True)
        values: dict[str, Any] = {
            "core.default_float_dtype": _float_dtype(sim.precision),
            # Brian2's default is an unbounded `make -j`: dozens of compilers on few cores
            "devices.cpp_standalone.extra_make_args_unix": [f"-j{os.cpu_count() or 1}"],
        }
        old_cuda: dict[str, Any] = {}
        if sim.device == "cuda_standalone":
            old_cuda = configure_brian2cuda(build_dir=project, **sim.cuda_options)
        old_dt = b2.defaultclock.dt
        try:
            with _Prefs(values):
                b2.set_device(sim.device, build_on_run=False, directory=str(project))
                try:
                    self._build(b2, project)
                finally:
                    b2.device.reinit()
                    b2.set_device("runtime")
        except Brian2RunError:
            raise
        except Exception as err:  # compiler errors surface as RuntimeError/OSError
            raise Brian2RunError(
                f"{sim.device} build failed in {project}: {type(err).__name__}: {err}"
            ) from err
        finally:
            from brian2 import prefs

            for k, v in old_cuda.items():
                prefs[k] = v
            b2.defaultclock.dt = old_dt
        self.project = project
        self._delays: dict[str, np.ndarray | None] | None = None

    def _build(self, b2, project: Path) -> None:
        sim = self.sim
        net = build_network(
            sim.params,
            n_steps=sim.n_steps,
            input_mode="timedarray",
            max_count=sim.max_count,
            n_copies=sim.batch,
            dt=sim.dt,
            samples_per_run=sim.samples_per_run,
        )
        self.period = net["period"]
        net["network"].run(sim.samples_per_run * self.period * net["dt"] * b2.ms, namespace={})
        b2.device.build(directory=str(project), compile=True, run=False)
        dev = b2.get_device()

        def array(var) -> _ArrayFile:
            return _ArrayFile(dev.get_array_filename(var), np.dtype(var.dtype))

        self.files = {
            "i": array(net["hidden_spikes"].variables["i"]),
            "t": array(net["hidden_spikes"].variables["t"]),
            "v": array(net["output_voltage"].variables["v"]),
        }
        p = sim.params
        self.delay_files: dict[str, tuple[_ArrayFile, Any] | None] = {}
        for name, has in (
            ("hidden_hidden", p["delays"] != "none"),
            ("input_hidden", "position_input" in p),
        ):
            syn = net[name]
            if has and syn is not None:
                entry = (array(syn.pre.variables["delay"]), net["synapses"][name])
            else:
                entry = None
            self.delay_files[name] = entry
        self.has_delays = {
            "hidden_hidden": p["delays"] != "none",
            "input_hidden": "position_input" in p,
        }
        self.synapse_index = net["synapses"]
        self.table_name = net["input_counts"].name
        self.table_dtype = np.dtype(net["input_counts"].values.dtype)
        self.dt = net["dt"]
        cmd = b2.prefs["devices.cpp_standalone.run_cmd_unix"]
        self.run_cmd = [cmd] if isinstance(cmd, str) else list(cmd)
        self.env = {
            **os.environ,
            **b2.prefs["devices.cpp_standalone.run_environment_variables"],
            **getattr(dev, "run_environment_variables", {}),
        }

    # ---------------------------------------------------------------------- runs
    def _read(self, results: Path, f: _ArrayFile) -> np.ndarray:
        path = results / f.name
        return np.fromfile(path, dtype=f.dtype) if path.exists() else np.zeros(0, f.dtype)

    def run_chunk(self, counts: np.ndarray, keep: bool = False):
        sim = self.sim
        tag = uuid.uuid4().hex  # lower case: brian2cuda lower-cases run_args values
        data = Path("static_arrays") / f"spatialsnn_counts_{tag}.dat"
        results = self.project / f"results_{tag}"
        results.mkdir()
        table = input_count_table(counts, sim.batch, sim.samples_per_run, self.period)
        table.astype(self.table_dtype).tofile(self.project / data)
        try:
            proc = subprocess.run(
                [
                    *self.run_cmd,
                    "--results_dir",
                    str(results) + os.sep,
                    f"{self.table_name}.values={data.as_posix()}",
                ],
                cwd=self.project,
                env=self.env,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
                raise Brian2RunError(
                    f"{sim.device} run failed (exit {proc.returncode}) in {self.project}: "
                    + " | ".join(tail)
                )
            n_hid, n_out, n = int(sim.params["n_hidden"]), int(sim.params["n_out"]), len(counts)
            i = self._read(results, self.files["i"]).astype(np.int64)
            t = self._read(results, self.files["t"]).astype(np.float64)
            v = self._read(results, self.files["v"]).astype(np.float64)
            # run step -> (slot, step within the sample); sample j = slot * batch + copy
            slot, step = np.divmod(np.rint(t / (self.dt * 1e-3)).astype(np.int64), self.period)
            inside = step < sim.n_steps  # the threshold is off in the gaps anyway
            sample = slot * sim.batch + i // n_hid
            raster = np.zeros((sim.batch * sim.samples_per_run, sim.n_steps, n_hid), dtype=bool)
            raster[sample[inside], step[inside], (i % n_hid)[inside]] = True
            # StateMonitor v is stored [run steps, recorded neurons]
            volt = v.reshape(sim.samples_per_run, self.period, sim.batch, n_out)
            volt = volt[:, : sim.n_steps].transpose(0, 2, 1, 3).reshape(-1, sim.n_steps, n_out)
            if self._delays is None:
                self._delays = self._read_delays(results)
            return raster[:n], volt[:n]
        finally:
            (self.project / data).unlink(missing_ok=True)
            if not keep:
                shutil.rmtree(results, ignore_errors=True)

    def _read_delays(self, results: Path) -> dict[str, np.ndarray | None]:
        p = self.sim.params
        n_in, n_hid = int(p["n_in"]), int(p["n_hidden"])
        shapes = {"hidden_hidden": (n_hid, n_hid), "input_hidden": (n_in, n_hid)}
        out: dict[str, np.ndarray | None] = {}
        for name, entry in self.delay_files.items():
            if not self.has_delays[name]:
                out[name] = None
                continue
            steps = None
            if entry is not None:
                steps = _realized_steps(self._read(results, entry[0]), self.dt)
            out[name] = _delay_matrix(
                shapes[name], self.synapse_index[name], steps if steps is not None else np.zeros(0)
            )
        return out

    def map(self, counts, chunks):
        if self.sim.jobs == 1:
            for sl in chunks:
                yield sl, self.run_chunk(counts[sl])
            return
        with ThreadPoolExecutor(max_workers=self.sim.jobs) as pool:
            futures = [pool.submit(self.run_chunk, counts[sl]) for sl in chunks]
            for sl, fut in zip(chunks, futures, strict=True):
                yield sl, fut.result()

    def delay_steps(self) -> dict[str, np.ndarray | None]:
        if self._delays is None:
            n_in = int(self.sim.params["n_in"])
            self.run_chunk(np.zeros((1, self.sim.n_steps, n_in), dtype=np.int64))
        return self._delays

    def close(self) -> None:
        pass


def brian2_version() -> str:
    """Version of the installed brian2 (and brian2cuda, when importable)."""
    b2 = require_brian2()
    try:
        import brian2cuda

        return f"brian2 {b2.__version__}, brian2cuda {brian2cuda.__version__}"
    except ImportError:
        return f"brian2 {b2.__version__}"
