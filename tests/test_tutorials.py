"""The tutorials (jupytext py:percent notebooks) run top to bottom in their fast mode.

Each tutorial is executed cell by cell in one namespace, the way a notebook kernel runs
it, with ``SPATIALSNN_TUTORIAL_FAST=1``, the Agg backend and a temporary working
directory. Cells tagged ``download`` are skipped; the tutorials fall back to generated
data after them.
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")  # part of the test extra

TUTORIALS_DIR = Path(__file__).resolve().parents[1] / "tutorials"
TUTORIALS = sorted(p.name for p in TUTORIALS_DIR.glob("[0-9][0-9]_*.py"))
NEEDS_BRIAN2 = {"02_pytorch_to_brian2.py", "04_reproducing_the_paper_shd.py"}
DOWNLOAD_TAG = "download"
# Calls that download unless given a local path (path=...).
DOWNLOADING_CALLS = re.compile(r"\b(load_shd|load_ssc|fetch_gzipped)\(")


def _params():
    marks = {name: [pytest.mark.notebook] for name in TUTORIALS}
    for name in NEEDS_BRIAN2:
        marks[name].append(pytest.mark.brian2)
    return [pytest.param(name, marks=marks[name], id=name[:-3]) for name in TUTORIALS]


def _code_cells(nb):
    return [
        (i, cell)
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and DOWNLOAD_TAG not in cell.metadata.get("tags", [])
    ]


def _call_arguments(source: str, start: int) -> str:
    """The text between the parenthesis opened at ``source[start - 1]`` and its match."""
    depth = 1
    for k in range(start, len(source)):
        depth += {"(": 1, ")": -1}.get(source[k], 0)
        if depth == 0:
            return source[start:k]
    return source[start:]


def test_all_four_tutorials_are_found():
    assert len(TUTORIALS) == 4, TUTORIALS


@pytest.mark.parametrize("name", _params())
def test_tutorial_runs(name, tmp_path, monkeypatch):
    import matplotlib

    monkeypatch.setenv("SPATIALSNN_TUTORIAL_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nb = jupytext.read(TUTORIALS_DIR / name)
    namespace = {"__name__": "__main__", "__file__": str(TUTORIALS_DIR / name)}
    try:
        for index, cell in _code_cells(nb):
            try:
                exec(compile(cell.source, f"<{name} cell {index}>", "exec"), namespace)
            except Exception:
                pytest.fail(
                    f"{name}: cell {index} failed\n--- source ---\n{cell.source}\n"
                    f"--- error ---\n{traceback.format_exc()}",
                    pytrace=False,
                )
    finally:
        plt.close("all")


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
