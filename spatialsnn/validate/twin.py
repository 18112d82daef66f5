"""The PyTorch twin's side of a validation: the model at a step and precision, and its runs."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["TwinResult", "run_twin", "twin_at", "twin_delay_steps"]


@dataclass
class TwinResult:
    """What the twin computed for a batch of samples.

    Attributes
    ----------
    hidden_spikes : numpy.ndarray of bool, shape (n_samples, n_steps, n_hidden)
    output_voltage : numpy.ndarray of float64, shape (n_samples, n_steps, n_out)
    logits : numpy.ndarray of float64, shape (n_samples, n_out)
    """

    hidden_spikes: np.ndarray
    output_voltage: np.ndarray
    logits: np.ndarray


def twin_at(model, dt: float | None = None, precision: str = "float64"):
    """A copy of ``model`` at time step ``dt`` (ms), in ``precision``, in ``eval()`` mode."""
    import torch

    from spatialsnn.model import SpatialSNN

    cfg = model.config()
    if dt is not None:
        cfg["dt"] = float(dt)
    twin = SpatialSNN(**cfg)
    twin.load_state_dict(model.state_dict())
    twin = twin.to(torch.float64 if precision == "float64" else torch.float32)
    return twin.eval()


def run_twin(twin, counts: np.ndarray, *, batch_size: int = 32) -> TwinResult:
    """Run the twin (as given: dt, dtype, mode) on spike counts.

    Parameters
    ----------
    twin : SpatialSNN
        E.g. from :func:`twin_at`.
    counts : array, shape (n_samples, n_steps, n_in)
        Spike counts at the twin's ``dt``.
    batch_size : int
        Samples per forward pass.

    Returns
    -------
    TwinResult
    """
    import torch

    from spatialsnn.geometry import DelayClampWarning

    dtype = twin.w_in.dtype
    spikes, volts, logits = [], [], []
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DelayClampWarning)  # reported in the delay statistics
        for start in range(0, len(counts), batch_size):
            x = torch.from_numpy(np.asarray(counts[start : start + batch_size], dtype=np.float64))
            out = twin(x.to(dtype))
            spikes.append(out.hidden_spikes.numpy() > 0.5)
            volts.append(out.output_voltage.double().numpy())
            logits.append(out.logits.double().numpy())
    return TwinResult(np.concatenate(spikes), np.concatenate(volts), np.concatenate(logits))


def twin_delay_steps(twin) -> dict[str, np.ndarray | None]:
    """Delays in steps as the twin simulates them, ``[pre, post]`` per projection.

    Returns
    -------
    dict
        ``"hidden_hidden"`` (int ``[pre, post]``) and ``"input_hidden"`` (None without
        input positions), rounded and clamped at the twin's ``dt``.
    """
    import torch

    from spatialsnn.geometry import DelayClampWarning, delay_steps

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DelayClampWarning)
        rec = twin.delay_steps().T.numpy()
        d_in = twin.input_delays()
        inp = None
        if d_in is not None:
            inp = delay_steps(d_in, twin.dt, twin.max_delay_steps).T.numpy()
    return {"hidden_hidden": rec, "input_hidden": inp}
