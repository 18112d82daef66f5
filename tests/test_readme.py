"""README.md is followed literally: its commands are the ones CI and the docs use, and its
Python tour runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def _install_commands() -> tuple[str, str]:
    commands = [b.strip() for b in _blocks("bash") if "pip install -e" in b and "&&" in b]
    main = [c for c in commands if "spatialsnn demo" in c]
    tests = [c for c in commands if c.endswith("python -m pytest")]
    assert len(main) == 1 and len(tests) == 1, commands
    return main[0], tests[0]


def test_ci_runs_exactly_the_readme_test_command():
    _, tests = _install_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert any(line.startswith(tests) for line in ci.splitlines()), tests


def test_getting_started_repeats_both_commands_verbatim():
    page = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    for command in _install_commands():
        assert command in page, command


def test_main_command_installs_what_the_demo_uses():
    main, _ = _install_commands()
    extras = re.search(r'pip install -e "\.\[([^\]]*)\]"', main).group(1).split(",")
    assert {"brian2", "plot"} <= set(extras)  # validation step and figures


def test_test_command_installs_what_every_default_test_needs():
    """CI runs the README's command; a marker whose extra it lacks would be skipped there."""
    _, tests = _install_commands()
    extras = re.search(r'pip install -e "\.\[([^\]]*)\]"', tests).group(1).split(",")
    # brian2 and notebook need the test extra, docs the docs extra (tests/conftest.py)
    assert {"test", "docs"} <= set(extras), extras


def test_readme_figure_exists():
    for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README, flags=re.S):
        assert (ROOT / target).is_file(), target


@pytest.mark.brian2
def test_python_tour_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    blocks = _blocks("python")
    assert len(blocks) == 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert "PASS" in out  # the validation table's verdict
    assert (tmp_path / "model.nc").is_file() and (tmp_path / "timing.nc").is_file()
    assert 0.0 <= namespace["metrics"]["wiring_cost"].item()
