"""Does the biological simulation reproduce the twin? Twin vs Brian2 on the same samples.

:func:`validate` runs the same input through the PyTorch twin (in ``eval()`` mode, i.e.
``round`` delays, docs/model.md) and through the Brian2 network of
:mod:`spatialsnn.brian2`, and compares, per sample: the hidden spike trains (identical,
and a tolerance-based agreement), the output membrane, the predicted class; and over
all samples: the accuracy of each, the delays (in steps) each side used, and the time
each took. :func:`validate_file` adds the model file and the data (``spatialsnn
validate``).

Pass criteria (:class:`Criteria`), at the simulated ``dt`` (``--dt``; the twin is then
run at the same ``dt``):

* float64: at least ``min_identical`` (default 99 %) of the samples have identical
  hidden spike trains, and the accuracies differ by at most ``max_accuracy_diff``
  (default 0.5 percentage points);
* float32: the accuracies differ by at most ``max_accuracy_diff``. Identical spikes are
  reported but not required (float32 runs of a recurrent network diverge after a
  single rounding-induced spike flip; docs/model.md).

Without labels, the percentage of samples whose predictions differ stands in for the
accuracy difference. With a ``dt`` finer than the training ``dt`` the run is also a test
of *transfer*: does the trained function survive a more faithful simulation of the same
network? Criterion: Brian2's accuracy at the fine ``dt`` is at most ``max_transfer_drop``
(default 2) percentage points below the twin's at the training ``dt`` (without labels:
at most that percentage of samples change their prediction). The spike agreement with
the training-step run within ``tolerance`` ms is reported as well. Hidden firing rates
are reported in spikes/s (mean over neurons and the busiest neuron).

Data layouts accepted by :func:`load_data` (``--data``)
    ``.npz``: ``x`` (or ``counts``) integer spike counts ``[sample, time, channel]``,
    optional ``y`` (or ``labels``) ``[sample]``, optional scalar ``dt`` (ms).
    ``.nc`` (netCDF4, read with the h5netcdf engine): variable ``x`` (or ``counts``)
    with dims ``(sample, time, channel)``, optional ``y`` (or ``labels``) along
    ``sample``, optional ``dt`` (ms) as a scalar variable or global attribute.
    ``.h5``/``.hdf5``: a file of the Spiking Heidelberg Digits layout, binned to the
    model's ``dt``. ``random``: seeded Poisson counts.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Criteria",
    "hidden_rates",
    "ValidationData",
    "ValidationInputError",
    "ValidationResult",
    "delay_statistics",
    "load_data",
    "random_counts",
    "run_twin",
    "spike_agreement",
    "upsample_counts",
    "validate",
    "validate_file",
]

#: Default number of samples of ``--data random``.
RANDOM_SAMPLES = 32
#: Default number of steps of ``--data random``.
RANDOM_STEPS = 100
#: Default rate of ``--data random``, Hz (per channel).
RANDOM_RATE_HZ = 40.0


class ValidationInputError(ValueError):
    """Bad input to a validation (model, data, options); the message says what and where."""


@dataclass
class Criteria:
    """When a validation passes.

    Attributes
    ----------
    min_identical : float or None
        Smallest fraction of samples with identical hidden spike trains; None: 0.99 in
        float64, not required in float32.
    max_accuracy_diff : float
        Largest ``|accuracy(twin) - accuracy(Brian2)|`` in percentage points (without
        labels: the percentage of samples whose predictions differ).
    max_transfer_drop : float
        With a ``dt`` finer than the training ``dt``: largest drop of Brian2's accuracy
        at that ``dt`` below the twin's accuracy at the training ``dt``, percentage
        points (without labels: the percentage of samples whose prediction changes).
    """

    min_identical: float | None = None
    max_accuracy_diff: float = 0.5
    max_transfer_drop: float = 2.0

    def resolved(self, precision: str) -> dict[str, float | None]:
        """The thresholds that apply at a precision."""
        ident = self.min_identical
        if ident is None:
            ident = 0.99 if precision == "float64" else None
        return {
            "min_identical": ident,
            "max_accuracy_diff": float(self.max_accuracy_diff),
            "max_transfer_drop": float(self.max_transfer_drop),
        }


@dataclass
class ValidationData:
    """Spike counts to validate on.

    Attributes
    ----------
    x : numpy.ndarray of int, shape (n_samples, n_steps, n_channels)
        Spike counts per bin of width ``dt``.
    y : numpy.ndarray of int64, shape (n_samples,), or None
        Labels, if known.
    dt : float or None
        Bin width in ms, if the source states it.
    description : str
        Where the data came from, for humans.
    source : dict
        The same, for machines (JSON-serialisable).
    index : numpy.ndarray of int64, shape (n_samples,)
        Index of each sample in its source.
    """

    x: np.ndarray
    y: np.ndarray | None
    dt: float | None
    description: str
    source: dict[str, Any]
    index: np.ndarray

    def head(self, n: int | None) -> ValidationData:
        """The first ``n`` samples (all when None)."""
        if n is None or n >= len(self.x):
            return self
        return ValidationData(
            self.x[:n],
            None if self.y is None else self.y[:n],
            self.dt,
            self.description,
            dict(self.source),
            self.index[:n],
        )


# ---------------------------------------------------------------------------------- data


def random_counts(
    n_samples: int, n_steps: int, n_channels: int, *, rate_hz: float, dt: float, seed: int
) -> np.ndarray:
    """Poisson spike counts per bin (several spikes of one channel in a bin possible).

    Parameters
    ----------
    n_samples, n_steps, n_channels : int
        Shape of the result.
    rate_hz : float
        Rate per channel, Hz.
    dt : float
        Bin width, ms.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    numpy.ndarray of uint8, shape (n_samples, n_steps, n_channels)
    """
    rng = np.random.default_rng(seed)
    lam = rate_hz * dt * 1e-3
    return rng.poisson(lam, size=(n_samples, n_steps, n_channels)).clip(0, 255).astype(np.uint8)


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
    data = None
    if spec is None:
        data = _recorded(training_config or {}, split, where)
    if data is None and (spec is None or str(spec) == "random"):
        n = samples or RANDOM_SAMPLES
        x = random_counts(n, RANDOM_STEPS, n_in, rate_hz=RANDOM_RATE_HZ, dt=dt, seed=seed)
        recorded = "" if spec is not None else "the model records no data set; "
        data = ValidationData(
            x,
            None,
            dt,
            f"{recorded}random Poisson counts ({RANDOM_RATE_HZ:g} Hz, seed {seed})",
            {"source": "random", "rate_hz": RANDOM_RATE_HZ, "seed": seed},
            np.arange(n),
        )
    elif data is None:
        path = Path(spec)
        if not path.is_file():
            raise ValidationInputError(f"{path}: no such data file")
        suffix = path.suffix.lower()
        if suffix == ".npz":
            data = _read_npz(path)
        elif suffix in (".nc", ".nc4", ".netcdf"):
            data = _read_nc(path)
        elif suffix in (".h5", ".hdf5"):
            data = _read_h5(path, dt)
        else:
            raise ValidationInputError(
                f"{path}: unknown data format {suffix!r} (use .npz, .nc, .h5 or 'random')"
            )
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


def upsample_counts(counts: np.ndarray, ratio: int) -> np.ndarray:
    """Counts on a grid ``ratio`` times finer: the count of a bin at its first sub-step.

    Parameters
    ----------
    counts : array, shape (n_samples, n_steps, n_channels)
    ratio : int
        Sub-steps per bin (1: unchanged).

    Returns
    -------
    numpy.ndarray, shape (n_samples, n_steps * ratio, n_channels)
    """
    if ratio == 1:
        return counts
    n, n_steps, c = counts.shape
    out = np.zeros((n, n_steps * ratio, c), dtype=counts.dtype)
    out[:, ::ratio] = counts
    return out


# ---------------------------------------------------------------------------------- twin


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


# ---------------------------------------------------------------------------- comparisons


def _greedy_matches(a: np.ndarray, b: np.ndarray, tol: float) -> int:
    """Largest one-to-one matching of two sorted time lists within ``tol``."""
    i = j = m = 0
    while i < len(a) and j < len(b):
        d = a[i] - b[j]
        if abs(d) <= tol:
            m += 1
            i += 1
            j += 1
        elif d < 0:
            i += 1
        else:
            j += 1
    return m


def spike_agreement(
    a: np.ndarray, dt_a: float, b: np.ndarray, dt_b: float, tolerance: float
) -> float:
    """Tolerance-based agreement of two spike rasters of the same neurons.

    Spikes of the same neuron are paired one-to-one when their times differ by at most
    ``tolerance``; the agreement is ``2 * pairs / (n_a + n_b)`` (1 when both are empty):
    1 for identical trains, 0 when no spike has a partner.

    Parameters
    ----------
    a, b : array of bool, shape (n_steps_a, n_neurons) and (n_steps_b, n_neurons)
        Rasters; spike times are ``step * dt``.
    dt_a, dt_b : float
        Their time steps, ms.
    tolerance : float
        Largest time difference of a pair, ms.

    Returns
    -------
    float
    """
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    n_a, n_b = int(a.sum()), int(b.sum())
    if n_a + n_b == 0:
        return 1.0
    if dt_a == dt_b and a.shape == b.shape:
        same = (a == b).all(0)
        if same.all():
            return 1.0
        pairs = int(a[:, same].sum())
        cols = np.flatnonzero(~same)
    else:
        pairs, cols = 0, np.arange(a.shape[1])
    tol = tolerance + 1e-9 * max(dt_a, dt_b)
    for c in cols:
        ta = np.flatnonzero(a[:, c]) * dt_a
        tb = np.flatnonzero(b[:, c]) * dt_b
        if len(ta) and len(tb):
            pairs += _greedy_matches(ta, tb, tol)
    return 2.0 * pairs / (n_a + n_b)


def delay_statistics(
    delay_ms: np.ndarray,
    dt: float,
    kmax: int,
    present: np.ndarray,
    twin_steps: np.ndarray | None = None,
    brian2_steps: np.ndarray | None = None,
) -> dict[str, Any]:
    """How the delays of one projection were rounded to the time grid.

    Parameters
    ----------
    delay_ms : array, shape (n_pre, n_post)
        Exact delays in ms (float64).
    dt : float
        Time step, ms.
    kmax : int
        Clamp in steps.
    present : array of bool, shape (n_pre, n_post)
        Synapses that exist (non-zero weight); the statistics are over these.
    twin_steps, brian2_steps : array of int, shape (n_pre, n_post), optional
        Delays in steps as the twin and as Brian2 used them.

    Returns
    -------
    dict
        ``n_synapses``; ``delay_min_ms``, ``delay_max_ms``, ``delay_mean_ms``;
        ``steps_max``; ``rounding_abs_mean_steps``, ``rounding_abs_max_steps``
        (``|d/dt - round(d/dt)|`` of unclamped delays); ``n_half_step_ties`` (within
        1e-9 of a ``k + 1/2`` step, where floating-point error decides the rounding);
        ``n_clamped`` (beyond ``kmax``); ``n_twin_brian2_differ`` (None when unknown).
    """
    s = np.asarray(delay_ms, dtype=np.float64)[present] / dt
    n = int(s.size)
    out: dict[str, Any] = {"n_synapses": n}
    if n == 0:
        return {**out, "n_twin_brian2_differ": 0 if brian2_steps is not None else None}
    k = np.floor(s + 0.5)
    clamped = k > kmax
    frac = s - np.floor(s)
    err = np.abs(s - k)[~clamped]
    out.update(
        delay_min_ms=float(s.min() * dt),
        delay_max_ms=float(s.max() * dt),
        delay_mean_ms=float(s.mean() * dt),
        steps_max=int(np.minimum(k, kmax).max()),
        rounding_abs_mean_steps=float(err.mean()) if err.size else 0.0,
        rounding_abs_max_steps=float(err.max()) if err.size else 0.0,
        n_half_step_ties=int((np.abs(frac - 0.5) <= 1e-9 * np.maximum(1.0, s)).sum()),
        n_clamped=int(clamped.sum()),
    )
    if twin_steps is not None and brian2_steps is not None:
        diff = np.asarray(twin_steps)[present] != np.asarray(brian2_steps)[present]
        out["n_twin_brian2_differ"] = int(diff.sum())
    else:
        out["n_twin_brian2_differ"] = None
    return out


# ------------------------------------------------------------------------------- results


@dataclass
class ValidationResult:
    """Outcome of :func:`validate`.

    Attributes
    ----------
    passed : bool
        Whether every criterion held.
    summary : dict
        Everything reported (JSON-serialisable): model, data, Brian2 set-up, delay
        statistics, agreement, accuracy, timing, criteria and failures.
    per_sample : dict of numpy.ndarray
        Per-sample results, see :meth:`to_dataset`.
    """

    passed: bool
    summary: dict[str, Any]
    per_sample: dict[str, np.ndarray] = field(repr=False)

    def to_json(self) -> str:
        """The summary as JSON."""
        return json.dumps(self.summary, indent=2)

    def to_dataset(self):
        """Per-sample results as an :class:`xarray.Dataset` (dims ``sample``, ``class``).

        Variables: ``label`` (-1: unknown), ``prediction_twin``, ``prediction_brian2``,
        ``identical`` (hidden spike trains equal), ``n_spikes_twin``,
        ``n_spikes_brian2``, ``n_spike_mismatch`` (entries of the rasters that differ),
        ``first_divergence`` (ms; NaN when identical), ``spike_agreement``,
        ``max_abs_dv_output``, ``logits_twin``, ``logits_brian2``; with a finer ``dt``
        also ``prediction_twin_train_dt`` and ``spike_agreement_train_dt``. Every
        variable has ``units`` and ``long_name``; the summary is the JSON attribute
        ``summary``.
        """
        import xarray as xr

        meta = {
            "label": ("1", "true class (-1: unknown)"),
            "prediction_twin": ("1", "class predicted by the twin"),
            "prediction_brian2": ("1", "class predicted by Brian2"),
            "identical": ("1", "hidden spike trains identical (twin vs Brian2)"),
            "n_spikes_twin": ("1", "hidden spikes in the twin"),
            "n_spikes_brian2": ("1", "hidden spikes in Brian2"),
            "n_spike_mismatch": ("1", "(step, neuron) entries of the hidden rasters that differ"),
            "first_divergence": ("ms", "time of the first differing hidden spike (NaN: none)"),
            "spike_agreement": ("1", "tolerance-based spike-train agreement, 2*pairs/(n_a+n_b)"),
            "max_abs_dv_output": ("1", "max |V_out(twin) - V_out(Brian2)|"),
            "logits_twin": ("1", "readout of the twin"),
            "logits_brian2": ("1", "readout of Brian2"),
            "prediction_twin_train_dt": ("1", "class predicted by the twin at the training dt"),
            "spike_agreement_train_dt": (
                "1",
                "agreement of Brian2 with the twin at the training dt",
            ),
        }
        data = {}
        for name, values in self.per_sample.items():
            if name == "index":
                continue
            dims = ("sample", "class") if values.ndim == 2 else ("sample",)
            units, long_name = meta[name]
            data[name] = xr.Variable(dims, values, {"units": units, "long_name": long_name})
        s = self.summary
        attrs = {
            "title": "spatialsnn validation report (twin vs Brian2)",
            "model": str(s["model"]["path"]),
            "passed": np.int8(self.passed),
            "device": s["brian2"]["device"],
            "precision": s["brian2"]["precision"],
            "dt": float(s["brian2"]["dt_ms"]),
            "dt_units": "ms",
            "spatialsnn_version": s["spatialsnn_version"],
            "brian2_version": s["brian2"]["version"],
            "summary": json.dumps(s, sort_keys=True),
        }
        coords = {
            "sample": ("sample", self.per_sample["index"]),
            "class": ("class", np.arange(self.per_sample["logits_twin"].shape[1])),
        }
        return xr.Dataset(data, coords=coords, attrs=attrs)

    def write_report(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dataset` to a netCDF4 file (engine h5netcdf)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.to_dataset().to_netcdf(path, engine="h5netcdf")
        return path

    def format_table(self) -> str:
        """A human-readable summary."""
        s = self.summary
        m, d, b, a, acc, t = (
            s[k] for k in ("model", "data", "brian2", "agreement", "accuracy", "timing")
        )
        n = d["n_samples"]

        def pct(v):
            return "n/a" if v is None else f"{100 * v:.2f} %"

        lines = [
            f"spatialsnn validate: {m['path']}",
            f"  model     {m['description']}",
            f"  data      {d['description']}: {n} samples x {d['n_steps']} steps "
            f"(at most {d['max_count']} spike{'s' if d['max_count'] != 1 else ''} per bin "
            "and channel)",
            f"  brian2    {b['version']}, {b['device']}"
            + (f" ({b['target']})" if b["device"] == "runtime" else "")
            + f", {b['precision']}, dt {b['dt_ms']:g} ms, {b['batch']} network cop"
            + ("y" if b["batch"] == 1 else "ies")
            + f" x {b['samples_per_run']} sample(s) per run, {b['jobs']} job(s)",
        ]
        for name, st in s["delays"].items():
            if st is None:
                continue
            if not st["n_synapses"]:
                lines.append(f"  delays    {name}: no synapses")
                continue
            differ = st["n_twin_brian2_differ"]
            lines.append(
                f"  delays    {name}: {st['n_synapses']} synapses, {st['delay_min_ms']:.3g}.."
                f"{st['delay_max_ms']:.4g} ms (<= {st['steps_max']} steps), mean |rounding| "
                f"{st['rounding_abs_mean_steps']:.3f} step, {st['n_half_step_ties']} at a "
                f"half-step tie, {st['n_clamped']} clamped, "
                f"{'?' if differ is None else differ} differ twin/Brian2"
            )
        width = 34
        lines += [
            "",
            f"  {'':{width}}{'twin':>12}{'brian2':>12}",
            f"  {'accuracy':{width}}{pct(acc['twin']):>12}{pct(acc['brian2']):>12}",
            f"  {'hidden spikes':{width}}{a['n_spikes_twin']:>12}{a['n_spikes_brian2']:>12}",
            f"  {'identical spike trains':{width}}{a['identical_samples']:>7} / {n} "
            f"({pct(a['identical_fraction'])})",
            f"  {'spike agreement (±' + format(a['tolerance_ms'], 'g') + ' ms)':{width}}"
            f"{a['spike_agreement_mean']:>12.4f}",
            f"  {'prediction agreement':{width}}{a['prediction_agreement_samples']:>7} / {n} "
            f"({pct(a['prediction_agreement'])})",
            f"  {'max |dV_out|':{width}}{a['max_abs_dv_output']:>12.3g}",
        ]
        r = s.get("rates", {})
        if "twin" in r:
            lines += [
                f"  {'hidden rate, mean (spikes/s)':{width}}"
                f"{r['twin']['mean_hz']:>12.1f}{r['brian2']['mean_hz']:>12.1f}",
                f"  {'hidden rate, busiest (spikes/s)':{width}}"
                f"{r['twin']['max_hz']:>12.1f}{r['brian2']['max_hz']:>12.1f}",
            ]
        if "twin_train_dt" in acc:
            coarse = f"twin at {acc['train_dt_ms']:g} ms"
            change = "n/a" if acc["change_pp"] is None else f"{acc['change_pp']:+.2f} pp"
            lines += [
                f"  {'accuracy, ' + coarse:{width}}{pct(acc['twin_train_dt']):>12}",
                f"  {'accuracy change, brian2 - ' + coarse:{width}}{change:>12}",
                f"  {'spike agreement with ' + coarse:{width}}"
                f"{a['spike_agreement_train_dt_mean']:>12.4f}",
            ]
            if "twin_train_dt" in r:
                rc = r["twin_train_dt"]
                lines.append(
                    f"  {'hidden rate, ' + coarse:{width}}{rc['mean_hz']:>12.1f} spikes/s "
                    f"(busiest {rc['max_hz']:.1f})"
                )
        lines += [
            f"  {'time':{width}}twin {t['twin_s']:.1f} s | brian2 build "
            f"{t['brian2_build_s']:.1f} s, run {t['brian2_run_s']:.1f} s "
            f"({t['brian2_samples_per_s']:.1f} samples/s)",
            "",
        ]
        if self.passed:
            lines.append("PASS: " + "; ".join(s["checks"]))
        else:
            lines.append("FAIL: " + "; ".join(s["failures"]))
        return "\n".join(lines)


# ----------------------------------------------------------------------------- validate


def hidden_rates(counts: np.ndarray, n_samples: int, duration_s: float) -> dict[str, float]:
    """Firing rates from per-neuron spike counts summed over samples.

    Parameters
    ----------
    counts : numpy.ndarray, shape (n_hidden,)
        Spikes of each hidden neuron, summed over the samples.
    n_samples : int
        Number of samples.
    duration_s : float
        Duration of one sample, s.

    Returns
    -------
    dict
        ``mean_hz`` (mean over neurons) and ``max_hz`` (the busiest neuron), spikes/s.
    """
    per_neuron = np.asarray(counts, dtype=np.float64) / max(1, n_samples) / duration_s
    return {"mean_hz": float(per_neuron.mean()), "max_hz": float(per_neuron.max(initial=0))}


def _transfer_check(per, labels, acc: dict[str, Any], limit: float) -> tuple[bool, str]:
    """The transfer criterion: Brian2 at the fine dt vs the twin at the training dt."""
    coarse = f"the twin at the training dt {acc['train_dt_ms']:g} ms"
    if labels is not None:
        drop = -acc["change_pp"]
        msg = (
            f"transfer: Brian2 at the fine dt reaches {100 * acc['brian2']:.2f} %, "
            f"{coarse} {100 * acc['twin_train_dt']:.2f} %: a drop of {drop:.2f} pp "
            f"(allowed <= {limit:g} pp)"
        )
    else:
        drop = 100 * float((per["prediction_brian2"] != per["prediction_twin_train_dt"]).mean())
        msg = (
            f"transfer: {drop:.2f} % of samples change their prediction from {coarse} "
            f"(no labels; allowed <= {limit:g} %)"
        )
    return drop <= limit + 1e-9, msg


def _describe_model(model) -> str:
    hp = model.hparams
    where = "inputs with positions, " if hp["input_positions"] else ""
    return (
        f"{hp['n_in']} -> {hp['n_hidden']} (recurrent, {hp['delays']} delays, "
        f"D={hp['dims']}) -> {hp['n_out']}, {where}dt {hp['dt']:g} ms, velocity "
        f"{hp['velocity']:g} um/ms, max delay {hp['max_delay']:g} ms, "
        + (f"refractory {hp['refractory']:g} ms" if hp["refractory"] else "no refractory period")
    )


def _exact_delays(params: Mapping[str, Any]) -> dict[str, np.ndarray | None]:
    """Exact delays in ms ``[pre, post]`` per projection (float64)."""
    pos = np.asarray(params["position_hidden"], dtype=np.float64)
    v = float(params["velocity"])

    def dist(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    kind = params["delays"]
    if kind == "spatial":
        rec = dist(pos, pos) / v
    elif kind == "free":
        rec = np.clip(np.asarray(params["delay_hidden_hidden"], dtype=np.float64), 0, None)
    else:
        rec = np.zeros((len(pos), len(pos)))
    inp = None
    if "position_input" in params:
        inp = dist(np.asarray(params["position_input"], dtype=np.float64), pos) / v
    return {"hidden_hidden": rec, "input_hidden": inp}


def _twin_steps(twin) -> dict[str, np.ndarray | None]:
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


def validate(
    model,
    data: ValidationData,
    *,
    device: str = "runtime",
    dt: float | None = None,
    precision: str = "float64",
    target: str = "numpy",
    jobs: int = 1,
    batch: int | None = None,
    samples_per_run: int | None = None,
    tolerance: float | None = None,
    criteria: Criteria | None = None,
    progress: bool = False,
    build_dir: str | os.PathLike | None = None,
    cuda_options: Mapping[str, Any] | None = None,
    model_path: str | os.PathLike | None = None,
) -> ValidationResult:
    """Run the same samples through the twin and Brian2 and compare them.

    Parameters
    ----------
    model : SpatialSNN
        The network (its training ``dt`` is ``model.dt``).
    data : ValidationData
        Spike counts at ``model.dt`` (see :func:`load_data`).
    device : {"runtime", "cpp_standalone", "cuda_standalone"}
        Brian2 device.
    dt : float, optional
        Simulation time step, ms; must divide ``model.dt`` (e.g. 0.1 for a 1 ms
        model). Both the twin and Brian2 run at it; inputs arrive at the first sub-step
        of their bin; delays are rounded to the finer grid.
    precision : {"float64", "float32"}
        Floating-point type of both sides.
    target : {"numpy", "cython"}
        Code generation of the runtime device.
    jobs : int
        Parallel Brian2 processes.
    batch : int, optional
        Network copies per Brian2 run (see :class:`spatialsnn.brian2.Simulator`; default on
        ``runtime``: 16, or the number of samples if fewer).
    samples_per_run : int, optional
        Standalone devices: samples per copy and run of the binary (default: up to 32,
        fewer when that leaves a job idle).
    tolerance : float, optional
        Tolerance of the spike agreement, ms (default: ``model.dt``).
    criteria : Criteria, optional
        Pass criteria.
    progress : bool
        Show a tqdm progress bar (stderr).
    build_dir : path-like, optional
        Keep the standalone project here.
    cuda_options : mapping, optional
        See :func:`spatialsnn.brian2.configure_brian2cuda`.
    model_path : path-like, optional
        Shown in the report.

    Returns
    -------
    ValidationResult

    Raises
    ------
    ValidationInputError
        Options that do not fit the model (``dt``, data shape).
    ImportError
        brian2 (or brian2cuda) is not installed; the message names the extra.
    spatialsnn.brian2.Brian2RunError
        Brian2 failed to build or run.
    """
    from tqdm.auto import tqdm

    from spatialsnn import __version__
    from spatialsnn.brian2 import Simulator, brian2_version, network_params, readout

    train_dt = float(model.dt)
    dt = train_dt if dt is None else float(dt)
    if not (dt > 0 and math.isfinite(dt)):
        raise ValidationInputError(f"--dt must be a positive number of ms, got {dt}")
    ratio = round(train_dt / dt)
    if ratio < 1 or not math.isclose(ratio * dt, train_dt, rel_tol=1e-9):
        raise ValidationInputError(
            f"--dt {dt:g} ms must divide the model's dt {train_dt:g} ms (e.g. 0.1 or 0.5 for 1 ms)"
        )
    if precision not in ("float64", "float32"):
        raise ValidationInputError(f"precision must be float64 or float32, got {precision!r}")
    tolerance = train_dt if tolerance is None else float(tolerance)
    criteria = criteria or Criteria()
    thresholds = criteria.resolved(precision)
    x = data.x
    if x.shape[2] != model.hparams["n_in"]:
        raise ValidationInputError(
            f"data has {x.shape[2]} channels but the model has {model.hparams['n_in']} inputs"
        )
    n, n_steps = x.shape[0], x.shape[1] * ratio
    max_count = max(1, int(x.max(initial=0)))
    params = network_params(model)
    readout_kind = params["readout"]

    twin = twin_at(model, dt, precision)
    coarse = twin_at(model, None, precision) if ratio > 1 else None
    if device == "runtime" and batch is None:
        batch = max(1, min(16, n))  # no more network copies than samples
    if device != "runtime" and samples_per_run is None:
        copies = batch or 1
        samples_per_run = max(1, min(32, math.ceil(n / (copies * jobs))))
    sim = Simulator(
        params,
        n_steps=n_steps,
        dt=dt,
        device=device,
        target=target,
        precision=precision,
        max_count=max_count,
        batch=batch,
        samples_per_run=samples_per_run,
        jobs=jobs,
        build_dir=build_dir,
        cuda_options=cuda_options,
    )
    block = max(32, 2 * sim.jobs * sim.batch * sim.samples_per_run)
    rows: dict[str, list] = {
        k: []
        for k in (
            "prediction_twin",
            "prediction_brian2",
            "identical",
            "n_spikes_twin",
            "n_spikes_brian2",
            "n_spike_mismatch",
            "first_divergence",
            "spike_agreement",
            "max_abs_dv_output",
            "logits_twin",
            "logits_brian2",
            "prediction_twin_train_dt",
            "spike_agreement_train_dt",
        )
    }
    n_hid = int(params["n_hidden"])
    counts = {k: np.zeros(n_hid) for k in ("twin", "brian2", "twin_train_dt")}
    twin_seconds = 0.0
    with sim:
        bar = tqdm(total=n, unit="sample", desc=f"validate ({device})", disable=not progress)
        with bar:
            bar.set_postfix_str("building Brian2 network")
            sim.build()
            bar.set_postfix_str("")
            for start in range(0, n, block):
                xb = upsample_counts(x[start : start + block], ratio)
                t0 = time.perf_counter()
                tw = run_twin(twin, xb)
                cw = run_twin(coarse, x[start : start + block]) if coarse is not None else None
                twin_seconds += time.perf_counter() - t0
                br = sim.run(xb, progress=bar.update)
                logits_b = readout(br.output_voltage, readout_kind)
                mismatch = tw.hidden_spikes != br.hidden_spikes
                for k in range(len(xb)):
                    diff = mismatch[k].any(1)
                    rows["identical"].append(not diff.any())
                    rows["n_spike_mismatch"].append(int(mismatch[k].sum()))
                    rows["first_divergence"].append(
                        float(np.argmax(diff) * dt) if diff.any() else np.nan
                    )
                    rows["spike_agreement"].append(
                        spike_agreement(tw.hidden_spikes[k], dt, br.hidden_spikes[k], dt, tolerance)
                    )
                    if cw is not None:
                        rows["spike_agreement_train_dt"].append(
                            spike_agreement(
                                cw.hidden_spikes[k], train_dt, br.hidden_spikes[k], dt, tolerance
                            )
                        )
                counts["twin"] += tw.hidden_spikes.sum((0, 1))
                counts["brian2"] += br.hidden_spikes.sum((0, 1))
                if cw is not None:
                    counts["twin_train_dt"] += cw.hidden_spikes.sum((0, 1))
                rows["n_spikes_twin"].extend(tw.hidden_spikes.sum((1, 2)).tolist())
                rows["n_spikes_brian2"].extend(br.hidden_spikes.sum((1, 2)).tolist())
                rows["max_abs_dv_output"].extend(
                    np.abs(tw.output_voltage - br.output_voltage).max((1, 2)).tolist()
                )
                rows["logits_twin"].append(tw.logits)
                rows["logits_brian2"].append(logits_b)
                rows["prediction_twin"].extend(tw.logits.argmax(1).tolist())
                rows["prediction_brian2"].extend(logits_b.argmax(1).tolist())
                if cw is not None:
                    rows["prediction_twin_train_dt"].extend(cw.logits.argmax(1).tolist())
        brian2_steps = sim.delay_steps()
        build_s, run_s, n_runs = sim.build_seconds, sim.run_seconds, sim.n_runs

    per: dict[str, np.ndarray] = {"index": np.asarray(data.index, dtype=np.int64)}
    per["label"] = (
        np.full(n, -1, dtype=np.int64) if data.y is None else np.asarray(data.y, dtype=np.int64)
    )
    for k, v in rows.items():
        if not v:
            continue
        per[k] = np.concatenate(v) if k.startswith("logits") else np.asarray(v)
    per["identical"] = per["identical"].astype(bool)

    # ------------------------------------------------------------------ delays
    exact = _exact_delays(params)
    twin_steps = _twin_steps(twin)
    kmax = twin.max_delay_steps
    weights = {
        "hidden_hidden": params["weight_hidden_hidden"],
        "input_hidden": params["weight_input_hidden"],
    }
    delays = {}
    for name in ("hidden_hidden", "input_hidden"):
        if exact[name] is None or (name == "hidden_hidden" and params["delays"] == "none"):
            delays[name] = None
            continue
        delays[name] = delay_statistics(
            exact[name],
            dt,
            kmax,
            np.asarray(weights[name]) != 0,
            twin_steps[name],
            brian2_steps.get(name),
        )

    # ----------------------------------------------------------------- summary
    labels = data.y
    ident = int(per["identical"].sum())
    agree = int((per["prediction_twin"] == per["prediction_brian2"]).sum())

    def accuracy(pred):
        return None if labels is None else float((pred == labels).mean())

    acc_twin, acc_b = accuracy(per["prediction_twin"]), accuracy(per["prediction_brian2"])
    accuracy_summary: dict[str, Any] = {
        "twin": acc_twin,
        "brian2": acc_b,
        "difference_pp": None if labels is None else 100 * abs(acc_twin - acc_b),
    }
    if coarse is not None:
        acc_c = accuracy(per["prediction_twin_train_dt"])
        accuracy_summary.update(
            train_dt_ms=train_dt,
            twin_train_dt=acc_c,
            change_pp=None if labels is None else 100 * (acc_b - acc_c),
        )
    agreement: dict[str, Any] = {
        "identical_samples": ident,
        "identical_fraction": ident / n,
        "n_spikes_twin": int(per["n_spikes_twin"].sum()),
        "n_spikes_brian2": int(per["n_spikes_brian2"].sum()),
        "n_spike_mismatch": int(per["n_spike_mismatch"].sum()),
        "tolerance_ms": tolerance,
        "spike_agreement_mean": float(per["spike_agreement"].mean()),
        "spike_agreement_min": float(per["spike_agreement"].min()),
        "prediction_agreement_samples": agree,
        "prediction_agreement": agree / n,
        "max_abs_dv_output": float(per["max_abs_dv_output"].max()),
    }
    if coarse is not None:
        agreement["spike_agreement_train_dt_mean"] = float(per["spike_agreement_train_dt"].mean())
    duration_s = x.shape[1] * train_dt * 1e-3
    rates = {
        side: hidden_rates(c, n, duration_s)
        for side, c in counts.items()
        if coarse is not None or side != "twin_train_dt"
    }

    checks, failures = [], []
    if thresholds["min_identical"] is not None:
        msg = (
            f"identical spike trains in {ident}/{n} samples "
            f"(required >= {100 * thresholds['min_identical']:g} %)"
        )
        (checks if ident / n >= thresholds["min_identical"] - 1e-12 else failures).append(msg)
    limit = thresholds["max_accuracy_diff"]
    if labels is not None:
        diff = accuracy_summary["difference_pp"]
        msg = f"accuracy differs by {diff:.2f} pp (allowed <= {limit:g} pp)"
    else:
        diff = 100 * (1 - agree / n)
        msg = f"predictions differ in {diff:.2f} % of samples (no labels; allowed <= {limit:g} %)"
    (checks if diff <= limit + 1e-9 else failures).append(msg)
    if coarse is not None:
        ok, msg = _transfer_check(per, labels, accuracy_summary, thresholds["max_transfer_drop"])
        (checks if ok else failures).append(msg)

    total_b = build_s + run_s
    summary = {
        "passed": not failures,
        "checks": checks,
        "failures": failures,
        "criteria": thresholds,
        "spatialsnn_version": __version__,
        "model": {
            "path": str(model_path) if model_path else "<model>",
            "description": _describe_model(model),
            "config": model.config(),
        },
        "data": {
            "description": data.description,
            "source": data.source,
            "n_samples": n,
            "n_steps": int(x.shape[1]),
            "n_channels": int(x.shape[2]),
            "max_count": max_count,
            "has_labels": labels is not None,
        },
        "brian2": {
            "version": brian2_version(),
            "device": device,
            "target": target,
            "precision": precision,
            "dt_ms": dt,
            "train_dt_ms": train_dt,
            "n_steps": n_steps,
            "batch": sim.batch,
            "samples_per_run": sim.samples_per_run,
            "jobs": sim.jobs,
            "n_runs": n_runs,
        },
        "delays": delays,
        "agreement": agreement,
        "accuracy": accuracy_summary,
        "rates": rates,
        "timing": {
            "twin_s": twin_seconds,
            "brian2_build_s": build_s,
            "brian2_run_s": run_s,
            "brian2_samples_per_s": n / run_s if run_s > 0 else float("inf"),
            "brian2_total_s": total_b,
        },
    }
    return ValidationResult(not failures, summary, per)


def validate_file(
    path: str | os.PathLike,
    *,
    data: str | os.PathLike | None = None,
    split: str = "test",
    samples: int | None = None,
    seed: int = 0,
    **kwargs: Any,
) -> ValidationResult:
    """Validate a model file (what ``spatialsnn validate`` runs).

    Parameters
    ----------
    path : path-like
        The model file.
    data, split, samples, seed
        See :func:`load_data`.
    **kwargs
        Passed to :func:`validate`.

    Returns
    -------
    ValidationResult

    Raises
    ------
    spatialsnn.ModelFileError
        Missing or invalid model file.
    ValidationInputError
        Bad data or options.
    """
    from spatialsnn.io import from_dataset, open_model_dataset

    ds = open_model_dataset(path)
    model = from_dataset(ds, Path(path))
    try:
        training_config = json.loads(ds.attrs.get("training_config") or "{}")
    except json.JSONDecodeError:
        training_config = {}
    vdata = load_data(
        data,
        training_config=training_config,
        n_in=model.hparams["n_in"],
        dt=model.dt,
        split=split,
        samples=samples,
        seed=seed,
        where=str(path),
    )
    return validate(model, vdata, model_path=path, **kwargs)
