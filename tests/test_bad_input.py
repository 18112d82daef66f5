"""docs/bad-input.md: every bad input refused before work starts, one test per row.

Each row runs ``spatialsnn <argv>`` in a directory holding the files of
``bad_input_cases.FILES`` and checks the exit code, that stderr is one line holding the
row's message and no traceback, that a refused command printed nothing on stdout, and
that no file was created, changed or removed. The functions that do the work (training,
simulation, analysis, export) are replaced by ones that fail the test if called.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
from pathlib import Path

import pytest
from bad_input_cases import FILES, ROWS, make_files, page_row

from spatialsnn.cli import main

PAGE = Path(__file__).resolve().parents[1] / "docs" / "bad-input.md"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad-input-files")
    make_files(root)
    return root


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with the hash of its contents ("dir" for directories)."""
    return {
        str(p.relative_to(root)): "dir" if p.is_dir() else hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def _no_work(*args, **kwargs):
    raise AssertionError("work started although the input is bad")


@pytest.fixture
def workdir(files, tmp_path, monkeypatch) -> Path:
    import spatialsnn.analysis
    import spatialsnn.export
    import spatialsnn.train
    import spatialsnn.validate

    work = tmp_path / "work"
    shutil.copytree(files, work)
    monkeypatch.chdir(work)
    monkeypatch.setattr(spatialsnn.train, "Trainer", _no_work)
    monkeypatch.setattr(spatialsnn.validate, "validate_file", _no_work)
    monkeypatch.setattr(spatialsnn.validate, "load_data", _no_work)
    monkeypatch.setattr(spatialsnn.export, "write_brian2_script", _no_work)
    monkeypatch.setattr(spatialsnn.analysis, "analyze", _no_work)
    return work


def run(argv: list[str]) -> int:
    """``main(argv)``, with argparse's exit turned into a return code."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


@pytest.mark.parametrize(("argv", "message", "code"), ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_is_refused_with_one_line(workdir, capsys, argv, message, code):
    before = snapshot(workdir)
    assert run(shlex.split(argv)) == code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert message in err, err
    if message:
        assert err.count("\n") == 1, err  # one line
    else:
        assert err == ""
    if code == 2:
        assert out == ""
    assert snapshot(workdir) == before  # nothing written, nothing changed


def test_the_page_shows_exactly_the_tested_rows():
    page = PAGE.read_text(encoding="utf-8")
    shown = [line for line in page.splitlines() if line.startswith("| `spatialsnn ")]
    expected = [page_row(*row) for row in ROWS]
    assert shown == expected


def test_the_page_describes_every_file():
    page = PAGE.read_text(encoding="utf-8")
    for name, what in FILES.items():
        assert f"| `{name}` | {what} |" in page, name


def test_every_train_option_has_a_row():
    from spatialsnn.cli import build_parser

    (sub,) = [a for a in build_parser()._actions if hasattr(a, "choices") and a.choices]
    options = {o for a in sub.choices["train"]._actions for o in a.option_strings}
    options -= {"-h", "--help", "--no-progress"}  # a flag without a value cannot be bad
    rows = " ".join(argv for argv, _, _ in ROWS if argv.startswith("train "))
    missing = sorted(o for o in options if f"{o} " not in rows + " ")
    assert not missing, missing
