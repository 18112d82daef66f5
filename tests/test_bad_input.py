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


# ---------------------------------------------------------------- no stray files on failure


def _fail_after_writing(path_arg: int):
    """A stand-in for a writer that creates its output, then fails (a full disk, ...)."""

    def writer(*args, **kwargs):
        directory = Path(args[path_arg])
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "positions.png").write_text("half")
        raise OSError(28, "No space left on device")

    return writer


def test_analyze_removes_its_half_written_figures_and_metrics(files, tmp_path, monkeypatch, capsys):
    import spatialsnn.analysis.plots

    work = tmp_path / "work"
    shutil.copytree(files, work)
    monkeypatch.chdir(work)
    monkeypatch.setattr(spatialsnn.analysis.plots, "plot_all", _fail_after_writing(3))
    before = snapshot(work)
    argv = ["analyze", "m.nc", "--no-data", "--no-pruning", "--out", "new/metrics.nc",
            "--plots", "figures/a"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and err.count("\n") == 1
    assert snapshot(work) == before  # neither new/metrics.nc nor figures/a is left


def test_export_removes_a_half_written_script_and_data_file(files, tmp_path, monkeypatch, capsys):
    import spatialsnn.export

    work = tmp_path / "work"
    shutil.copytree(files, work)
    monkeypatch.chdir(work)

    def half(model, script, data_file=None, **kwargs):
        Path(data_file).parent.mkdir(parents=True, exist_ok=True)  # as the writer does
        Path(data_file).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spatialsnn.export, "write_brian2_script", half)
    before = snapshot(work)
    assert main(["export", "m.nc", "--brian2-script", "out/net.py", "--data", "x.npz"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert snapshot(work) == before


def test_validate_passes_build_dir_for_a_single_step(files, tmp_path, monkeypatch, capsys):
    """It was dropped unless --faithful ran several steps."""
    import spatialsnn.validate

    seen = {}

    def fake(path, **kwargs):
        seen.update(kwargs)
        raise spatialsnn.validate.ValidationInputError("stop here")

    monkeypatch.setattr(spatialsnn.validate, "validate_file", fake)
    argv = ["validate", str(files / "m.nc"), "--device", "cpp_standalone",
            "--build-dir", str(tmp_path / "build")]  # fmt: skip
    assert main(argv) == 2
    assert seen["build_dir"] == str(tmp_path / "build")
    capsys.readouterr()


def test_a_stale_temporary_of_a_killed_save_is_removed_when_training_starts(tmp_path, monkeypatch):
    import spatialsnn.train

    stale = [tmp_path / ".m.nc.ckpt.0123abcd.tmp", tmp_path / ".m.nc.4567ef.tmp"]
    for p in stale:
        p.write_bytes(b"half a checkpoint")
    keep = tmp_path / ".other.nc.ckpt.89.tmp"
    keep.write_bytes(b"not ours")
    monkeypatch.setattr(spatialsnn.train, "Trainer", _no_work)  # stop after the checks
    with pytest.raises(AssertionError, match="work started"):
        spatialsnn.train.train({"epochs": 1}, tmp_path / "m.nc", progress=False)
    assert not any(p.exists() for p in stale) and keep.exists()
