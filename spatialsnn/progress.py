"""What a long run prints: a bar on a terminal, one line per epoch otherwise.

Progress bars redraw themselves many times a second, which is what a terminal shows
well and what floods a log file, a CI log or a notebook cell. So bars are drawn only when
standard error is a terminal; the one line per epoch is printed in every case. A run
that stops for a one-off reason, the compilation of spatialsnn's kernels on first use,
says so in one line (:func:`kernel_notes`) instead of looking stuck.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["KERNEL_LOGGER", "batch_bar", "epoch_line", "kernel_notes", "on_terminal"]

#: The logger the kernel build reports to (see :mod:`spatialsnn.ops`).
KERNEL_LOGGER = "spatialsnn.ops"


def on_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default: standard error) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # closed, or not a real file
        return False


def batch_bar(total: int, desc: str, *, enabled: bool = True) -> Any | None:
    """A tqdm bar over the batches of one epoch, or None off a terminal.

    Parameters
    ----------
    total : int
        Number of batches.
    desc : str
        Label, e.g. ``"epoch 3/40"``.
    enabled : bool
        False: never a bar.

    Returns
    -------
    tqdm.tqdm or None
        Closed by the caller; it disappears when closed (``leave=False``).
    """
    if not (enabled and on_terminal()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, leave=False, unit="batch")


def epoch_line(text: str, bar_active: bool = False) -> None:
    """Print one line of results (through tqdm while a bar may be on screen)."""
    if bar_active:
        from tqdm import tqdm

        tqdm.write(text)
    else:
        print(text, flush=True)


class _Note(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if text.startswith("compiling"):
            text += " (once: later runs load it from the cache)"
        return f"spatialsnn: {text}"


@contextlib.contextmanager
def kernel_notes(enabled: bool = True, stream: TextIO | None = None) -> Iterator[None]:
    """Show the kernel build's messages as one-line notes while the block runs.

    The compiled kernels are built on first use (tens of seconds to minutes), and
    their loader reports that on the ``spatialsnn.ops`` logger at level INFO, which
    Python does not show by default. Inside this block those messages go to ``stream``
    (default: standard error) as lines starting with ``spatialsnn:``. If the program
    already shows INFO messages of that logger through its own logging configuration,
    nothing is added (no line twice).

    Parameters
    ----------
    enabled : bool
        False: do nothing.
    stream : file-like, optional
        Where the notes go.
    """
    logger = logging.getLogger(KERNEL_LOGGER)
    if not enabled or (logger.isEnabledFor(logging.INFO) and logger.hasHandlers()):
        yield
        return
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(_Note())
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the root handlers would print the same line again
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
