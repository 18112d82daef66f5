"""Files of the Spiking Heidelberg Digits layout: reading and binning, and writing.

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

Binning: a spike at ``t`` s falls into step ``floor(1000 t / dt)``; several spikes of
one channel in one step are kept as a count (saturating at 255). By default a sample
is ``1000 ms`` long (``n_steps = ceil(1000 / dt)``), which is what the paper's code
does: it deletes events at ``t >= 1 s`` and runs ``ceil(latest spike time)`` = about
1000 steps of 1 ms. SHD samples last up to about 1.37 s; pass ``n_steps=1370``
(at ``dt = 1``) to keep every spike.

The file is binned in chunks of samples, vectorised over their spikes, straight into
events (:class:`~spatialsnn.data.SpikeCounts`): memory grows with the spikes, not with
the bins (SHD train: 0.4 GiB at any ``dt``, against 5.3 GiB for a dense uint8 tensor at
1 ms and 53 GiB at 0.1 ms).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from spatialsnn.data.cache import DatasetError
from spatialsnn.data.counts import SpikeCounts

__all__ = ["DEFAULT_DURATION_MS", "bin_spikes", "read_spike_file", "write_shd_like"]

#: Default sample length, ms (the paper drops events at t >= 1 s).
DEFAULT_DURATION_MS = 1000.0
#: Channels of SHD and SSC (the default when a file does not say).
DEFAULT_CHANNELS = 700

_CHUNK_SAMPLES = 1024


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
    _check_spikes(times, units, lengths, n_channels)
    lengths = np.asarray(lengths, dtype=np.int64)
    n = len(lengths)
    units = np.asarray(units).astype(np.int64, copy=False)
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


def _check_spikes(times: np.ndarray, units: np.ndarray, lengths: np.ndarray, n_channels: int):
    """Refuse spike arrays that do not add up or name channels outside ``[0, n_channels)``."""
    total = int(np.asarray(lengths, dtype=np.int64).sum())
    if total != len(times) or len(times) != len(units):
        raise DatasetError(
            f"{len(times)} spike times, {len(units)} channels and {total} spikes "
            "by sample lengths do not agree"
        )
    if len(units) and (np.min(units) < 0 or np.max(units) >= n_channels):
        raise DatasetError(
            f"channel ids range over [{np.min(units)}, {np.max(units)}], outside [0, {n_channels})"
        )


def read_spike_file(
    path: str | os.PathLike[str],
    *,
    dt: float = 1.0,
    n_steps: int | None = None,
    n_channels: int | None = None,
) -> tuple[SpikeCounts, torch.Tensor, dict[str, Any]]:
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
    x : SpikeCounts, shape (n_samples, n_steps, n_channels)
        Spike counts per bin, kept as events; ``x[i]`` is sample ``i`` as a dense uint8
        tensor.
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
        labels = _check_layout(f, path)
        n = len(labels)
        if n_channels is None:
            n_channels = int(f.attrs.get("n_channels", DEFAULT_CHANNELS))
        file_classes = f.attrs.get("n_classes")
        parts = []
        n_spikes = n_dropped = 0
        max_time = -math.inf
        for start in range(0, n, _CHUNK_SAMPLES):
            stop = min(start + _CHUNK_SAMPLES, n)
            t_ms, units, lengths = _read_chunk(f, path, start, stop)
            try:
                _check_spikes(t_ms, units, lengths, n_channels)
            except DatasetError as exc:
                raise DatasetError(f"{path}: {exc}") from None
            part, dropped = SpikeCounts.from_spikes(
                t_ms, units, lengths, dt=dt, n_steps=n_steps, n_channels=n_channels
            )
            parts.append(part)
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
    x = (
        SpikeCounts.concat(parts)
        if parts
        else SpikeCounts.from_dense(torch.zeros(0, n_steps, n_channels, dtype=torch.uint8))
    )
    return x, torch.from_numpy(labels.astype(np.int64)), meta


def _check_layout(f: h5py.File, path: Path) -> np.ndarray:
    """The labels of an open file, after checking that it has the SHD layout."""
    missing = [k for k in ("spikes/times", "spikes/units", "labels") if k not in f]
    if missing:
        raise DatasetError(f"{path} is not of the SHD layout: it lacks {', '.join(missing)}")
    labels = np.asarray(f["labels"][()])
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{path}: labels must be a 1-D integer array")
    n = len(labels)
    times, units = f["spikes/times"], f["spikes/units"]
    if times.shape != (n,) or units.shape != (n,):
        raise DatasetError(
            f"{path}: spikes/times {times.shape} and spikes/units {units.shape} "
            f"must both have one entry per label ({n})"
        )
    return labels


def _read_chunk(f: h5py.File, path: Path, start: int, stop: int):
    """Spike times (ms), channels and spikes per sample of samples ``start .. stop-1``."""
    t_chunk, u_chunk = f["spikes/times"][start:stop], f["spikes/units"][start:stop]
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
    return t_ms, units, lengths


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
