""":func:`to_brian2`: a spatialsnn model as a ready-to-run Brian2 network."""

from __future__ import annotations

from typing import Any

import numpy as np

from spatialsnn.brian2.imports import require_brian2
from spatialsnn.brian2.network import build_network
from spatialsnn.brian2.objects import Brian2Network
from spatialsnn.brian2.params import network_params

__all__ = ["to_brian2"]


def to_brian2(
    model_or_path: Any,
    *,
    dt: float | None = None,
    counts: np.ndarray | None = None,
    input: str = "spikegen",
    max_count: int | None = None,
    n_copies: int = 1,
    n_steps: int | None = None,
) -> Brian2Network:
    """Build the Brian2 network of a spatialsnn model.

    Set the device (``brian2.set_device``) and preferences (``brian2.prefs``) before
    calling, as for any Brian2 object. All objects run on ``brian2.defaultclock``, whose
    ``dt`` this sets.

    Parameters
    ----------
    model_or_path : SpatialSNN, path-like or dict
        The model, a model file, or :func:`~spatialsnn.brian2.network_params` output.
    dt : float, optional
        Time step in ms (default: the model's). Delays are rounded to this grid by
        Brian2 (``int(d/dt + 0.5)``); inputs are delivered at whole steps.
    counts : array of int, shape (n_steps, n_in) or (n_samples, n_steps, n_in), optional
        Input spike counts per step of ``dt`` to load (``n_samples <= n_copies``). For a
        ``dt`` finer than the data's bins, spread them first, e.g. with
        :func:`spatialsnn.validate.upsample_counts`.
    input : {"spikegen", "timedarray"}
        Input as a ``SpikeGeneratorGroup`` or as a TimedArray-driven ``NeuronGroup``.
    max_count : int, optional
        Largest count per step and channel to deliver (default: ``counts.max()``, at
        least 1).
    n_copies : int
        Independent copies of the network (one sample each).
    n_steps : int, optional
        Steps of a run (default: from ``counts``); needed for ``input="timedarray"``.

    Returns
    -------
    Brian2Network

    Examples
    --------
    >>> net = to_brian2("model.nc", counts=x[0])          # doctest: +SKIP
    >>> net.run()                                         # doctest: +SKIP
    >>> net.hidden_spikes.i, net.hidden_spikes.t          # doctest: +SKIP
    """
    require_brian2()
    params = network_params(model_or_path)
    if counts is not None:
        counts = np.asarray(counts)
        if counts.ndim == 2:
            counts = counts[None]
        n_steps = counts.shape[1] if n_steps is None else n_steps
        if max_count is None:
            max_count = max(1, int(counts.max(initial=0)))
    net = build_network(
        params,
        n_steps=n_steps,
        input_mode=input,
        max_count=max_count or 1,
        n_copies=n_copies,
        dt=dt,
    )
    if counts is not None:
        net.set_input(counts)
    return net
