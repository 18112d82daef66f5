"""The ``spatialsnn`` command line.

Thin wrappers over the Python API; each subcommand lives in its own module under
:mod:`spatialsnn.commands`, and heavy imports happen inside the handlers so
``spatialsnn --help`` is instant. Exit codes: 0 success, 1 a check failed, 2 bad
input (usage errors, missing or invalid files), with one message and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from spatialsnn.commands import MODULES, CommandError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    from spatialsnn import __version__

    parser = argparse.ArgumentParser(
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
        return int(args.func(args))
    except CommandError as err:
        print(f"spatialsnn {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `spatialsnn info m.nc --json | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
