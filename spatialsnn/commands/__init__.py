"""Subcommands of the ``spatialsnn`` command line, one module each.

Each module defines ``register(subparsers)``, which adds its parser and sets
``func`` to a handler ``(args) -> int``. Handlers raise :class:`CommandError` for
bad input (exit code 2, one line, no traceback). Modules must not import heavy
dependencies (torch, brian2, matplotlib) at import time.
"""

from __future__ import annotations

__all__ = ["MODULES", "CommandError"]

#: Subcommand modules, in the order ``spatialsnn --help`` lists them.
MODULES = ("demo", "train", "info", "validate", "export", "analyze", "doctor")


class CommandError(Exception):
    """A user-facing error: printed as one line; the command exits with code 2."""
