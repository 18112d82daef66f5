"""The ``spatialsnn`` command line.

Thin wrappers over the Python API: heavy imports happen inside each subcommand so
``spatialsnn --help`` is instant. Exit codes: 0 success, 1 a check failed, 2 bad
input (usage errors, missing or invalid files), with one message and no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

__all__ = ["main"]


class _Failure(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def _info(args: argparse.Namespace) -> int:
    from spatialsnn.summary import describe_file, format_description

    try:
        desc = describe_file(args.model)
    except ValueError as err:  # ModelFileError is a ValueError
        raise _Failure(str(err)) from None
    if args.json:
        print(json.dumps(desc, indent=2, sort_keys=False))
    else:
        print(format_description(desc))
    return 0


def _build_parser() -> argparse.ArgumentParser:
    from spatialsnn import __version__

    parser = argparse.ArgumentParser(
        prog="spatialsnn",
        description="Spiking networks whose neurons live in space: train, export, validate.",
    )
    parser.add_argument("--version", action="version", version=f"spatialsnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("info", help="summarise a model file", description="Summarise a model file.")
    p.add_argument("model", help="path to a spatialsnn model file (.nc)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except _Failure as err:
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
