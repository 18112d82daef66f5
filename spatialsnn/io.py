"""The spatialsnn model file, format version 2 (documented in docs/format.md).

A netCDF4/HDF5 file written by xarray through the ``h5netcdf`` engine, readable with
``xarray.open_dataset(path, engine="h5netcdf")`` alone. Weights are stored with the
presynaptic population first (Brian2's ``i`` = pre, ``j`` = post); every physical
variable carries a ``units`` attribute; delays of the spatial condition are derived
from positions and velocity, never stored as the source of truth.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from spatialsnn.units import LENGTH, TIME, VELOCITY, normalise_units

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelFileError",
    "from_dataset",
    "load",
    "open_model_dataset",
    "save",
    "to_dataset",
    "training_config_of",
]

#: The ``format`` global attribute of every model file.
FORMAT_NAME = "spatialsnn-model"
#: The format version this release writes (and the newest it reads).
FORMAT_VERSION = 2
#: Versions this release reads. Version 1 has no ``refractory`` variable; such files
#: load with ``refractory = 0``, which reproduces them exactly.
READABLE_VERSIONS = (1, 2)
ENGINE = "h5netcdf"

#: Scalar model parameters stored as 0-d variables: name -> (units, long name).
SCALARS = {
    "dt": (TIME, "simulation time step"),
    "velocity": (VELOCITY, "axonal conduction velocity"),
    "max_delay": (TIME, "largest delay; longer ones are clamped"),
    "tau_mem": (TIME, "membrane time constant"),
    "tau_syn": (TIME, "synaptic time constant"),
    "threshold": ("1", "firing threshold of the hidden LIF neurons"),
    "refractory": (TIME, "absolute refractory period of the hidden LIF neurons"),
}
#: Scalars added after version 1, with the value that reproduces a version-1 file.
_ADDED_IN_V2 = {"refractory": 0.0}

#: Units of the validated variables other than the weights (which are "1").
UNITS = {
    "position_hidden": LENGTH,
    "position_input": LENGTH,
    "delay_hidden_hidden": TIME,
    **{name: units for name, (units, _) in SCALARS.items()},
}


class ModelFileError(ValueError):
    """A model file that cannot be used: the message names the file and the problem."""


def _version() -> str:
    from spatialsnn import __version__

    return __version__


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def to_dataset(
    model,
    *,
    history: Mapping[str, Sequence[float]] | None = None,
    training_config: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Describe a model as an :class:`xarray.Dataset` in the format of version 2.

    Parameters
    ----------
    model : SpatialSNN
        The network.
    history : mapping of str to sequence of float, optional
        Per-epoch training history (e.g. ``{"train_loss": [...], "test_accuracy": [...]}``);
        stored as ``history_<name>`` along the ``epoch`` dim.
    training_config : mapping, optional
        JSON-serialisable training configuration, stored as a JSON string attribute.

    Returns
    -------
    xarray.Dataset
    """
    cfg = model.config()
    hp = cfg
    space = model.space
    data: dict[str, Any] = {}

    def var(name, dims, values, units, long_name, **attrs):
        data[name] = xr.Variable(dims, values, {"units": units, "long_name": long_name, **attrs})

    var(
        "position_hidden",
        ("hidden", "space"),
        _np(model.positions),
        LENGTH,
        "hidden neuron positions",
    )
    if model.input_positions is not None:
        var("position_input", ("input", "space"), _np(model.input_positions), LENGTH,
            "input neuron positions")  # fmt: skip
    var("weight_input_hidden", ("input", "hidden"), _np(model.w_in.T), "1",
        "input -> hidden weights [pre, post]")  # fmt: skip
    var("weight_hidden_hidden", ("hidden_pre", "hidden_post"), _np(model.w_rec.T), "1",
        "recurrent hidden -> hidden weights [pre, post]")  # fmt: skip
    var("weight_hidden_output", ("hidden", "output"), _np(model.w_out.T), "1",
        "hidden -> output weights [pre, post]")  # fmt: skip
    if model.rec_delay is not None:
        var("delay_hidden_hidden", ("hidden_pre", "hidden_post"), _np(model.rec_delay.T), TIME,
            "free per-synapse recurrent delays [pre, post] (source of truth)")  # fmt: skip
    with torch.no_grad(), _quiet_clamp():
        steps = model.delay_steps().T.to(torch.int32)
    var("delay_steps_hidden_hidden", ("hidden_pre", "hidden_post"), _np(steps), "1",
        "recurrent delays rounded to time steps as simulated [pre, post] (derived)",
        comment="int(delay/dt + 0.5) clamped to max_delay; for inspection only")  # fmt: skip
    for name, (units, long_name) in SCALARS.items():
        var(name, (), np.float64(hp[name]), units, long_name)
    for name, values in (history or {}).items():
        var(f"history_{name}", ("epoch",), np.asarray(values, dtype=np.float64), "1",
            f"training history: {name}")  # fmt: skip
    coords = {
        "space": ("space", np.array(space, dtype=object)),
        "input": ("input", np.arange(hp["n_in"])),
        "hidden": ("hidden", np.arange(hp["n_hidden"])),
        "output": ("output", np.arange(hp["n_out"])),
        "hidden_pre": ("hidden_pre", np.arange(hp["n_hidden"])),
        "hidden_post": ("hidden_post", np.arange(hp["n_hidden"])),
    }
    if history:
        n_epochs = len(next(iter(history.values())))
        coords["epoch"] = ("epoch", np.arange(1, n_epochs + 1))
    attrs = {
        "format": FORMAT_NAME,
        "format_version": np.int32(FORMAT_VERSION),
        "spatialsnn_version": _version(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "title": "spatialsnn model",
        "delays": hp["delays"],
        "config": json.dumps(cfg, sort_keys=True),
        "training_config": json.dumps(dict(training_config or {}), sort_keys=True, default=str),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


class _quiet_clamp:
    """Silence :class:`DelayClampWarning` while deriving the stored delay steps."""

    def __enter__(self):
        import warnings

        from spatialsnn.geometry import DelayClampWarning

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", DelayClampWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def save(
    model,
    path: str | os.PathLike,
    *,
    history: Mapping[str, Sequence[float]] | None = None,
    training_config: Mapping[str, Any] | None = None,
) -> Path:
    """Write a model file (format version 2), atomically.

    The file is written next to its destination and renamed into place, so an
    interrupted save never leaves a truncated model behind.

    Parameters
    ----------
    model : SpatialSNN
        The network to save.
    path : str or path-like
        Destination, conventionally ``*.nc``.
    history, training_config
        See :func:`to_dataset`.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    if history:
        lengths = {len(v) for v in history.values()}
        if len(lengths) != 1:
            raise ValueError(f"history entries must have one length, got {sorted(lengths)}")
    ds = to_dataset(model, history=history, training_config=training_config)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkstemp: its 0600 mode would survive the rename. A fresh name lets
    # HDF5 create the file with the usual umask-derived permissions.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        ds.to_netcdf(tmp, engine=ENGINE, invalid_netcdf=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _fail(path, problem: str) -> ModelFileError:
    return ModelFileError(f"{path}: {problem}")


def _one_line(err: BaseException) -> str:
    """An exception's message with its line breaks and runs of blanks folded to one blank."""
    return " ".join(str(err).split()) or type(err).__name__


#: First bytes of netCDF3 files: classic, 64-bit offset, 64-bit data (CDF-5).
_NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")


def open_model_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Read and validate a model file; return it as an in-memory Dataset.

    Parameters
    ----------
    path : str or path-like
        A spatialsnn model file.

    Returns
    -------
    xarray.Dataset
        Fully loaded (the file is closed again).

    Raises
    ------
    ModelFileError
        With one message naming the file and the problem: missing file, directory,
        empty file, netCDF3 file, not netCDF4/HDF5 or truncated, not a spatialsnn model,
        unknown format version, missing variable, wrong dims or shape, non-finite values,
        non-positive velocity, ... (see :func:`validate_dataset`).

    Warns
    -----
    DerivedVariableWarning
        When the stored delay steps disagree with the delays the file's positions (or
        free delays), velocity and ``dt`` imply; the stored steps are never used.
    """
    path = Path(path)
    if path.is_dir():
        raise _fail(path, "is a directory, not a model file")
    if not path.is_file():
        raise _fail(path, "no such file")
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as err:
        raise _fail(path, f"cannot be read ({err.strerror or _one_line(err)})") from None
    if not head:
        raise _fail(path, "is empty (0 bytes), not a model file")
    if head in _NETCDF3_MAGIC:
        raise _fail(
            path,
            "is a netCDF3 (classic) file, but model files are netCDF4/HDF5; convert it with "
            "xarray.open_dataset(old).to_netcdf(new, engine='h5netcdf')",
        )
    try:
        with xr.open_dataset(path, engine=ENGINE) as handle:
            ds = handle.load()
    except Exception as err:  # h5py/h5netcdf raise many types for broken files
        raise _fail(
            path,
            f"cannot be read as a netCDF4/HDF5 file (truncated or corrupt?): {_one_line(err)}",
        ) from None
    cfg = validate_dataset(ds, path)
    from spatialsnn.derived import check_derived

    check_derived(ds, cfg, path)
    return ds


def _real_dtype(dtype: np.dtype) -> bool:
    """Integer or floating point (not bool, complex, string or object)."""
    return np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)


def _header(ds: xr.Dataset, source: Any) -> int:
    """Check the ``format`` and ``format_version`` attributes; return the version."""
    fmt = ds.attrs.get("format")
    if not isinstance(fmt, str) or fmt != FORMAT_NAME:
        raise _fail(source, f"not a spatialsnn model file (format attribute is {fmt!r})")
    raw = ds.attrs.get("format_version")
    if isinstance(raw, (bool, np.bool_)) or not isinstance(raw, (int, np.integer)):
        raise _fail(source, f"format_version attribute is missing or not an integer: {raw}")
    version = int(raw)
    if version not in READABLE_VERSIONS:
        readable = " and ".join(str(v) for v in READABLE_VERSIONS)
        raise _fail(
            source,
            f"unknown format version {version} (this spatialsnn reads versions {readable}; "
            "a newer file needs a newer spatialsnn)",
        )
    return version


def _json_attribute(ds: xr.Dataset, name: str, source: Any) -> dict[str, Any]:
    """A global attribute that must hold a JSON object."""
    text = ds.attrs.get(name)
    try:
        value = json.loads(text) if isinstance(text, (str, bytes)) else None
    except ValueError as err:
        raise _fail(source, f"{name} attribute is not valid JSON ({_one_line(err)})") from None
    if not isinstance(value, dict):
        got = "missing" if text is None else f"not a JSON object: {str(text)[:40]!r}"
        raise _fail(source, f"{name} attribute is {got}")
    return value


def _check_training_config(ds: xr.Dataset, source: Any) -> None:
    """``training_config`` is optional; when present it is a JSON object (data: an object)."""
    if "training_config" not in ds.attrs:
        return
    tc = _json_attribute(ds, "training_config", source)
    if tc.get("data") is not None and not isinstance(tc["data"], dict):
        raise _fail(source, f"training_config['data'] is not a JSON object: {tc['data']!r}")


def _check_variable(ds: xr.Dataset, name: str, dims: dict[str, int], source: Any) -> None:
    """Dims (names in order, sizes), dtype, finiteness and units of one required variable."""
    if name not in ds.variables:
        raise _fail(source, f"missing variable {name!r}")
    var = ds[name]
    if var.dims != tuple(dims):
        raise _fail(
            source,
            f"variable {name!r} has dims {var.dims}, expected {tuple(dims)}"
            + (" (weights are stored [pre, post])" if name.startswith("weight_") else ""),
        )
    got = dict(zip(var.dims, var.shape, strict=True))
    if got != dims:
        raise _fail(source, f"variable {name!r} has shape {got}, expected {dims}")
    if not _real_dtype(var.dtype):
        raise _fail(source, f"variable {name!r} is not real-valued numeric ({var.dtype})")
    if not np.isfinite(var.values).all():
        raise _fail(source, f"variable {name!r} contains NaN or infinite values")
    units = var.attrs.get("units")
    if units is None:
        raise _fail(source, f"variable {name!r} has no units attribute")
    want = UNITS.get(name, "1")  # weights are dimensionless
    if not isinstance(units, str) or normalise_units(units) != want:
        raise _fail(source, f"variable {name!r} has units {units!r}, expected {want!r}")


def validate_dataset(ds: xr.Dataset, source: Any = "<dataset>") -> dict[str, Any]:
    """Check a Dataset against format version 1 or 2; return its model configuration.

    Raises
    ------
    ModelFileError
        On the first problem found.
    """
    version = _header(ds, source)
    scalars = [name for name in SCALARS if version >= 2 or name not in _ADDED_IN_V2]
    cfg = _json_attribute(ds, "config", source)
    try:
        n_in, n_hidden, n_out, dims = (int(cfg[k]) for k in ("n_in", "n_hidden", "n_out", "dims"))
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise _fail(source, f"config attribute is missing or invalid ({err!r})") from None
    _check_training_config(ds, source)
    expected = {
        "position_hidden": {"hidden": n_hidden, "space": dims},
        "weight_input_hidden": {"input": n_in, "hidden": n_hidden},
        "weight_hidden_hidden": {"hidden_pre": n_hidden, "hidden_post": n_hidden},
        "weight_hidden_output": {"hidden": n_hidden, "output": n_out},
        **{name: {} for name in scalars},
    }
    if cfg.get("input_positions"):
        expected["position_input"] = {"input": n_in, "space": dims}
    if cfg.get("delays") == "free":
        expected["delay_hidden_hidden"] = {"hidden_pre": n_hidden, "hidden_post": n_hidden}
    for name, shape in expected.items():
        _check_variable(ds, name, shape, source)
    for name in ("dt", "velocity", "tau_mem", "tau_syn"):
        if not float(ds[name]) > 0:
            raise _fail(source, f"{name} must be positive, got {float(ds[name])}")
    for name in ("max_delay", *(["refractory"] if "refractory" in scalars else [])):
        if not float(ds[name]) >= 0:
            raise _fail(source, f"{name} must be >= 0 ms, got {float(ds[name])}")
    from spatialsnn.model import MAX_DELAY_STEPS

    steps = float(ds["max_delay"]) / float(ds["dt"])
    if not steps < MAX_DELAY_STEPS:
        raise _fail(source, f"max_delay / dt = {steps:g} steps; at most {MAX_DELAY_STEPS} allowed")
    for name in ds.data_vars:
        if str(name).startswith("history_"):
            var = ds[name]
            if var.dims != ("epoch",) or not _real_dtype(var.dtype):
                raise _fail(
                    source, f"history variable {name!r} must be numeric along 'epoch', "
                    f"got dims {var.dims} and dtype {var.dtype}"
                )  # fmt: skip
    for name in SCALARS:  # the variables are the source of truth for physical values
        cfg[name] = float(ds[name]) if name in scalars else _ADDED_IN_V2[name]
    return cfg


def from_dataset(ds: xr.Dataset, source: Any = "<dataset>", dtype: torch.dtype | None = None):
    """Build a :class:`~spatialsnn.SpatialSNN` from a Dataset in format v1 or v2 (validated here).

    Parameters
    ----------
    ds : xarray.Dataset
        The model description.
    source : str or path
        Named in error messages.
    dtype : torch.dtype, optional
        Parameter dtype; default: float64 if the file stores float64 weights, else
        float32.
    """
    from spatialsnn.model import SpatialSNN

    cfg = validate_dataset(ds, source)
    try:
        model = SpatialSNN(**cfg)
    except (TypeError, ValueError, OverflowError, RuntimeError) as err:
        raise _fail(source, f"config cannot build a model: {_one_line(err)}") from None
    if dtype is None:
        stored = ds["weight_hidden_hidden"].dtype
        dtype = torch.float64 if stored == np.float64 else torch.float32
    model = model.to(dtype)

    def tensor(name: str, transpose: bool = False) -> torch.Tensor:
        values = np.asarray(ds[name].values, dtype=np.float64)
        t = torch.from_numpy(values.T.copy() if transpose else values)
        return t.to(dtype)

    with torch.no_grad():
        model.positions.copy_(tensor("position_hidden"))
        model.w_in.copy_(tensor("weight_input_hidden", transpose=True))
        model.w_rec.copy_(tensor("weight_hidden_hidden", transpose=True))
        model.w_out.copy_(tensor("weight_hidden_output", transpose=True))
        if model.input_positions is not None:
            model.input_positions.copy_(tensor("position_input"))
        if model.rec_delay is not None:
            # the raw parameter; the model uses max(0, value), so negatives are valid
            model.rec_delay.copy_(tensor("delay_hidden_hidden", transpose=True))
    return model


def load(path: str | os.PathLike, *, dtype: torch.dtype | None = None):
    """Load a model file written by :func:`save`.

    Parameters
    ----------
    path : str or path-like
        A spatialsnn model file (format version 1 or 2).
    dtype : torch.dtype, optional
        Parameter dtype; default: the stored precision (float64 files give float64
        models, everything else float32).

    Returns
    -------
    SpatialSNN
        The network on the CPU, in training mode, like any newly constructed
        ``torch.nn.Module`` (the file stores parameters, not a mode): training can go on
        from it directly. Call ``.eval()`` before simulating it as Brian2 does: in
        evaluation mode delays are rounded to whole steps (``eval_delay_mode``, "round"),
        in training mode they are interpolated (``delay_mode``). ``validate`` and
        ``analyze`` switch to evaluation mode themselves.

    Raises
    ------
    ModelFileError
        If the file is missing, unreadable or not a valid model (see
        :func:`open_model_dataset`); nothing is half-loaded.
    """
    ds = open_model_dataset(path)
    return from_dataset(ds, Path(path), dtype)


def training_config_of(ds: xr.Dataset) -> dict[str, Any]:
    """The training configuration stored in a model Dataset (``{}`` when none was given).

    :func:`open_model_dataset` has checked that the attribute is a JSON object, so this
    only decodes it; a Dataset that did not pass that check gives ``{}`` rather than an
    error here.
    """
    try:
        config = json.loads(ds.attrs.get("training_config") or "{}")
    except (TypeError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def history_of(ds: xr.Dataset) -> dict[str, list[float]]:
    """The training history stored in a model Dataset, ``{name: values per epoch}``."""
    return {
        name[len("history_") :]: [float(v) for v in ds[name].values]
        for name in ds.data_vars
        if name.startswith("history_")
    }
