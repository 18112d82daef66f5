"""The unit convention of spatialsnn, written down as data.

Tensors carry no units, so every tensor inside the PyTorch twin uses one fixed
system, and units are attached only at the boundaries (model files through CF-style
``units`` attributes, Brian2 objects through Brian2 quantities):

=================  ==========  ======================================
quantity           unit        note
=================  ==========  ======================================
time, delays       ``ms``      ``dt``, ``tau_mem``, ``tau_syn``
positions          ``um``      micrometre
velocity           ``um/ms``   1 m/s = 1000 µm/ms
voltage, current   ``1``       dimensionless, threshold 1
weights            ``1``       current jump per spike
=================  ==========  ======================================
"""

from __future__ import annotations

__all__ = [
    "CURRENT",
    "LENGTH",
    "TIME",
    "VELOCITY",
    "VOLTAGE",
    "WEIGHT",
    "m_per_s_to_um_per_ms",
    "um_per_ms_to_m_per_s",
]

#: Unit of time, delays, ``dt`` and time constants.
TIME = "ms"
#: Unit of positions and distances (micrometre).
LENGTH = "um"
#: Unit of the conduction velocity.
VELOCITY = "um/ms"
#: Membrane potential: dimensionless, threshold 1.
VOLTAGE = "1"
#: Synaptic current: dimensionless.
CURRENT = "1"
#: Weights: dimensionless current jump per spike.
WEIGHT = "1"

#: µm/ms in one m/s.
_UM_PER_MS_IN_M_PER_S = 1000.0


def m_per_s_to_um_per_ms(velocity: float) -> float:
    """Convert a conduction velocity from m/s to µm/ms (multiply by 1000)."""
    return float(velocity) * _UM_PER_MS_IN_M_PER_S


def um_per_ms_to_m_per_s(velocity: float) -> float:
    """Convert a conduction velocity from µm/ms to m/s (divide by 1000)."""
    return float(velocity) / _UM_PER_MS_IN_M_PER_S
