"""The runtime device in this process: build once, ``store()``; per chunk ``restore()``."""

from __future__ import annotations

from typing import Any

import numpy as np

from spatialsnn.brian2.engines.common import Prefs, delay_matrices, float_dtype
from spatialsnn.brian2.inputs import set_input_spikes
from spatialsnn.brian2.network import build_network
from spatialsnn.brian2.recording import hidden_spike_raster, output_voltage_trace

__all__ = ["RuntimeEngine"]


class RuntimeEngine:
    """``batch`` copies of the network, re-run from the stored initial state per chunk.

    Parameters
    ----------
    sim : Simulator
        Its parameters, ``n_steps``, ``dt``, ``target``, ``precision``, ``max_count`` and
        ``batch`` (network copies per run).
    """

    def __init__(self, sim: Any):
        import brian2 as b2
        from brian2.devices.device import RuntimeDevice

        self.sim = sim
        if not isinstance(b2.get_device(), RuntimeDevice):
            b2.set_device("runtime")
        self.prefs = Prefs(
            {"codegen.target": sim.target, "core.default_float_dtype": float_dtype(sim.precision)}
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
            self.net.network.store("spatialsnn_initial")
            # Generate (and for cython compile) the code now, so that it counts as build.
            self.net.network.run(self.net.dt * b2.ms, namespace={})
            self.net.network.restore("spatialsnn_initial")

    def run_chunk(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hidden spikes and output voltage of up to ``batch`` samples."""
        from brian2 import defaultclock, ms

        net = self.net
        with self.prefs:
            defaultclock.dt = net.dt * ms
            net.network.restore("spatialsnn_initial")
            set_input_spikes(net, counts)
            net.network.run(self.sim.n_steps * net.dt * ms, namespace={})
        n = counts.shape[0]
        return hidden_spike_raster(net, self.sim.n_steps)[:n], output_voltage_trace(net)[:n]

    def map(self, counts, chunks):
        """Run the chunks one after the other."""
        for sl in chunks:
            yield sl, self.run_chunk(counts[sl])

    def delay_steps(self) -> dict[str, np.ndarray | None]:
        """Delays in steps as Brian2 realised them (see :func:`delay_matrices`)."""
        net = self.net
        seconds = {}
        for name in ("hidden_hidden", "input_hidden"):
            syn = getattr(net, name)
            seconds[name] = None if syn is None else np.asarray(syn.delay[:], dtype=np.float64)
        return delay_matrices(net.params, net.synapse_index, seconds, net.dt)

    def close(self) -> None:
        """Drop the network and restore the default clock's step."""
        from brian2 import defaultclock

        self.net = None
        defaultclock.dt = self.old_dt
