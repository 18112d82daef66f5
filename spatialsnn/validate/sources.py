"""Where the samples of a validation come from: recorded data, files, random input.

:func:`load_data` reads ``--data``. Layouts
    ``.npz``: ``x`` (or ``counts``) integer spike counts ``[sample, time, channel]``,
    optional ``y`` (or ``labels``) ``[sample]``, optional scalar ``dt`` (ms).
    ``.nc`` (netCDF4, read with the h5netcdf engine): variable ``x`` (or ``counts``)
    with dims ``(sample, time, channel)``, optional ``y`` (or ``labels``) along
    ``sample``, optional ``dt`` (ms) as a scalar variable or global attribute.
    ``.h5``/``.hdf5``: a file of the Spiking Heidelberg Digits layout, binned to the
    model's ``dt``. ``random``: seeded Poisson counts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spatialsnn.validate.samples import ValidationData, ValidationInputError, random_counts

__all__ = ["RANDOM_RATE_HZ", "RANDOM_SAMPLES", "RANDOM_STEPS", "load_data"]

#: Default number of samples of ``--data random``.
RANDOM_SAMPLES = 32
#: Default number of steps of ``--data random``.
RANDOM_STEPS = 100
#: Default rate of ``--data random``, Hz (per channel).
RANDOM_RATE_HZ = 40.0


def _counts_array(x: Any, where: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValidationInputError(
            f"{where}: spike counts must be [sample, time, channel], got shape {x.shape}"
        )
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValidationInputError(f"{where}: no samples or no time steps (shape {x.shape})")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValidationInputError(f"{where}: spike counts must be numbers, got {x.dtype}")
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all() or (x != np.round(x)).any():
            raise ValidationInputError(f"{where}: spike counts must be whole numbers")
    if x.size and x.min() < 0:
        raise ValidationInputError(f"{where}: spike counts must be >= 0")
    return x.astype(np.int64) if x.max(initial=0) > 255 else x.astype(np.uint8)


def _labels_array(y: Any, n: int, where: str) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValidationInputError(
            f"{where}: labels must be integers [sample={n}], got {y.dtype} {y.shape}"
        )
    return y.astype(np.int64)


def _read_npz(path: Path) -> ValidationData:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as err:
        raise ValidationInputError(f"{path}: cannot be read as an .npz file: {err}") from None
    key = "x" if "x" in arrays else "counts" if "counts" in arrays else None
    if key is None:
        raise ValidationInputError(
            f"{path}: no array 'x' (or 'counts') of spike counts (arrays: {sorted(arrays)})"
        )
    x = _counts_array(arrays[key], str(path))
    ykey = "y" if "y" in arrays else "labels" if "labels" in arrays else None
    y = _labels_array(arrays[ykey], len(x), str(path)) if ykey else None
    dt = float(arrays["dt"]) if "dt" in arrays else None
    return ValidationData(
        x, y, dt, f"{path}", {"source": "file", "path": str(path)}, np.arange(len(x))
    )


def _read_nc(path: Path) -> ValidationData:
    import xarray as xr

    try:
        with xr.open_dataset(path, engine="h5netcdf") as handle:
            ds = handle.load()
    except Exception as err:
        raise ValidationInputError(
            f"{path}: cannot be read as a netCDF4/HDF5 file: {err}"
        ) from None
    key = "x" if "x" in ds.variables else "counts" if "counts" in ds.variables else None
    if key is None:
        raise ValidationInputError(
            f"{path}: no variable 'x' (or 'counts') of spike counts "
            f"(variables: {sorted(map(str, ds.variables))})"
        )
    x = _counts_array(ds[key].values, str(path))
    ykey = "y" if "y" in ds.variables else "labels" if "labels" in ds.variables else None
    y = _labels_array(ds[ykey].values, len(x), str(path)) if ykey else None
    dt = ds["dt"].values if "dt" in ds.variables else ds.attrs.get("dt")
    return ValidationData(
        x,
        y,
        None if dt is None else float(dt),
        f"{path}",
        {"source": "file", "path": str(path)},
        np.arange(len(x)),
    )


def _read_h5(path: Path, dt: float) -> ValidationData:
    try:
        from spatialsnn.data.shd import read_spike_file
    except ImportError as err:  # pragma: no cover - the data module ships with spatialsnn
        raise ValidationInputError(f"{path}: cannot read SHD files here ({err})") from None
    try:
        x, y, _ = read_spike_file(path, dt=dt)
    except Exception as err:  # DatasetError and h5py errors
        raise ValidationInputError(f"{path}: {err}") from None
    return ValidationData(
        x.numpy(),
        y.numpy().astype(np.int64),
        dt,
        f"{path} (SHD layout)",
        {"source": "shd-file", "path": str(path)},
        np.arange(len(x)),
    )


def _recorded(training_config: Mapping[str, Any], split: str, where: str) -> ValidationData | None:
    info = training_config.get("data") if isinstance(training_config, Mapping) else None
    if not info:
        return None
    from spatialsnn.data import dataset_from_info

    try:
        try:
            ds = dataset_from_info(dict(info), split)
        except ValueError:
            if info.get("source") not in ("shd", "ssc"):
                raise
            from spatialsnn.data.shd import from_info

            ds = from_info(dict(info), split)
    except Exception as err:  # ValueError, DatasetError, OSError ...
        raise ValidationInputError(
            f"{where}: cannot recreate the recorded data ({info.get('source')!r} "
            f"{info.get('task', '')}): {err}; pass --data"
        ) from None
    name = info.get("task") or info.get("source")
    seed = f", seed {info['seed']}" if "seed" in info else ""
    return ValidationData(
        ds.x.numpy(),
        ds.y.numpy().astype(np.int64),
        float(ds.dt),
        f"{split} split of {name}{seed} (recorded in the model)",
        {"source": "recorded", "split": split, "info": dict(info)},
        np.arange(len(ds.x)),
    )


def load_data(
    spec: str | os.PathLike | None,
    *,
    training_config: Mapping[str, Any] | None = None,
    n_in: int,
    dt: float,
    split: str = "test",
    samples: int | None = None,
    seed: int = 0,
    where: str = "model",
) -> ValidationData:
    """The samples to validate on.

    Parameters
    ----------
    spec : str, path-like or None
        None: the data recorded in the model's ``training_config["data"]`` (synthetic
        tasks regenerate from their seed; SHD is read from its cache/path), falling back
        to ``"random"`` when nothing is recorded. ``"random"``: seeded Poisson counts
        (:data:`RANDOM_SAMPLES` samples of :data:`RANDOM_STEPS` steps at
        :data:`RANDOM_RATE_HZ`, unless ``samples`` says otherwise). A path: ``.npz``,
        ``.nc`` or ``.h5``/``.hdf5`` (see the module docstring).
    training_config : mapping, optional
        The model file's training configuration.
    n_in : int
        Input channels of the model (the data must have as many).
    dt : float
        The model's time step, ms (the data's bin width must equal it).
    split : {"test", "train"}
        Split of the recorded data.
    samples : int, optional
        Use the first ``samples`` samples.
    seed : int
        Seed of ``"random"``.
    where : str
        Name of the model, for messages.

    Returns
    -------
    ValidationData

    Raises
    ------
    ValidationInputError
        Missing or unreadable file, unknown format, data that does not fit the model.
    """
    if samples is not None and samples < 1:
        raise ValidationInputError(f"--samples must be >= 1, got {samples}")
    data = _recorded(training_config or {}, split, where) if spec is None else None
    if data is None and (spec is None or str(spec) == "random"):
        note = "" if spec is not None else "the model records no data set; "
        data = _random(samples or RANDOM_SAMPLES, n_in, dt, seed, note)
    elif data is None:
        data = _read_file(Path(spec), dt)
    if data.x.shape[2] != n_in:
        raise ValidationInputError(
            f"data ({data.description}) has {data.x.shape[2]} channels "
            f"but the model has {n_in} inputs"
        )
    if data.dt is not None and not math.isclose(data.dt, dt, rel_tol=1e-9):
        raise ValidationInputError(
            f"data ({data.description}) is binned at dt = {data.dt:g} ms "
            f"but the model's dt is {dt:g} ms"
        )
    return data.head(samples)


def _random(n: int, n_in: int, dt: float, seed: int, note: str) -> ValidationData:
    """Seeded Poisson counts, :data:`RANDOM_STEPS` steps at :data:`RANDOM_RATE_HZ`."""
    x = random_counts(n, RANDOM_STEPS, n_in, rate_hz=RANDOM_RATE_HZ, dt=dt, seed=seed)
    return ValidationData(
        x,
        None,
        dt,
        f"{note}random Poisson counts ({RANDOM_RATE_HZ:g} Hz, seed {seed})",
        {"source": "random", "rate_hz": RANDOM_RATE_HZ, "seed": seed},
        np.arange(n),
    )


def _read_file(path: Path, dt: float) -> ValidationData:
    """A data file, by its suffix."""
    if not path.is_file():
        raise ValidationInputError(f"{path}: no such data file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path)
    if suffix in (".nc", ".nc4", ".netcdf"):
        return _read_nc(path)
    if suffix in (".h5", ".hdf5"):
        return _read_h5(path, dt)
    raise ValidationInputError(
        f"{path}: unknown data format {suffix!r} (use .npz, .nc, .h5 or 'random')"
    )
