"""Dataset files on disk: the cache directory, verified downloads, clear errors.

Files are downloaded gzipped from a base URL that also serves ``md5sums.txt``
(``<md5>  <file name>`` per line, as the Zenke lab publishes the Heidelberg spiking
data sets). A download goes to a temporary file in the cache directory, is checked
against that list, decompressed to a second temporary file and only then renamed
into place, so an interrupted or corrupt download never leaves a file that looks
complete. Every failure ends in one :class:`DatasetUnavailableError` whose message
says how to put the file in place by hand.

The cache directory is, in this order: the ``cache_dir`` argument, ``$SPATIALSNN_DATA``,
``$XDG_CACHE_HOME/spatialsnn/datasets``, ``~/.cache/spatialsnn/datasets``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import IO, Any

__all__ = [
    "DatasetError",
    "DatasetUnavailableError",
    "default_cache_dir",
    "fetch_gzipped",
    "gunzip_atomic",
    "manual_instructions",
]

#: Environment variable naming the dataset directory (overrides the default cache).
DATA_ENV = "SPATIALSNN_DATA"

#: Seconds to wait for the server before giving up on a connection.
TIMEOUT = 60.0

_CHUNK = 1 << 20


class DatasetError(OSError):
    """A dataset file that cannot be used; the message names the file and the problem.

    An ``OSError``, so that code handling file errors (the command line) reports it as
    one message.
    """


class DatasetUnavailableError(DatasetError):
    """A dataset file that is neither on disk nor obtainable by download.

    The message says where to download the file by hand and where to put it.
    """


def default_cache_dir() -> Path:
    """The directory dataset files are downloaded to and looked up in.

    Returns
    -------
    pathlib.Path
        ``$SPATIALSNN_DATA`` if set, else ``$XDG_CACHE_HOME/spatialsnn/datasets``,
        else ``~/.cache/spatialsnn/datasets`` (not created here).
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "spatialsnn" / "datasets"


def _urlopen(url: str, timeout: float) -> IO[bytes]:
    """Open a URL for reading (the single network entry point; tests replace it)."""
    return urllib.request.urlopen(url, timeout=timeout)


def _join(base_url: str, name: str) -> str:
    return base_url.rstrip("/") + "/" + name


