"""Brian2 export of a spatialsnn network (docs/brian2.md).

This package is the only part of spatialsnn that imports :mod:`brian2` (and
brian2cuda), always inside functions, so ``import spatialsnn.brian2`` works without
them and the error names the extra to install.

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
input spike counts          ``input``: a ``SpikeGeneratorGroup`` or a ``NeuronGroup``
                            driven by the ``TimedArray`` ``input_counts``, with
                            *count copies* per channel (:mod:`.inputs`)
weights ``[pre, post]``     ``Synapses`` ``input_hidden``, ``hidden_hidden``,
                            ``hidden_output``, ``on_pre='I_post += w'``, connected
                            with ``i = pre``, ``j = post`` (zero weights dropped)
delays                      set by Brian2 from the positions after ``connect()``:
                            ``delay = 'sqrt((x_pre - x_post)**2 + ...) / velocity'``;
                            free delays are set from the stored values, ``none``
                            leaves them at 0
output trace                ``StateMonitor(output, 'v', when='after_groups')``
=========================  ==========================================================

The package's modules:

:mod:`.network`
    :func:`build_network`, the mapping above as code, one Brian2 object after another.
:mod:`.inputs`
    The input group and its count copies; loading spike counts.
:mod:`.recording`
    Spike rasters, output traces and the readout, shaped like the twin's output.
:mod:`.objects`, :mod:`.convert`
    :class:`Brian2Network` and :func:`to_brian2`, for your own scripts.
:mod:`.simulator`, :mod:`.engines`
    :class:`Simulator`: many samples per build on the runtime, ``cpp_standalone`` and
    ``cuda_standalone`` devices (what ``spatialsnn validate`` uses).
:mod:`.params`, :mod:`.cuda`, :mod:`.imports`
    The model as numpy parameters; brian2cuda's configuration; lazy imports.
"""

from __future__ import annotations

from spatialsnn.brian2.convert import to_brian2
from spatialsnn.brian2.cuda import configure_brian2cuda
from spatialsnn.brian2.imports import (
    BRIAN2_EXTRA,
    CUDA_EXTRA,
    Brian2RunError,
    brian2_version,
    require_brian2,
)
from spatialsnn.brian2.inputs import input_count_table, set_input_spikes
from spatialsnn.brian2.network import build_network, delay_expression, neuron_equations
from spatialsnn.brian2.objects import Brian2Network
from spatialsnn.brian2.params import exact_delays, network_params
from spatialsnn.brian2.recording import hidden_spike_raster, output_voltage_trace, readout
from spatialsnn.brian2.simulator import DEVICES, SimulationResult, Simulator

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
    "exact_delays",
    "hidden_spike_raster",
    "input_count_table",
    "network_params",
    "neuron_equations",
    "output_voltage_trace",
    "readout",
    "require_brian2",
    "set_input_spikes",
    "to_brian2",
]
