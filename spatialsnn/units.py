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
    "normalise_units",
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


#: Other spellings of the prefix micro that files carry: the micro sign (U+00B5) and the
#: Greek small letter mu (U+03BC). Both mean ``u``: ``µm`` is ``um``, ``µm/ms`` is ``um/ms``.
_MICRO_SPELLINGS = ("\u00b5", "\u03bc")


def normalise_units(units: str) -> str:
    """The ASCII spelling of a ``units`` attribute: ``"µm"`` -> ``"um"``, ``" ms "`` -> ``"ms"``.

    Parameters
    ----------
    units : str
        A CF-style units string as found in a file.

    Returns
    -------
    str
        The same unit with surrounding blanks removed and the micro sign or Greek mu
        written ``u`` (the spelling spatialsnn writes).
    """
    text = units.strip()
    for micro in _MICRO_SPELLINGS:
        text = text.replace(micro, "u")
    return text
