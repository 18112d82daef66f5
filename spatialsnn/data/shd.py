"""The Heidelberg spiking data sets (SHD, SSC) read from their official HDF5 files.

Layout of an official file (Cramer et al. 2020, https://zenkelab.org/datasets/)::

    spikes/times   (n,) variable-length float16: spike times of a sample, s, ascending
    spikes/units   (n,) variable-length uint16: channel of each spike, 0..699
    labels         (n,) integer class of each sample
    extra/speaker  (n,) integer speaker id
    extra/keys     (n_classes,) class names
    extra/...      further metadata (speaker meta information)

Spike times are float16 in the official files (tonic issue #321 reports the float16
overflow this causes when they are multiplied by 1e6), which resolves about 0.5 ms
between 0.5 and 1 s and about 1 ms above 1 s (0.05 s, for instance, is stored as
0.049995 s and falls into step 49 at 1 ms). The reader accepts any numeric dtypes.

SHD: 20 classes (spoken digits 0-9 in English and German), 8156 training and 2264 test
samples, no validation split. SSC: 35 classes, train, valid and test files. Both have
700 input channels.

Binning: a spike at ``t`` s falls into step ``floor(1000 t / dt)``; several spikes of
one channel in one step are kept as a count (saturating at 255). By default a sample
is ``1000 ms`` long (``n_steps = ceil(1000 / dt)``), which is what the paper's code
does: it deletes events at ``t >= 1 s`` and runs ``ceil(latest spike time)`` = about
1000 steps of 1 ms. SHD samples last up to about 1.37 s; pass ``n_steps=1370``
(at ``dt = 1``) to keep every spike.

The whole file is binned at once, vectorised over all its spikes, and kept as one
compact ``uint8`` tensor (8156 x 1000 x 700 bytes = 5.7 GB for SHD train at 1 ms).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from spatialsnn.data.cache import (
    DatasetError,
    DatasetUnavailableError,
    default_cache_dir,
    fetch_gzipped,
    gunzip_atomic,
    manual_instructions,
)
from spatialsnn.data.dataset import SpikeDataset

__all__ = [
    "BASE_URL",
    "SPECS",
    "DatasetError",
    "DatasetUnavailableError",
    "bin_spikes",
    "from_info",
    "load_shd",
    "load_ssc",
    "read_spike_file",
    "write_shd_like",
]

#: Where the gzipped files and ``md5sums.txt`` are served (override: $SPATIALSNN_DATA_URL).
BASE_URL = "https://zenkelab.org/datasets/"
URL_ENV = "SPATIALSNN_DATA_URL"

#: Per data set: number of classes, channels and the published splits.
SPECS: dict[str, dict[str, Any]] = {
    "shd": {"n_classes": 20, "n_channels": 700, "splits": ("train", "test")},
    "ssc": {"n_classes": 35, "n_channels": 700, "splits": ("train", "valid", "test")},
}

#: Default sample length, ms (the paper drops events at t >= 1 s).
DEFAULT_DURATION_MS = 1000.0

_CHUNK_SAMPLES = 1024


def _file_name(source: str, split: str) -> str:
    return f"{source}_{split}.h5"


def _check_split(source: str, split: str) -> None:
    splits = SPECS[source]["splits"]
    if split not in splits:
        raise ValueError(f"{source.upper()} has the splits {splits}, got {split!r}")


def _base_url(base_url: str | None) -> str:
    return base_url or os.environ.get(URL_ENV) or BASE_URL


def _resolve(
    source: str,
    split: str,
    path: str | os.PathLike[str] | None,
    download: bool,
    cache_dir: str | os.PathLike[str] | None,
    base_url: str | None,
    progress: bool | None,
) -> Path:
    """The HDF5 file to read for a split (downloading or decompressing it if needed)."""
    name = _file_name(source, split)
    url = _base_url(base_url)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if path is not None:
        given = Path(path).expanduser()
        if given.is_dir():
            for candidate in (given / name, given / (name + ".gz")):
                if candidate.is_file():
                    given = candidate
                    break
            else:
                raise DatasetUnavailableError(
                    f"{given} holds neither {name} nor {name}.gz. "
                    + manual_instructions(name, url, given)
                )
        elif not given.is_file():
            raise DatasetUnavailableError(
                f"no such file or directory: {given}. " + manual_instructions(name, url, cache)
            )
        for other in SPECS[source]["splits"]:
            if other != split and given.name in (
                _file_name(source, other),
                _file_name(source, other) + ".gz",
            ):
                raise DatasetError(
                    f"{given} is the {other!r} file but the {split!r} split was asked for; "
                    f"pass the directory holding {name} or the {split} file itself"
                )
        if given.suffix == ".gz":
            # one cache folder per source file, so equally named files never collide
            key = hashlib.sha1(str(given.resolve()).encode(), usedforsecurity=False)
            target = cache / "unzipped" / key.hexdigest()[:16] / given.name[:-3]
            if not target.is_file() or target.stat().st_mtime < given.stat().st_mtime:
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise DatasetError(f"cannot create {target.parent}: {exc}") from None
                gunzip_atomic(given, target)
            return target
        return given
    target = cache / name
    if target.is_file():
        return target
    if not download:
        raise DatasetUnavailableError(
            f"{name} is not in {cache} and download=False. " + manual_instructions(name, url, cache)
        )
    return fetch_gzipped(name, cache, base_url=url, progress=progress)


def bin_spikes(
    times: np.ndarray,
    units: np.ndarray,
    lengths: np.ndarray,
    *,
    dt: float,
    n_steps: int,
    n_channels: int,
    out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, int]:
    """Bin the spikes of many samples into one count tensor, vectorised over all spikes.

    Parameters
    ----------
    times : ndarray of float, shape (n_spikes,)
        Spike times, ms, of all samples concatenated.
    units : ndarray of int, shape (n_spikes,)
        Channel of each spike, in ``[0, n_channels)``.
    lengths : ndarray of int, shape (n_samples,)
        Number of spikes of each sample (``times`` holds sample 0's first).
    dt : float
        Bin width, ms.
    n_steps : int
        Number of bins; spikes at ``t < 0`` or ``t >= n_steps * dt`` are dropped.
    n_channels : int
        Number of channels.
    out : Tensor of uint8, shape (n_samples, n_steps, n_channels), optional
        Contiguous, zero-filled tensor to bin into (default: a new one).

    Returns
    -------
    counts : Tensor of uint8, shape (n_samples, n_steps, n_channels)
        Spikes per bin and channel, saturating at 255 (``out`` if given).
    n_dropped : int
        Spikes outside the time window.

    Raises
    ------
    DatasetError
        If a channel id lies outside ``[0, n_channels)`` or the lengths do not add up.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    n = len(lengths)
    if int(lengths.sum()) != len(times) or len(times) != len(units):
        raise DatasetError(
            f"{len(times)} spike times, {len(units)} channels and {int(lengths.sum())} spikes "
            "by sample lengths do not agree"
        )
    units = np.asarray(units).astype(np.int64, copy=False)
    if len(units) and (units.min() < 0 or units.max() >= n_channels):
        raise DatasetError(
            f"channel ids range over [{units.min()}, {units.max()}], outside [0, {n_channels})"
        )
    step = np.floor(np.asarray(times, dtype=np.float64) / dt)
    keep = (step >= 0) & (step < n_steps)  # NaN times fail both tests and are dropped
    n_dropped = int(len(step) - np.count_nonzero(keep))
    sample = np.repeat(np.arange(n, dtype=np.int64), lengths)[keep]
    units = units[keep]
    flat = (sample * n_steps + step[keep].astype(np.int64)) * n_channels + units
    shape = (n, n_steps, n_channels)
    if out is None:
        out = torch.zeros(shape, dtype=torch.uint8)
    elif out.shape != shape or out.dtype != torch.uint8 or not out.is_contiguous():
        raise ValueError(f"out must be a contiguous uint8 tensor of shape {shape}")
    result, out = out, out.view(-1)
    if len(flat):
        # uint8 accumulation wraps at 256; that is only possible where one channel of one
        # sample has more than 255 spikes, and those cells are recounted exactly below
        index = torch.from_numpy(flat)
        out.scatter_add_(0, index, torch.ones(1, dtype=torch.uint8).expand(len(flat)))
        per_channel = np.bincount(sample * n_channels + units, minlength=n * n_channels)
        busy = per_channel > 255
        if busy.any():
            cells, counts = np.unique(flat[busy[sample * n_channels + units]], return_counts=True)
            out[torch.from_numpy(cells)] = torch.from_numpy(
                np.minimum(counts, 255).astype(np.uint8)
            )
    return result, n_dropped


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def read_spike_file(
    path: str | os.PathLike[str],
    *,
    dt: float = 1.0,
    n_steps: int | None = None,
    n_channels: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Read and bin one HDF5 file of the SHD layout.

    Parameters
    ----------
    path : path-like
        The ``.h5`` file.
    dt : float
        Bin width, ms.
    n_steps : int or None
        Number of bins per sample; None: ``ceil(1000 / dt)`` (1 s, as in the paper).
    n_channels : int or None
        Number of channels; None: the file's ``n_channels`` attribute if it has one
        (files of :func:`write_shd_like`), else 700.

    Returns
    -------
    x : Tensor of uint8, shape (n_samples, n_steps, n_channels)
        Spike counts per bin.
    y : Tensor of int64, shape (n_samples,)
        Labels.
    meta : dict
        ``n_channels``, ``n_classes`` (the file's attribute, or None), ``n_spikes``,
        ``n_dropped`` (spikes outside the window), ``max_time`` (latest spike, ms).

    Raises
    ------
    DatasetError
        If the file is not of the SHD layout (the message names the file and what is wrong).
    """
    path = Path(path)
    if dt <= 0:
        raise ValueError(f"dt must be > 0 ms, got {dt}")
    if n_steps is None:
        n_steps = math.ceil(DEFAULT_DURATION_MS / dt - 1e-9)
    if int(n_steps) < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    n_steps = int(n_steps)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DatasetError(f"{path} is not a readable HDF5 file: {exc}") from None
    with f:
        missing = [k for k in ("spikes/times", "spikes/units", "labels") if k not in f]
        if missing:
            raise DatasetError(f"{path} is not of the SHD layout: it lacks {', '.join(missing)}")
        times_ds, units_ds = f["spikes/times"], f["spikes/units"]
        labels = np.asarray(f["labels"][()])
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DatasetError(f"{path}: labels must be a 1-D integer array")
        n = len(labels)
        if times_ds.shape != (n,) or units_ds.shape != (n,):
            raise DatasetError(
                f"{path}: spikes/times {times_ds.shape} and spikes/units {units_ds.shape} "
                f"must both have one entry per label ({n})"
            )
        if n_channels is None:
            n_channels = int(f.attrs.get("n_channels", SPECS["shd"]["n_channels"]))
        file_classes = f.attrs.get("n_classes")
        need = n * n_steps * n_channels
        free = _available_memory()
        if free is not None and need > free:
            raise DatasetError(
                f"binning {path} needs {need / 2**30:.1f} GiB ({n} samples x {n_steps} steps x "
                f"{n_channels} channels, 1 byte each) but only {free / 2**30:.1f} GiB are "
                "available; use a larger dt or fewer steps"
            )
        x = torch.zeros(n, n_steps, n_channels, dtype=torch.uint8)
        n_spikes = n_dropped = 0
        max_time = -math.inf
        for start in range(0, n, _CHUNK_SAMPLES):
            stop = min(start + _CHUNK_SAMPLES, n)
            t_chunk, u_chunk = times_ds[start:stop], units_ds[start:stop]
            lengths = np.fromiter((len(a) for a in t_chunk), dtype=np.int64, count=stop - start)
            u_len = np.fromiter((len(a) for a in u_chunk), dtype=np.int64, count=stop - start)
            if not np.array_equal(lengths, u_len):
                bad = start + int(np.flatnonzero(lengths != u_len)[0])
                raise DatasetError(
                    f"{path}: sample {bad} has {lengths[bad - start]} spike times but "
                    f"{u_len[bad - start]} channel ids"
                )
            t_ms = np.concatenate([*t_chunk, np.empty(0)]).astype(np.float64) * 1e3
            units = np.concatenate([*u_chunk, np.empty(0, np.int64)])
            if not np.issubdtype(units.dtype, np.integer):
                raise DatasetError(f"{path}: spikes/units must hold integers, got {units.dtype}")
            try:
                _, dropped = bin_spikes(
                    t_ms,
                    units,
                    lengths,
                    dt=dt,
                    n_steps=n_steps,
                    n_channels=n_channels,
                    out=x[start:stop],
                )
            except DatasetError as exc:
                raise DatasetError(f"{path}: {exc}") from None
            n_spikes += len(t_ms)
            n_dropped += dropped
            if len(t_ms):
                max_time = max(max_time, float(np.nanmax(t_ms)))
    meta = {
        "n_channels": n_channels,
        "n_classes": None if file_classes is None else int(file_classes),
        "n_spikes": n_spikes,
        "n_dropped": n_dropped,
        "max_time": max_time if n_spikes else 0.0,
    }
    return x, torch.from_numpy(labels.astype(np.int64)), meta


def _load(
    source: str,
    split: str,
    *,
    dt: float,
    n_steps: int | None,
    n_channels: int | None,
    path: str | os.PathLike[str] | None,
    download: bool,
    cache_dir: str | os.PathLike[str] | None,
    base_url: str | None,
    progress: bool | None,
) -> SpikeDataset:
    _check_split(source, split)
    file = _resolve(source, split, path, download, cache_dir, base_url, progress)
    x, y, meta = read_spike_file(file, dt=dt, n_steps=n_steps, n_channels=n_channels)
    n_classes = meta["n_classes"] or SPECS[source]["n_classes"]
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise DatasetError(
            f"{file}: labels range over [{int(y.min())}, {int(y.max())}], "
            f"outside [0, {n_classes}) of {source.upper()}"
        )
    info = {
        "source": source,
        "split": split,
        "dt": float(dt),
        "n_steps": int(x.shape[1]),
        "n_channels": int(x.shape[2]),
        "path": None if path is None else str(Path(path).expanduser().resolve()),
    }
    return SpikeDataset(x, y, float(dt), int(n_classes), f"{source}_{split}", info)


def load_shd(
    split: str = "train",
    *,
    dt: float = 1.0,
    n_steps: int | None = None,
    n_channels: int | None = None,
    path: str | os.PathLike[str] | None = None,
    download: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    progress: bool | None = None,
) -> SpikeDataset:
    """The Spiking Heidelberg Digits, binned to ``dt``.

    Parameters
    ----------
    split : {"train", "test"}
        The published split (8156 / 2264 samples); SHD has no validation split.
    dt : float
        Bin width, ms.
    n_steps : int or None
        Bins per sample; None: ``ceil(1000 / dt)``, the paper's 1 s window (spikes
        later than the window are dropped; ``1370`` steps of 1 ms keep all).
    n_channels : int or None
        Channels; None: 700 (or the ``n_channels`` attribute of a generated file).
    path : path-like or None
        A directory holding ``shd_<split>.h5`` (or ``.h5.gz``), or the file itself.
        None: the cache directory, downloading the file there if it is missing.
    download : bool
        Download a missing file (ignored when ``path`` is given).
    cache_dir : path-like or None
        Directory for downloaded files; None: :func:`~spatialsnn.data.cache.default_cache_dir`.
    base_url : str or None
        Server directory of the gzipped files and ``md5sums.txt``; None:
        ``$SPATIALSNN_DATA_URL`` or :data:`BASE_URL`.
    progress : bool or None
        Progress bar while downloading (None: when stderr is a terminal).

    Returns
    -------
    SpikeDataset
        ``x`` uint8 ``[n, n_steps, n_channels]``, ``y`` int64 ``[n]``, 20 classes;
        ``info = {"source": "shd", "split", "dt", "n_steps", "n_channels", "path"}``
        (``path`` resolved to an absolute path, or None) re-reads it through
        :func:`spatialsnn.data.dataset_from_info`.

    Raises
    ------
    DatasetUnavailableError
        If the file is neither on disk nor downloadable; the message says how to get it.
    DatasetError
        If the file is malformed.
    """
    return _load(
        "shd",
        split,
        dt=dt,
        n_steps=n_steps,
        n_channels=n_channels,
        path=path,
        download=download,
        cache_dir=cache_dir,
        base_url=base_url,
        progress=progress,
    )


def load_ssc(
    split: str = "train",
    *,
    dt: float = 1.0,
    n_steps: int | None = None,
    n_channels: int | None = None,
    path: str | os.PathLike[str] | None = None,
    download: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    progress: bool | None = None,
) -> SpikeDataset:
    """The Spiking Speech Commands (35 classes), binned to ``dt``.

    Same parameters as :func:`load_shd`; ``split`` is one of ``"train"``, ``"valid"``,
    ``"test"`` and the files are ``ssc_<split>.h5``. SSC train has about 75,000
    samples: at ``dt = 1`` ms and 1000 steps it needs about 53 GB as a dense tensor,
    so use a larger ``dt`` on smaller machines.
    """
    return _load(
        "ssc",
        split,
        dt=dt,
        n_steps=n_steps,
        n_channels=n_channels,
        path=path,
        download=download,
        cache_dir=cache_dir,
        base_url=base_url,
        progress=progress,
    )


def from_info(info: dict[str, Any], split: str | None = None) -> SpikeDataset:
    """Re-read an SHD/SSC split from the ``info`` of a dataset this module loaded.

    Parameters
    ----------
    info : dict
        ``{"source": "shd" | "ssc", "dt", "n_steps", "n_channels", "path", ...}``.
    split : str or None
        The split to read; None: ``info["split"]``.

    Returns
    -------
    SpikeDataset
    """
    source = info.get("source")
    if source not in SPECS:
        raise ValueError(f"info is not of SHD/SSC data (source {source!r})")
    split = split if split is not None else info.get("split", "train")
    loader = load_shd if source == "shd" else load_ssc
    return loader(
        split,
        dt=float(info["dt"]),
        n_steps=info.get("n_steps"),
        n_channels=info.get("n_channels"),
        path=info.get("path"),
    )


def write_shd_like(
    path: str | os.PathLike[str],
    *,
    n_samples: int,
    n_classes: int = 20,
    n_channels: int = 700,
    duration: float = 1.0,
    seed: int = 0,
    rate: float = 10.0,
    noise: float = 0.2,
    n_speakers: int = 10,
    class_names: Sequence[str] | None = None,
    template_seed: int | None = None,
) -> Path:
    """Write a small file in the exact SHD layout, with learnable synthetic classes.

    Each class is a smooth random trajectory of a band of active channels over the
    sample (a caricature of a formant); a sample draws a length, Poisson spikes along
    its class's band and uniform background spikes. Datasets and dtypes as in the
    official files: ``spikes/times`` variable-length float16 (s, ascending within a
    sample), ``spikes/units`` variable-length uint16, ``labels`` uint16,
    ``extra/speaker`` uint16, ``extra/keys`` UTF-8 strings. The root attributes
    ``n_channels``, ``n_classes`` and ``generator`` (absent in official files) tell
    the reader the shape.

    Parameters
    ----------
    path : path-like
        File to write (overwritten).
    n_samples : int
        Number of samples (labels are balanced: sample ``i`` has class ``i % n_classes``
        before shuffling).
    n_classes, n_channels : int
        Number of classes and channels.
    duration : float
        Longest sample length, s; each sample lasts ``duration * U(0.6, 1)``.
    seed : int
        Seed of the samples, and of the class templates unless ``template_seed`` is given.
    rate : float
        Mean spike rate per channel, Hz (SHD: about 10 Hz).
    noise : float
        Fraction of spikes on uniformly random channels.
    n_speakers : int
        Number of distinct ``extra/speaker`` ids.
    class_names : sequence of str, optional
        ``extra/keys``; default ``class0``, ``class1``, ...
    template_seed : int, optional
        Seed of the class templates alone. A train and a test file of the same task
        need the same ``template_seed`` and different ``seed`` s; without it, files
        written with different seeds have unrelated classes.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    if n_samples < 1 or n_classes < 1 or n_channels < 1:
        raise ValueError("n_samples, n_classes and n_channels must be >= 1")
    if n_channels > 65535 or n_classes > 65535:
        raise ValueError("n_channels and n_classes must fit in uint16")
    if duration <= 0 or rate < 0 or not 0 <= noise <= 1:
        raise ValueError("need duration > 0 s, rate >= 0 Hz and noise in [0, 1]")
    names = [f"class{k}" for k in range(n_classes)] if class_names is None else list(class_names)
    if len(names) != n_classes:
        raise ValueError(f"class_names has {len(names)} entries for {n_classes} classes")
    rng = np.random.default_rng(seed)
    trng = rng if template_seed is None else np.random.default_rng(template_seed)
    # class templates: band centre c(u) = C (a + b u + A sin(2 pi (f u + phi))), u in [0, 1]
    a = trng.uniform(0.2, 0.8, n_classes)
    b = trng.uniform(-0.3, 0.3, n_classes)
    amp = trng.uniform(0.03, 0.15, n_classes)
    freq = trng.uniform(0.5, 2.0, n_classes)
    phi = trng.uniform(0.0, 1.0, n_classes)
    width = max(1.0, 0.04 * n_channels)

    labels = rng.permutation(np.arange(n_samples) % n_classes)
    length = duration * rng.uniform(0.6, 1.0, n_samples)  # s
    counts = rng.poisson(rate * n_channels * length)
    sample = np.repeat(np.arange(n_samples), counts)
    u = rng.random(len(sample))  # relative time within the sample
    k = labels[sample]
    centre = n_channels * (a[k] + b[k] * u + amp[k] * np.sin(2 * np.pi * (freq[k] * u + phi[k])))
    channel = np.rint(centre + width * rng.standard_normal(len(u)))
    background = rng.random(len(u)) < noise
    channel[background] = rng.integers(0, n_channels, int(background.sum()))
    inside = (channel >= 0) & (channel < n_channels)
    sample, u, channel = sample[inside], u[inside], channel[inside]
    order = np.argsort(sample + u, kind="stable")  # by sample, then time (u < 1)
    sample, u, channel = sample[order], u[order], channel[order].astype(np.uint16)
    times = (u * length[sample]).astype(np.float16)
    splits = np.cumsum(np.bincount(sample, minlength=n_samples))[:-1]

    path = Path(path)
    with h5py.File(path, "w") as f:
        t_ds = f.create_dataset("spikes/times", (n_samples,), dtype=h5py.vlen_dtype(np.float16))
        u_ds = f.create_dataset("spikes/units", (n_samples,), dtype=h5py.vlen_dtype(np.uint16))
        t_obj = np.empty(n_samples, dtype=object)
        u_obj = np.empty(n_samples, dtype=object)
        t_obj[:] = np.split(times, splits)
        u_obj[:] = np.split(channel, splits)
        t_ds[...] = t_obj
        u_ds[...] = u_obj
        f.create_dataset("labels", data=labels.astype(np.uint16))
        f.create_dataset(
            "extra/speaker", data=rng.integers(0, n_speakers, n_samples).astype(np.uint16)
        )
        f.create_dataset("extra/keys", data=names, dtype=h5py.string_dtype("utf-8"))
        f.attrs["n_channels"] = n_channels
        f.attrs["n_classes"] = n_classes
        f.attrs["generator"] = (
            f"spatialsnn.data.shd.write_shd_like(seed={seed}, template_seed={template_seed})"
        )
    return path
