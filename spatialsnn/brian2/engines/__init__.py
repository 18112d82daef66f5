"""How :class:`~spatialsnn.brian2.Simulator` runs many samples on each Brian2 device.

One module per engine, each with the same three methods: ``map(counts, chunks)`` yields
``(chunk, (hidden_spikes, output_voltage))`` per chunk of samples, ``delay_steps()``
returns the integer delays Brian2 used, ``close()`` releases what the engine holds.

* :mod:`~spatialsnn.brian2.engines.runtime`: the runtime device in this process;
  ``store()`` once, ``restore()`` and new spike-generator contents per chunk.
* :mod:`~spatialsnn.brian2.engines.pool`: the runtime engine in worker processes.
* :mod:`~spatialsnn.brian2.engines.standalone`: ``cpp_standalone`` and
  ``cuda_standalone``; compile once, rerun the binary per chunk with a new input table.
"""

from __future__ import annotations
