"""Helpers shared by several test modules (fixtures live in ``conftest.py``).

Import them as ``from helpers import ...``: pytest puts this folder on ``sys.path``
because ``tests/`` has a ``conftest.py`` and no ``__init__.py``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import spatialsnn

ROOT = Path(__file__).resolve().parents[1]
#: The shipped models.
SHIPPED_MODEL = ROOT / "models" / "timing-spatial.nc"
PAPER_MODEL = ROOT / "models" / "timing-paper.nc"

#: A small timing task: 16 channels, 4 classes, 80 steps of 1 ms.
TASK = dict(n_train=16, n_test=12, noise=0.03, n_steps=80, max_interval=40)


def run_cli(argv: list[str]) -> int:
    """``spatialsnn <argv>`` in this process; the exit code (argparse errors included)."""
    from spatialsnn.cli import main

    try:
        return main(argv)
    except SystemExit as exc:  # argparse usage errors
        return int(exc.code)


def small_model(seed: int = 1, **overrides) -> spatialsnn.SpatialSNN:
    """16 inputs (the timing task) -> 24 recurrent -> 4, with weights that make it spike."""
    kwargs = dict(
        velocity=20.0,
        seed=seed,
        init_extent=100.0,
        w_in_mean=0.6,
        w_in_std=0.2,
        w_rec_std=0.35,
        w_out_std=0.3,
    )
    return spatialsnn.SpatialSNN(16, 24, 4, **{**kwargs, **overrides})


ISOLATED_RUNNER = """
import importlib.abc, runpy, sys
sys.path.extend({paths!r})

class NoSpatialsnn(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("spatialsnn", "torch"):
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)")
        return None

sys.meta_path.insert(0, NoSpatialsnn())
try:
    import spatialsnn  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("spatialsnn is importable in the isolated environment")
sys.argv = {argv!r}
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_isolated(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run a script with ``python -I -S`` plus site-packages, spatialsnn and torch blocked."""
    import brian2
    import xarray

    paths = sorted(
        {str(Path(m.__file__).parent.parent) for m in (brian2, np, xarray)}
    )  # site-packages of brian2, numpy, xarray (and with them h5netcdf, h5py)
    code = ISOLATED_RUNNER.format(paths=paths, argv=[str(script), *args])
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