def _reason(exc: BaseException) -> str:
    """A one-line description of a download failure, without a traceback."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP error {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot reach the server ({exc.reason})"
    if isinstance(exc, TimeoutError):
        return f"no answer from the server within {TIMEOUT:g} s"
    return f"{type(exc).__name__}: {exc}"


def manual_instructions(name: str, base_url: str, cache_dir: Path) -> str:
    """How to install a dataset file by hand (appended to every unavailability error).

    Parameters
    ----------
    name : str
        The decompressed file name, e.g. ``"shd_train.h5"``.
    base_url : str
        Where the gzipped file and ``md5sums.txt`` are served.
    cache_dir : pathlib.Path
        The directory the file is looked up in.
    """
    return (
        f"To install {name} by hand: download {_join(base_url, name + '.gz')} "
        f"(checksums in {_join(base_url, 'md5sums.txt')}) on a machine with internet access, "
        f"decompress it (gunzip {name}.gz) and put {name} into {cache_dir} "
        f"(or set ${DATA_ENV} to the directory holding it); or pass path=<directory or file> "
        f"(spatialsnn train: --data-path)."
    )


def _md5_table(base_url: str, timeout: float) -> dict[str, str]:
    """``{file name: md5}`` parsed from ``<base_url>/md5sums.txt``."""
    with _urlopen(_join(base_url, "md5sums.txt"), timeout) as response:
        text = response.read().decode("utf-8", errors="replace")
    table = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and len(parts[0]) == 32:
            table[parts[1].lstrip("*")] = parts[0].lower()
    return table


def _temp(directory: Path, suffix: str) -> tuple[IO[bytes], Path]:
    """A new hidden temporary file in ``directory`` (open for writing; the caller closes it)."""
    try:
        handle = tempfile.NamedTemporaryFile(dir=directory, prefix=".", suffix=suffix, delete=False)
    except OSError as exc:
        raise DatasetError(f"cannot create a file in {directory}: {_reason(exc)}") from None
    return handle, Path(handle.name)


def gunzip_atomic(source: Path, dest: Path) -> Path:
    """Decompress a gzip file into ``dest`` via a temporary file and an atomic rename.

    Parameters
    ----------
    source : pathlib.Path
        The ``.gz`` file.
    dest : pathlib.Path
        The decompressed file to create (its directory must exist).

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DatasetError
        If ``source`` is not a complete gzip file; nothing is left at ``dest``.
    """
    handle, tmp = _temp(dest.parent, ".part")
    try:
        with handle, gzip.open(source, "rb") as zipped:
            shutil.copyfileobj(zipped, handle, _CHUNK)
        os.replace(tmp, dest)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"cannot decompress {source}: {_reason(exc)}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def fetch_gzipped(
    name: str,
    cache_dir: Path,
    *,
    base_url: str,
    progress: bool | None = None,
    timeout: float = TIMEOUT,
) -> Path:
    """Download ``<base_url>/<name>.gz``, verify its MD5 and decompress it to ``cache_dir/name``.

    Parameters
    ----------
    name : str
        Decompressed file name, e.g. ``"shd_train.h5"``.
    cache_dir : pathlib.Path
        Directory to put the file into (created if missing).
    base_url : str
        URL of the directory serving ``<name>.gz`` and ``md5sums.txt`` (``https://``,
        ``http://`` or ``file://``).
    progress : bool or None
        Show a progress bar (None: only when stderr is a terminal).
    timeout : float
        Seconds to wait for the server, per connection.

    Returns
    -------
    pathlib.Path
        ``cache_dir / name``, complete and verified.

    Raises
    ------
    DatasetUnavailableError
        If the server cannot be reached, the checksum list lacks the file, the
        checksum does not match or the download is cut short. No partial file is
        left in ``cache_dir``.
    """
    gz_name = name + ".gz"
    url = _join(base_url, gz_name)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetUnavailableError(
            f"cannot create the dataset directory {cache_dir}: {_reason(exc)}. "
            + manual_instructions(name, base_url, cache_dir)
        ) from None

    def fail(what: str) -> DatasetUnavailableError:
        return DatasetUnavailableError(
            f"could not download {name} from {url}: {what}. "
            + manual_instructions(name, base_url, cache_dir)
        )

    try:
        table = _md5_table(base_url, timeout)
    except (OSError, ValueError) as exc:  # URLError and timeouts are OSErrors
        raise fail(f"cannot read the checksum list: {_reason(exc)}") from None
    expected = table.get(gz_name)
    if expected is None:
        raise fail(f"{gz_name} is not listed in {_join(base_url, 'md5sums.txt')}")

    try:
        handle, tmp = _temp(cache_dir, ".gz.part")
    except DatasetError as exc:
        raise fail(str(exc)) from None
    try:
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with handle, _urlopen(url, timeout) as response:
                total = _content_length(response)
                bar = _progress_bar(total, gz_name, progress)
                try:
                    while chunk := response.read(_CHUNK):
                        handle.write(chunk)
                        digest.update(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
                finally:
                    if bar is not None:
                        bar.close()
                if total is not None and handle.tell() != total:
                    raise fail(f"the download stopped after {handle.tell()} of {total} bytes")
        except DatasetError:
            raise
        except (OSError, ValueError) as exc:
            raise fail(_reason(exc)) from None
        got = digest.hexdigest()
        if got != expected:
            raise fail(
                f"checksum mismatch (MD5 {got}, md5sums.txt lists {expected}); "
                "the file was corrupted or changed on the server and has been discarded"
            )
        try:
            return gunzip_atomic(tmp, cache_dir / name)
        except DatasetError as exc:
            raise fail(str(exc)) from None
    finally:
        tmp.unlink(missing_ok=True)


def _content_length(response: Any) -> int | None:
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _progress_bar(total: int | None, desc: str, progress: bool | None) -> Any:
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024)
