"""The tutorials (jupytext py:percent notebooks) run top to bottom through a Jupyter kernel.

Each tutorial is read with jupytext, its cells tagged ``download`` are dropped (the
tutorials fall back to generated data after them), and nbclient executes the notebook in
a fresh ipykernel kernel of this very Python (a kernel spec written for the test, so a
``python3`` spec installed for another environment cannot shadow it), in a temporary
working directory,
with ``SPATIALSNN_TUTORIAL_FAST=1`` and matplotlib's default backend in a kernel (inline),
as in Jupyter. A failing cell fails the test with its source and traceback. Figures must
appear in the cell outputs (PNG) and as files in ``tutorial-output/``; run as a script
with ``MPLBACKEND=Agg``, a tutorial writes the same files.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")  # part of the test extra

TUTORIALS_DIR = Path(__file__).resolve().parents[1] / "tutorials"
TUTORIALS = sorted(p.name for p in TUTORIALS_DIR.glob("[0-9][0-9]_*.py"))
NEEDS_BRIAN2 = {"02_pytorch_to_brian2.py", "04_reproducing_the_paper_shd.py"}
DOWNLOAD_TAG = "download"
# Calls that download unless given a local path (path=...).
DOWNLOADING_CALLS = re.compile(r"\b(load_shd|load_ssc|fetch_gzipped)\(")
#: Seconds one cell may take in fast mode before the test gives up.
CELL_TIMEOUT = 600
#: The kernel spec the tests write for this Python (a name no user spec is likely to have).
KERNEL_NAME = "spatialsnn-tests"


def _params():
    marks = {name: [pytest.mark.notebook] for name in TUTORIALS}
    for name in NEEDS_BRIAN2:
        marks[name].append(pytest.mark.brian2)
    return [pytest.param(name, marks=marks[name], id=name[:-3]) for name in TUTORIALS]


def _call_arguments(source: str, start: int) -> str:
    """The text between the parenthesis opened at ``source[start - 1]`` and its match."""
    depth = 1
    for k in range(start, len(source)):
        depth += {"(": 1, ")": -1}.get(source[k], 0)
        if depth == 0:
            return source[start:k]
    return source[start:]


def _draws_figures(name: str) -> bool:
    return "show(" in (TUTORIALS_DIR / name).read_text(encoding="utf-8")


def _fast_env(monkeypatch) -> None:
    monkeypatch.setenv("SPATIALSNN_TUTORIAL_FAST", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own default: inline
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # a debugger warning, not ours


def _kernel_of_this_python(monkeypatch, where: Path) -> str:
    """Write a kernel spec that starts ``sys.executable`` and put it first on JUPYTER_PATH.

    The ``python3`` spec is whatever the machine has installed: a user spec left by
    another virtual environment would run the tutorials against another spatialsnn.
    """
    from ipykernel.kernelspec import write_kernel_spec

    write_kernel_spec(where / "kernels" / KERNEL_NAME)
    monkeypatch.setenv(
        "JUPYTER_PATH",
        os.pathsep.join([str(where), os.environ.get("JUPYTER_PATH", "")]).rstrip(os.pathsep),
    )
    return KERNEL_NAME


def execute_notebook(name: str, cwd: Path, kernel_name: str):
    """Run tutorial ``name`` through kernel ``kernel_name`` in ``cwd``; return the notebook."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = jupytext.read(TUTORIALS_DIR / name)
    nb.cells = [c for c in nb.cells if DOWNLOAD_TAG not in c.metadata.get("tags", [])]
    probe = jupytext.reads("import sys\nprint(sys.prefix)\n", fmt="py:percent").cells[0]
    nb.cells.insert(0, probe)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        client.execute()
    except CellExecutionError as err:
        pytest.fail(f"{name} failed in a Jupyter kernel:\n{err}", pytrace=False)
    kernel_prefix = "".join(o.get("text", "") for o in nb.cells[0].outputs).strip()
    assert kernel_prefix == sys.prefix, (
        f"kernel {kernel_name} runs another Python ({kernel_prefix}), not {sys.prefix}"
    )
    return nb


