"""A spatialsnn model as the flat dict of numpy values that the Brian2 builders read."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["exact_delays", "network_params"]


def network_params(model_or_path: Any) -> dict[str, Any]:
    """The parameters Brian2 needs, as a flat dict of numpy values (no brian2 needed).

    Parameters
    ----------
    model_or_path : SpatialSNN, str, path-like or dict
        A model, a model file (format v1 or v2), or a dict already returned by this function
        (returned as a copy).

    Returns
    -------
    dict
        ``n_in, n_hidden, n_out, dims`` (int); ``space`` (str array, coordinate names);
        ``dt, tau_mem, tau_syn, max_delay, refractory`` (ms), ``velocity`` (µm/ms),
        ``threshold`` (float); ``delays`` (``"spatial" | "free" | "none"``), ``readout``
        (str); ``position_hidden`` ``[n_hidden, dims]`` µm; ``weight_input_hidden``
        ``[n_in, n_hidden]``, ``weight_hidden_hidden`` ``[pre, post]``,
        ``weight_hidden_output`` ``[n_hidden, n_out]`` (float64, presynaptic first);
        optionally ``position_input`` ``[n_in, dims]`` µm and ``delay_hidden_hidden``
        ``[pre, post]`` ms (free delays).

    Raises
    ------
    spatialsnn.ModelFileError
        For a path that is not a valid model file.
    """
    if isinstance(model_or_path, Mapping):
        return dict(model_or_path)
    if isinstance(model_or_path, (str, os.PathLike)):
        from spatialsnn.io import load

        model = load(model_or_path)
    else:
        model = model_or_path
    import torch

    def pre_post(t: torch.Tensor) -> np.ndarray:
        """A twin matrix [post, pre] as float64 [pre, post]."""
        return np.ascontiguousarray(t.detach().cpu().to(torch.float64).numpy().T)

    hp = model.hparams
    p: dict[str, Any] = {
        "n_in": int(hp["n_in"]),
        "n_hidden": int(hp["n_hidden"]),
        "n_out": int(hp["n_out"]),
        "dims": int(hp["dims"]),
        "space": np.array(model.space),
        "dt": float(hp["dt"]),
        "tau_mem": float(hp["tau_mem"]),
        "tau_syn": float(hp["tau_syn"]),
        "threshold": float(hp["threshold"]),
        "refractory": float(hp["refractory"]),
        "velocity": float(hp["velocity"]),
        "max_delay": float(hp["max_delay"]),
        "delays": str(hp["delays"]),
        "readout": str(hp["readout"]),
        "position_hidden": model.positions.detach().cpu().to(torch.float64).numpy(),
        "weight_input_hidden": pre_post(model.w_in),
        "weight_hidden_hidden": pre_post(model.w_rec),
        "weight_hidden_output": pre_post(model.w_out),
    }
    if model.input_positions is not None:
        p["position_input"] = model.input_positions.detach().cpu().to(torch.float64).numpy()
    if model.rec_delay is not None:
        p["delay_hidden_hidden"] = pre_post(model.rec_delay)
    return p


def _distance(pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """Euclidean distances ``[pre, post]`` between two position arrays ``[n, D]``."""
    return np.sqrt(((pre[:, None, :] - post[None, :, :]) ** 2).sum(-1))


def exact_delays(params: Mapping[str, Any]) -> dict[str, np.ndarray | None]:
    """The exact (unrounded, unclamped) delays of each projection, in ms, ``[pre, post]``.

    Parameters
    ----------
    params : mapping
        :func:`network_params` of a model.

    Returns
    -------
    dict
        ``"hidden_hidden"``: distance / velocity (spatial), the free delays clipped at 0
        (free), or zeros (none); ``"input_hidden"``: distance / velocity when the model
        has input positions, else None. float64.
    """
    pos = np.asarray(params["position_hidden"], dtype=np.float64)
    speed = float(params["velocity"])
    kind = str(params["delays"])
    if kind == "spatial":
        rec = _distance(pos, pos) / speed
    elif kind == "free":
        rec = np.clip(np.asarray(params["delay_hidden_hidden"], dtype=np.float64), 0, None)
    else:
        rec = np.zeros((len(pos), len(pos)))
    inp = None
    if "position_input" in params:
        inp = _distance(np.asarray(params["position_input"], dtype=np.float64), pos) / speed
    return {"hidden_hidden": rec, "input_hidden": inp}
