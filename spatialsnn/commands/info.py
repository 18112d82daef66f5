"""``spatialsnn info model.nc [--json]``: summarise a model file."""

from __future__ import annotations

import argparse
import json

from spatialsnn.commands import CommandError


def register(sub) -> None:
    """Add the ``info`` parser."""
    p = sub.add_parser("info", help="summarise a model file", description=__doc__)
    p.add_argument("model", help="path to a spatialsnn model file (.nc)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary of ``args.model``."""
    from spatialsnn.summary import describe_file, format_description

    try:
        desc = describe_file(args.model)
    except ValueError as err:  # ModelFileError is a ValueError
        raise CommandError(str(err)) from None
    print(json.dumps(desc, indent=2) if args.json else format_description(desc))
    return 0
