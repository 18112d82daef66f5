"""Option types and pre-flight checks shared by the subcommands.

The ``type=`` factories refuse a bad value while the command line is parsed (argparse
turns their ``ArgumentTypeError`` into one line, exit code 2). The ``check_*`` functions
refuse bad paths with a :class:`~spatialsnn.commands.CommandError` before any work
starts. :func:`removed_on_failure` deletes the outputs a failed command created, so that
no half-written file or figure is left behind.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from spatialsnn.commands import CommandError

#: Seeds are integers in [0, 2**63): what numpy's and torch's generators both accept.
SEED_LIMIT = 2**63


def integer(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high)`` (either bound optional)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if (low is not None and value < low) or (high is not None and value >= high):
            bounds = " and ".join(
                [f">= {low}"] * (low is not None) + [f"< {high}"] * (high is not None)
            )
            raise argparse.ArgumentTypeError(f"must be an integer {bounds}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def number(
    low: float, *, strict: bool, high: float | None = None, units: str = ""
) -> Callable[[str], float]:
    """An argparse type: a finite number ``> low`` (strict) or ``>= low``, at most ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        ok = math.isfinite(value) and (value > low if strict else value >= low)
        if not ok or (high is not None and value > high):
            bound = f"> {low:g}" if strict else f">= {low:g}"
            bound += f" and <= {high:g}" if high is not None else ""
            unit = f" ({units})" if units else ""
            raise argparse.ArgumentTypeError(f"must be a finite number {bound}{unit}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


#: ``--seed``: an integer in [0, 2**63).
seed = integer(0, SEED_LIMIT)
#: ``--samples``, ``--jobs``, ``--epochs``, ...: an integer >= 1.
positive_int = integer(1)


def check_input_file(path: str | os.PathLike, what: str) -> Path:
    """An existing regular file (not a directory), or a one-line :class:`CommandError`."""
    path = Path(path)
    if path.is_dir():
        raise CommandError(f"{what} {path} is a directory, not a file")
    if not path.is_file():
        raise CommandError(f"{what} {path}: no such file")
    return path


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_file(
    path: str | os.PathLike, what: str, *, inputs: tuple[str | os.PathLike, ...] = ()
) -> Path:
    """A file that can be written and is none of ``inputs``, or a one-line :class:`CommandError`.

    Parameters
    ----------
    path : path-like
        The output file.
    what : str
        The option, for the message (e.g. ``"--report"``).
    inputs : tuple of path-like
        Files the command reads; writing over one of them is refused.
    """
    from spatialsnn.train import check_output_path

    if not str(path) or not Path(path).name or Path(path).name in (".", ".."):
        raise CommandError(f"{what} needs a file name, got {str(path)!r}")
    path = Path(path)
    for other in inputs:
        other = Path(other)
        if _same(path, other) or path.resolve() == other.resolve():
            raise CommandError(f"{what} {path} would overwrite {other}; choose another file")
    try:
        return check_output_path(path)
    except ValueError as err:
        raise CommandError(f"{what}: {err}") from None


def check_output_dir(path: str | os.PathLike, what: str) -> Path:
    """A directory that exists and is writable, or can be created; else :class:`CommandError`."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CommandError(f"{what} {path} exists and is not a directory")
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise CommandError(f"{what} {path}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CommandError(f"{what} {path}: cannot write in {existing} (permission denied)")
    return path


@contextlib.contextmanager
def removed_on_failure(*paths: str | os.PathLike | None) -> Iterator[None]:
    """Delete what the block created at ``paths`` if it raises (or is interrupted).

    A file or directory that did not exist before is removed, and so are the missing
    directories above it that the block created; inside a directory that existed, the
    entries that did not exist before are removed. Existing files that the block
    overwrote are not restored (writers should replace files atomically).
    """
    before: dict[Path, set[str] | None] = {}
    for p in paths:
        if p is None:
            continue
        p = Path(p)
        while not p.parent.exists():  # directories the block may create on the way
            p = p.parent
        before[p] = set(os.listdir(p)) if p.is_dir() else (set() if p.exists() else None)
    try:
        yield
    except BaseException:
        for p, old in before.items():
            if old is None:
                _remove(p)
            elif p.is_dir():
                for name in set(os.listdir(p)) - old:
                    _remove(p / name)
        raise


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def check_data_options(args) -> None:
    """``--data``, ``--split`` and ``--seed`` (of ``validate`` and ``export``), checked together.

    ``--data`` is ``random`` or an existing file; ``--split`` chooses a split of the
    model's recorded data and ``--seed`` seeds random input, so neither applies to a
    data file. Fills in their defaults (``test``, 0).
    """
    data_file = args.data is not None and args.data != "random"
    if data_file:
        check_input_file(args.data, "--data")
        if args.split is not None:
            raise CommandError(
                "--split chooses a split of the model's recorded data; not with --data FILE"
            )
        if args.seed is not None:
            raise CommandError("--seed seeds random input; not with --data FILE")
    args.split = "test" if args.split is None else args.split
    args.seed = 0 if args.seed is None else args.seed
