"""What the engines share: Brian2 preferences set for a while, and realised delays."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: Floating-point precisions of a simulation (Brian2's ``core.default_float_dtype``).
PRECISIONS = ("float64", "float32")


def float_dtype(precision: str) -> type:
    """The numpy type of a precision name (``"float64"`` or ``"float32"``)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return np.float64 if precision == "float64" else np.float32


class Prefs:
    """Set Brian2 preferences on entering, restore the old values on leaving."""

    def __init__(self, values: Mapping[str, Any]):
        self.values = dict(values)
        self.old: dict[str, Any] = {}

    def __enter__(self) -> Prefs:
        from brian2 import prefs

        for k, v in self.values.items():
            self.old[k] = prefs[k]
            prefs[k] = v
        return self

    def __exit__(self, *exc: Any) -> None:
        from brian2 import prefs

        for k, v in self.old.items():
            prefs[k] = v


def delay_matrices(
    params: Mapping[str, Any],
    synapse_index: Mapping[str, tuple[np.ndarray, np.ndarray]],
    delay_seconds: Mapping[str, np.ndarray | None],
    dt: float,
) -> dict[str, np.ndarray | None]:
    """Delays in steps as Brian2's spike queue realises them, ``[pre, post]`` per projection.

    Parameters
    ----------
    params : mapping
        :func:`~spatialsnn.brian2.network_params` of the model.
    synapse_index : mapping
        Per projection, ``(pre, post)`` of the synapses of copy 0 in Brian2's order.
    delay_seconds : mapping
        Per projection, Brian2's ``delay`` variable in seconds (None: no synapses).
    dt : float
        Time step, ms.

    Returns
    -------
    dict
        ``"hidden_hidden"``, ``"input_hidden"``: int64 ``[pre, post]`` with
        ``int(delay/dt + 0.5)`` (``-1`` where there is no synapse), or None for a
        projection without delays (``delays="none"``; no input positions).
    """
    n_in, n_hid = int(params["n_in"]), int(params["n_hidden"])
    has = {"hidden_hidden": params["delays"] != "none", "input_hidden": "position_input" in params}
    shapes = {"hidden_hidden": (n_hid, n_hid), "input_hidden": (n_in, n_hid)}
    out: dict[str, np.ndarray | None] = {}
    for name, with_delays in has.items():
        if not with_delays:
            out[name] = None
            continue
        seconds = delay_seconds.get(name)
        seconds = np.zeros(0) if seconds is None else np.asarray(seconds, dtype=np.float64)
        # Brian2's spike queue: (int)(delay/dt + 0.5)
        steps = np.floor(seconds / (dt * 1e-3) + 0.5).astype(np.int64)
        matrix = np.full(shapes[name], -1, dtype=np.int64)
        pre, post = synapse_index[name]
        matrix[pre, post] = steps[: pre.size]
        out[name] = matrix
    return out
