"""Shared pytest configuration for spatialsnn: the one place that decides what is skipped.

Markers (registered in ``setup.cfg``):

``slow``
    Long-running; collected always, run only with ``--run-slow`` or
    ``SPATIALSNN_RUN_SLOW=1``.
``cuda``
    Needs an NVIDIA GPU; skipped when ``torch.cuda.is_available()`` is False.
``brian2``
    Needs the ``brian2`` extra; skipped when brian2 is not installed.
``brian2cuda``
    Needs brian2cuda and ``nvcc`` on ``PATH``; skipped when either is missing.
``notebook``
    Executes a tutorial through a Jupyter kernel; never skipped here (tutorials run in a
    fast mode; nbclient and ipykernel are in the ``test`` extra).
``docs``
    Builds the documentation; skipped when the ``docs`` extra (Sphinx, myst-nb, furo,
    sphinx-argparse, sphinx-copybutton) is not installed. The README's test command
    installs it, so CI runs these tests.

Test files must not repeat these conditions with their own ``skipif``.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import torch

_MARKERS = ("slow", "cuda", "brian2", "brian2cuda", "docs")
#: What the documentation build imports (the ``docs`` extra).
_DOCS_MODULES = ("sphinx", "myst_nb", "furo", "sphinxarg", "sphinx_copybutton")

_TRUE = {"1", "true", "yes", "on"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="run tests marked 'slow' (also enabled by SPATIALSNN_RUN_SLOW=1)",
    )


def _run_slow(config: pytest.Config) -> bool:
    env = os.environ.get("SPATIALSNN_RUN_SLOW", "").strip().lower()
    return bool(config.getoption("--run-slow")) or env in _TRUE


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _cuda_available() -> bool:
    import torch  # imported here so that collecting needs torch only when a test asks for it

    return torch.cuda.is_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    present = {m for item in items for m in _MARKERS if item.get_closest_marker(m) is not None}
    skips: dict[str, pytest.MarkDecorator] = {}

    if "slow" in present and not _run_slow(config):
        skips["slow"] = pytest.mark.skip(
            reason="slow test: run with --run-slow or SPATIALSNN_RUN_SLOW=1"
        )
    if "cuda" in present and not _cuda_available():
        skips["cuda"] = pytest.mark.skip(
            reason="needs an NVIDIA GPU (torch.cuda.is_available() is False)"
        )
    if "brian2" in present and not _has_module("brian2"):
        skips["brian2"] = pytest.mark.skip(
            reason="install the brian2 extra: pip install -e .[brian2]"
        )
    if "docs" in present:
        missing = [m for m in _DOCS_MODULES if not _has_module(m)]
        if missing:
            skips["docs"] = pytest.mark.skip(
                reason="install the docs extra: pip install -e .[docs] "
                f"(missing {', '.join(missing)})"
            )
    if "brian2cuda" in present:
        if not _has_module("brian2cuda"):
            skips["brian2cuda"] = pytest.mark.skip(
                reason="install the cuda extra: pip install -e .[cuda]"
            )
        elif shutil.which("nvcc") is None:
            skips["brian2cuda"] = pytest.mark.skip(reason="brian2cuda needs nvcc on PATH")

    if not skips:
        return
    for item in items:
        for marker, skip in skips.items():
            if item.get_closest_marker(marker) is not None:
                item.add_marker(skip)
                break


class _StderrNow:
    """Standard error as it is at each write.

    Brian2's console log handler keeps the ``sys.stderr`` it saw when brian2 was imported;
    under pytest that may be one test's capture, closed when that test ends, and a later
    warning then fails with "I/O operation on closed file".
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


@pytest.fixture(autouse=True)
def _brian2_logs_where_the_test_is(request: pytest.FixtureRequest):
    """Keep Brian2's warnings inside the test that caused them.

    Brian2 warns from ``__del__`` about objects that were never part of a run (tests that
    only build a network make them); collecting them here makes that happen now, in the
    test that built them, instead of in whichever test the garbage collector next runs.
    """
    yield
    logger = sys.modules.get("brian2.utils.logger")
    if logger is None:
        return
    handler = logger.BrianLogger.console_handler
    if handler is not None and not isinstance(handler.stream, _StderrNow):
        handler.stream = _StderrNow()  # not setStream: it flushes the old, maybe closed, one
    if request.node.get_closest_marker("brian2") is not None:
        gc.collect()


@pytest.fixture
def rng() -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with 1234; pass it explicitly to random calls."""
    import torch

    return torch.Generator().manual_seed(1234)


@pytest.fixture
def tmp_nc(tmp_path: Path) -> Path:
    """Path for a model file inside the test's temporary directory (not yet created)."""
    return tmp_path / "model.nc"
