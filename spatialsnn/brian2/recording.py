"""What a Brian2 run recorded, as arrays shaped like the twin's output."""

from __future__ import annotations

import numpy as np

__all__ = ["hidden_spike_raster", "output_voltage_trace", "readout"]


def hidden_spike_raster(net, n_steps: int | None = None) -> np.ndarray:
    """Hidden spikes recorded in a run, as a boolean raster per network copy.

    Parameters
    ----------
    net : Brian2Network
        A network from :func:`~spatialsnn.brian2.build_network` after a run.
    n_steps : int, optional
        Length of the run in steps (default: the number of steps recorded by the
        output-voltage monitor, i.e. everything run so far).

    Returns
    -------
    numpy.ndarray of bool, shape (n_copies, n_steps, n_hidden)
    """
    n_hidden = int(net.params["n_hidden"])
    if n_steps is None:  # the steps run so far (the output monitor records every step)
        n_steps = len(net.output_voltage.t) or net.n_steps or 0
    i = np.asarray(net.hidden_spikes.i[:], dtype=np.int64)
    step = np.rint(np.asarray(net.hidden_spikes.t_[:]) / (net.dt * 1e-3)).astype(np.int64)
    raster = np.zeros((net.n_copies, n_steps, n_hidden), dtype=bool)
    raster[i // n_hidden, step, i % n_hidden] = True
    return raster


def output_voltage_trace(net) -> np.ndarray:
    """Membrane of the output neurons after each step's state update.

    Parameters
    ----------
    net : Brian2Network
        A network from :func:`~spatialsnn.brian2.build_network` after a run.

    Returns
    -------
    numpy.ndarray of float64, shape (n_copies, n_steps, n_out)
    """
    v = np.asarray(net.output_voltage.v[:], dtype=np.float64)  # [copies*n_out, steps]
    return v.reshape(net.n_copies, int(net.params["n_out"]), -1).transpose(0, 2, 1)


def readout(voltage: np.ndarray, kind: str = "exp_mean") -> np.ndarray:
    """Class scores from the output membrane, as the twin computes them (numpy).

    Parameters
    ----------
    voltage : array, shape (..., n_steps, n_out)
        Output membrane after each step's state update.
    kind : {"exp_mean", "sum", "max", "last"}
        ``exp_mean``: ``(1/T) sum_t exp(-t/T) V(t)`` (t = 0 .. T-1 and T in steps).

    Returns
    -------
    numpy.ndarray, shape (..., n_out)
    """
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
