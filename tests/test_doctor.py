"""``spatialsnn doctor``: the report, its JSON form, exit codes, and --no-build."""

from __future__ import annotations

import argparse
import json

from spatialsnn.commands import doctor
from spatialsnn.ops import _build


def run_doctor(argv, capsys):
    parser = argparse.ArgumentParser(prog="spatialsnn")
    doctor.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["doctor", *argv])
    code = args.func(args)
    return code, capsys.readouterr().out


def test_doctor_reports_backends_as_json(capsys):
    code, out = run_doctor(["--json"], capsys)
    report = json.loads(out)
    assert code == (0 if report["ok"] else 1)
    assert report["torch"]["version"]
    assert set(report["backends"]) == {"autograd", "reference", "cpu", "cuda"}
    assert report["backends"]["cpu"]["usable"], report["backends"]["cpu"]["detail"]
    assert report["backends"]["cpu"]["built"]
    assert report["auto"]["cpu"] == "cpu"
    assert report["cache"]["root"] == str(_build.cache_root())
    for key in ("nvcc", "cxx", "ninja"):
        assert key in report["toolchain"]


def test_doctor_text_report(capsys):
    code, out = run_doctor([], capsys)
    assert code == 0
    for word in ("torch", "nvcc", "cache", "backends", "cpu", "reference", "verdict"):
        assert word in out


def test_doctor_no_build_does_not_compile(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPATIALSNN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_build, "_LOADED", {})

    def refuse(*args, **kwargs):
        raise AssertionError("doctor --no-build must not compile")

    monkeypatch.setattr(_build, "_compile", refuse)
    code, out = run_doctor(["--no-build", "--json"], capsys)
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    cpu = report["backends"]["cpu"]
    assert not cpu["usable"] and not cpu["built"]
    assert "not built yet" in cpu["detail"]
    assert report["auto"]["cpu"] == "reference"


def test_doctor_reports_a_broken_build(monkeypatch, capsys):
    error = _build.KernelBuildError("could not build the spatialsnn cpu kernels (test)")
    monkeypatch.setattr(_build, "_LOADED", {"cpu": error})
    monkeypatch.setenv("SPATIALSNN_BACKEND", "reference")
    code, out = run_doctor([], capsys)
    assert code == 1
    assert "could not build" in out and "PROBLEM" in out
    assert "SPATIALSNN_BACKEND=reference" in out
