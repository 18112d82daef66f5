"""The static description of a trained network as an xarray Dataset (weights, geometry).

Everything the structural analyses need, with named dims and units: recurrent weights
``[post, pre]``, distances and delays between hidden neurons, positions ``[neuron,
space]`` and input weights ``[neuron, channel]``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
import xarray as xr

__all__ = ["connectivity", "load_model", "synapse_length"]


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy()


def load_model(path: str | os.PathLike) -> tuple[Any, xr.Dataset]:
    """Load a model file for analysis; return ``(model, dataset)``.

    Like :func:`spatialsnn.load`, except that the stored free delays of the ``free``
    condition are clipped at 0 ms first: the twin uses ``rec_delay.clamp_min(0)`` in
    its forward pass, so a trained file may hold negative raw values that
    :func:`spatialsnn.load` rejects although they simulate identically.

    Parameters
    ----------
    path : str or path-like
        A spatialsnn model file.

    Returns
    -------
    model : SpatialSNN
        In eval mode.
    ds : xarray.Dataset
        The (validated, in-memory) model file contents.

    Raises
    ------
    spatialsnn.io.ModelFileError
        If the file is missing or not a valid model file.
    """
    from spatialsnn.io import from_dataset, open_model_dataset

    ds = open_model_dataset(path)
    clipped = ds
    if "delay_hidden_hidden" in ds:
        clipped = ds.copy()
        clipped["delay_hidden_hidden"] = ds["delay_hidden_hidden"].clip(min=0.0)
    model = from_dataset(clipped, os.fspath(path))
    model.eval()
    return model, ds


def synapse_length(model) -> torch.Tensor:
    """Length of every recurrent synapse in µm, shape (n_hidden_post, n_hidden_pre).

    ``spatial``: the Euclidean distance between the neurons. ``free``: the axon length
    the learnt delay implies, ``delay * velocity``. ``none``: the distance between the
    (unused, untrained) positions, so "length" pruning of such a model is a random
    pruning control.
    """
    from spatialsnn.geometry import pairwise_distance

    with torch.no_grad():
        if model.hparams["delays"] == "free":
            return model.delays().detach() * model.hparams["velocity"]
        return pairwise_distance(model.positions.detach(), None)


def connectivity(model) -> xr.Dataset:
    """Weights and geometry of a :class:`~spatialsnn.SpatialSNN`.

    Parameters
    ----------
    model : SpatialSNN
        The network (not modified).

    Returns
    -------
    xarray.Dataset
        ``weight`` (post, pre), ``distance`` (post, pre) µm between positions,
        ``length`` (post, pre) µm (see :func:`synapse_length`), ``delay`` (post, pre)
        ms as simulated before rounding, ``position`` (neuron, space) µm,
        ``weight_in`` (neuron, channel), ``weight_out`` (class, neuron). Attributes:
        ``delays`` (the condition's delay kind), ``velocity`` (µm/ms).
    """
    with torch.no_grad():
        pos = _np(model.positions)
        diff = pos[:, None, :] - pos[None, :, :]
        distance = np.sqrt((diff**2).sum(-1))
        n = pos.shape[0]
        n_in = model.w_in.shape[1]
        idx = np.arange(n)
        ds = xr.Dataset(
            {
                "weight": (("post", "pre"), _np(model.w_rec), _attrs("1", "recurrent weight")),
                "distance": (("post", "pre"), distance, _attrs("um", "distance between somata")),
                "length": (
                    ("post", "pre"),
                    _np(synapse_length(model)),
                    _attrs("um", "synapse length (distance, or delay * velocity)"),
                ),
                "delay": (("post", "pre"), _np(model.delays()), _attrs("ms", "recurrent delay")),
                "position": (("neuron", "space"), pos, _attrs("um", "hidden neuron position")),
                "weight_in": (
                    ("neuron", "channel"),
                    _np(model.w_in),
                    _attrs("1", "input -> hidden weight"),
                ),
                "weight_out": (
                    ("class", "neuron"),
                    _np(model.w_out),
                    _attrs("1", "hidden -> output weight"),
                ),
            },
            coords={
                "post": idx,
                "pre": idx,
                "neuron": idx,
                "space": list(model.space),
                "channel": np.arange(n_in),
                "class": np.arange(model.w_out.shape[0]),
            },
            attrs={"delays": model.hparams["delays"], "velocity": model.hparams["velocity"]},
        )
    return ds


def _attrs(units: str, long_name: str, **extra: Any) -> dict[str, Any]:
    return {"units": units, "long_name": long_name, **extra}
