"""Spike rasters of a few samples, in the twin and (optionally) in Brian2.

What the raster figure draws: the input spikes and the hidden spikes of a handful of
samples, simulated by the PyTorch twin in float64 and by Brian2 (through
:class:`spatialsnn.brian2.Simulator`, which computes every delay from the positions and
the conduction velocity), so that the two can be overlaid spike for spike.
"""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr

from spatialsnn.analysis.record import as_tensors

__all__ = ["one_per_class", "spike_rasters"]


def one_per_class(labels: Any, n: int = 4) -> list[int]:
    """Indices of the first sample of each class, in class order, at most ``n``.

    Parameters
    ----------
    labels : array-like of int, shape (sample,)
        Class of every sample.
    n : int
        Largest number of samples returned.

    Returns
    -------
    list of int
    """
    y = np.asarray(labels)
    first = [int(np.flatnonzero(y == c)[0]) for c in np.unique(y)]
    return first[:n]


def _twin_spikes(model, x: torch.Tensor) -> np.ndarray:
    """Hidden spikes of a float64 copy of ``model`` (eval mode), bool (sample, time, neuron)."""
    twin = copy.deepcopy(model).to(torch.float64).eval()
    with torch.no_grad():
        return twin(x.to(torch.float64)).hidden_spikes.numpy() > 0.5


def _brian2_spikes(model, counts: np.ndarray) -> np.ndarray:
    """Hidden spikes simulated by Brian2 (runtime device, numpy target, float64)."""
    from spatialsnn.brian2 import Simulator, network_params

    max_count = max(1, int(counts.max())) if counts.size else 1
    with Simulator(
        network_params(model), n_steps=counts.shape[1], max_count=max_count, batch=len(counts)
    ) as sim:
        return sim.run(counts).hidden_spikes


def spike_rasters(
    model,
    data: Any,
    samples: Sequence[int] | None = None,
    *,
    brian2: bool | None = None,
) -> xr.Dataset:
    """Input and hidden spikes of a few samples, in the twin and in Brian2.

    Parameters
    ----------
    model : SpatialSNN
        The network (not modified; simulated as a float64 copy in eval mode, with
        delays rounded as Brian2 rounds them).
    data : SpikeDataset or (x, y)
        Inputs ``x`` (sample, time, channel) spike counts and labels ``y`` (sample,).
    samples : sequence of int, optional
        Which samples; default: the first sample of each class, at most four
        (:func:`one_per_class`).
    brian2 : bool, optional
        Also simulate the samples in Brian2. Default (None): if brian2 is installed.

    Returns
    -------
    xarray.Dataset
        ``input`` (sample, time, channel) spike counts; ``twin`` and, with Brian2,
        ``brian2`` (sample, time, neuron) hidden spikes (bool); ``label`` (sample).
        Coordinates: ``sample`` (index into ``data``), ``time`` (ms, the start of each
        step, ``0, dt, 2 dt, ...``), ``neuron``, ``channel``. Attributes: ``dt`` (ms) and
        ``simulators`` (``"twin"`` or ``"twin, brian2"``).
    """
    x_all, y_all, _ = as_tensors(data)
    if samples is None:
        samples = one_per_class(y_all.numpy())
    index = [int(s) for s in samples]
    if not index:
        raise ValueError("no samples to simulate")
    x = x_all[index]
    counts = x.numpy().astype(np.int64)
    if brian2 is None:
        brian2 = importlib.util.find_spec("brian2") is not None
    dt = float(model.hparams["dt"])
    n_t, n_in = counts.shape[1], counts.shape[2]
    n_hidden = int(model.hparams["n_hidden"])
    spikes = ("sample", "time", "neuron")
    ds = xr.Dataset(
        {
            "input": (
                ("sample", "time", "channel"),
                counts.astype(np.uint8),
                {"units": "spikes", "long_name": "input spikes per step"},
            ),
            "twin": (spikes, _twin_spikes(model, x), {"long_name": "hidden spikes, twin"}),
            "label": ("sample", y_all[index].numpy(), {"units": "1", "long_name": "true class"}),
        },
        coords={
            "sample": index,
            "time": ("time", np.arange(n_t) * dt, {"units": "ms"}),
            "neuron": np.arange(n_hidden),
            "channel": np.arange(n_in),
        },
        attrs={"dt": dt, "simulators": "twin"},
    )
    if brian2:
        ds["brian2"] = (
            spikes,
            _brian2_spikes(model, counts),
            {"long_name": "hidden spikes, Brian2"},
        )
        ds.attrs["simulators"] = "twin, brian2"
    return ds
