"""The Heidelberg spiking data sets (SHD, SSC): finding, downloading and loading them.

SHD: 20 classes (spoken digits 0-9 in English and German), 8156 training and 2264 test
samples, no validation split. SSC: 35 classes, train, valid and test files. Both have
700 input channels. The files are read and binned by :mod:`spatialsnn.data.spikefile`
(whose functions this module re-exports), downloaded and cached by
:mod:`spatialsnn.data.cache`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from spatialsnn.data.cache import (
    DatasetError,
    DatasetUnavailableError,
    default_cache_dir,
    fetch_gzipped,
    gunzip_atomic,
    manual_instructions,
)
from spatialsnn.data.dataset import SpikeDataset
from spatialsnn.data.spikefile import bin_spikes, read_spike_file, write_shd_like

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
