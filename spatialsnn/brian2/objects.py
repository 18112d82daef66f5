""":class:`Brian2Network`: the named Brian2 objects of one network, and how to run them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from spatialsnn.brian2.inputs import input_count_table, set_input_spikes
from spatialsnn.brian2.recording import hidden_spike_raster, output_voltage_trace, readout

__all__ = ["Brian2Network"]


@dataclass
class Brian2Network:
    """The Brian2 objects of one network (see :func:`~spatialsnn.brian2.to_brian2`).

    Attributes
    ----------
    network : brian2.Network
        Holds every object below; ``network.run(n_steps * dt)``.
    clock : brian2.Clock
        ``brian2.defaultclock``, the clock of every object.
    input : brian2.SpikeGeneratorGroup or brian2.NeuronGroup
        ``max_count * n_in`` neurons per copy (count copies, see
        :mod:`spatialsnn.brian2.inputs`); position variables ``x, y, ...`` (metre) when
        the model has input positions.
    hidden : brian2.NeuronGroup
        LIF neurons with ``v``, ``I`` (dimensionless) and positions ``x, y, ...``.
    output : brian2.NeuronGroup
        Leaky integrators with ``v``, ``I``.
    input_hidden, hidden_hidden, hidden_output : brian2.Synapses or None
        Weight variable ``w`` (``w_syn`` in 4-D space, where ``w`` is a coordinate),
        ``on_pre='I_post += w'``; None when every weight of the projection is 0.
    hidden_spikes : brian2.SpikeMonitor
        Spikes of ``hidden``.
    output_voltage : brian2.StateMonitor
        ``output.v`` recorded right after the state update (``when='after_groups'``).
    input_counts : brian2.TimedArray or None
        Counts ``[step, copy * n_in + channel]`` driving ``input`` (timedarray mode).
    params : dict
        The parameters (:func:`~spatialsnn.brian2.network_params`).
    dt : float
        Time step, ms.
    n_steps : int or None
        Steps of a sample.
    n_copies : int
        Independent copies of the network (copy ``b`` owns neurons ``b*n .. (b+1)*n-1``
        of every group).
    max_count : int
        Count copies per input channel: the largest count per step it can deliver.
    samples_per_run : int
        Samples each copy simulates one after the other in one run (timedarray mode).
    period : int or None
        Steps per sample including the gap between samples.
    weight : str
        Name of the synaptic weight variable, ``w`` or ``w_syn``.
    namespace : dict
        The constants the equations refer to (``tau_mem``, ``tau_syn``, ``theta``,
        ``velocity``, ``max_delay``), with Brian2 units.
    synapse_index : dict
        Per projection, the ``(pre, post)`` indices of the synapses of copy 0 within
        their populations, in Brian2's synapse order.
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
    params: dict[str, Any] = field(repr=False)
    dt: float
    n_steps: int | None
    n_copies: int
    max_count: int
    samples_per_run: int
    period: int | None
    weight: str
    namespace: dict[str, Any] = field(repr=False)
    synapse_index: dict[str, tuple[np.ndarray, np.ndarray]] = field(repr=False)

    @property
    def objects(self) -> dict[str, Any]:
        """Every attribute as a dict (the form :func:`build_network` returned before)."""
        named = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**named, "synapses": self.synapse_index}

    def set_input(self, counts: np.ndarray) -> None:
        """Deliver spike counts ``[n_steps, n_in]`` or ``[n_samples, n_steps, n_in]``.

        In spikegen mode the generator is refilled; in timedarray mode (runtime device
        only) the TimedArray's values are replaced in place, so the shape must match.
        """
        counts = np.asarray(counts)
        if counts.ndim == 2:
            counts = counts[None]
        if self.input_counts is None:
            set_input_spikes(self, counts)
        else:
            table = input_count_table(counts, self.n_copies)
            if table.shape != self.input_counts.values.shape:
                raise ValueError(
                    f"counts give a table {table.shape}, expected {self.input_counts.values.shape}"
                )
            if counts.max(initial=0) > self.max_count:
                raise ValueError(f"counts exceed max_count={self.max_count}")
            self.input_counts.values[:] = table
        self.n_steps = counts.shape[1]

    def run(self, n_steps: int | None = None, **kwargs: Any) -> None:
        """Run ``n_steps`` steps (default: the length of the last input).

        Sets ``brian2.defaultclock.dt`` to this network's ``dt`` first; keyword
        arguments go to ``brian2.Network.run``.
        """
        from brian2 import defaultclock, ms

        n_steps = self.n_steps if n_steps is None else n_steps
        if n_steps is None:
            raise ValueError("give n_steps or call set_input first")
        defaultclock.dt = self.dt * ms
        self.network.run(n_steps * self.dt * ms, **kwargs)

    def hidden_spike_raster(self) -> np.ndarray:
        """Hidden spikes, bool ``[n_copies, n_steps, n_hidden]``."""
        return hidden_spike_raster(self)

    def output_voltage_trace(self) -> np.ndarray:
        """Output membrane, ``[n_copies, n_steps, n_out]``."""
        return output_voltage_trace(self)

    def logits(self) -> np.ndarray:
        """The model's readout of the output membrane, ``[n_copies, n_out]``."""
        return readout(self.output_voltage_trace(), self.params["readout"])
