"""The ``spatialsnn`` command line.

Thin wrappers over the Python API; each subcommand lives in its own module under
:mod:`spatialsnn.commands`, and heavy imports happen inside the handlers so
``spatialsnn --help`` is instant. Exit codes: 0 success, 1 a check failed, 2 bad
input (usage errors, missing or invalid files), with one message and no traceback.
Every error and every warning is one line on stderr: ``spatialsnn CMD: error: ...``,
``spatialsnn CMD: warning: ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import warnings
from collections.abc import Iterator, Sequence

from spatialsnn.commands import MODULES, CommandError

__all__ = ["main"]


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (exit 2), not usage + message.

    The usage is part of that line when it is short; the subcommands' usage texts run to
    many lines, so there the line names the option and points to ``--help``.
    """

    def error(self, message: str):
        """Print ``prog: error: message (usage ...)`` as one line and exit with code 2."""
        usage = _one_line(self.format_usage())
        hint = usage if len(usage) <= 80 else f"see {self.prog} --help"
        self.exit(2, f"{self.prog}: error: {_one_line(message)} ({hint})\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    from spatialsnn import __version__

    parser = OneLineParser(
        prog="spatialsnn",
        description="Spiking networks whose neurons live in space: train, export, validate.",
    )
    parser.add_argument("--version", action="version", version=f"spatialsnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in MODULES:
        importlib.import_module(f"spatialsnn.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).
    """
    args = build_parser().parse_args(argv)
    try:
        with _one_line_warnings(f"spatialsnn {args.command}"):
            return int(args.func(args))
    except CommandError as err:
        print(f"spatialsnn {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `spatialsnn info m.nc --json | head`
        sys.stderr.close()
        return 0


@contextlib.contextmanager
def _one_line_warnings(prog: str) -> Iterator[None]:
    """Show warnings as ``prog: warning: message`` on one line (not file, line and source)."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {_one_line(message)}", file=file or sys.stderr)

    # catch_warnings restores showwarning afterwards, and entering it resets the "shown
    # once" registry, so that every run of a command shows its warnings
    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