def test_all_four_tutorials_are_found():
    assert len(TUTORIALS) == 4, TUTORIALS


@pytest.mark.parametrize("name", _params())
def test_tutorial_runs_in_a_jupyter_kernel(name, tmp_path, monkeypatch):
    _fast_env(monkeypatch)
    kernel = _kernel_of_this_python(monkeypatch, tmp_path / "jupyter")
    work = tmp_path / "work"
    work.mkdir()
    nb = execute_notebook(name, work, kernel)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors
    if _draws_figures(name):
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        assert images, f"{name}: no figure appeared in the notebook's outputs"
        saved = sorted((work / "tutorial-output").rglob("*.png"))
        assert len(saved) >= len(images), (len(images), saved)


@pytest.mark.notebook
def test_tutorial_saves_its_figures_when_run_as_a_script(tmp_path, monkeypatch):
    """``MPLBACKEND=Agg python tutorials/01_...py``: nothing can be shown, files are written."""
    name = "01_positions_and_delays.py"
    env = {**os.environ, "SPATIALSNN_TUTORIAL_FAST": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, str(TUTORIALS_DIR / name)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=CELL_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    saved = sorted(p.name for p in (tmp_path / "tutorial-output").rglob("*.png"))
    source = (TUTORIALS_DIR / name).read_text(encoding="utf-8")
    shows = len(re.findall(r"(?m)^show\(fig, ", source))  # the calls, not the prose
    assert len(saved) == shows >= 4, saved
    assert "non-interactive" not in proc.stderr  # no "cannot be shown" warning from pyplot


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_is_clean_jupytext(name):
    path = TUTORIALS_DIR / name
    text = path.read_text(encoding="utf-8")
    nb = jupytext.reads(text, fmt="py:percent")
    # the standard header in a leading comment block, declaring py:percent
    assert text.startswith("# ---\n# jupyter:\n"), "missing the jupytext YAML header"
    assert nb.metadata["jupytext"]["text_representation"]["format_name"] == "percent"
    assert nb.metadata["kernelspec"]["name"] == "python3"

    # round trip: writing the notebook back gives the same file (up to jupytext's version)
    def strip_version(s: str) -> str:
        return re.sub(r"(?m)^#\s+jupytext_version: .*\n", "", s)

    assert strip_version(jupytext.writes(nb, fmt="py:percent")) == strip_version(text)

    # output-free, and it starts with a markdown cell whose first line is a '# Title'
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")
    first = nb.cells[0]
    assert first.cell_type == "markdown" and re.match(r"# \S", first.source), first.source[:80]
    assert sum(1 for c in nb.cells if c.cell_type == "code") >= 3

    # fast mode is read from the environment
    assert 'os.environ.get("SPATIALSNN_TUTORIAL_FAST") == "1"' in text

    # every call that may download is in a cell tagged 'download' (skipped by the tests),
    # unless it is given a local path
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or DOWNLOAD_TAG in cell.metadata.get("tags", []):
            continue
        for match in DOWNLOADING_CALLS.finditer(cell.source):
            args = _call_arguments(cell.source, match.end())
            assert "path=" in args, (
                f"cell {index} calls {match.group(1)}({args}) without a local path; "
                f"tag the cell {DOWNLOAD_TAG!r}"
            )


def test_markdown_headings_do_not_skip_levels():
    for name in TUTORIALS:
        nb = jupytext.read(TUTORIALS_DIR / name)
        levels = []
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                levels += [len(m.group(1)) for m in re.finditer(r"(?m)^(#+) ", cell.source)]
        assert levels and levels[0] == 1 and levels.count(1) == 1, (name, levels)
        for previous, level in zip(levels, levels[1:], strict=False):
            assert level <= previous + 1, (name, levels)
