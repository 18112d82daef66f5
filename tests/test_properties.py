"""Property-based tests (hypothesis) of the option parser and the model-file reader.

Properties:

* any command line of ``train``, ``validate``, ``export``, ``analyze`` and ``demo`` built
  from the command's own options with random values either passes every check (the work
  functions are replaced by a stub that stops there) or ends with exit code 2 and one
  line on stderr; never a traceback, never a changed file;
* any :class:`~spatialsnn.config.TrainConfig` built from random values is made or refused
  with one ``ValueError``;
* a valid model file with random corruptions (flipped bytes, truncation, dropped,
  reshaped or transposed variables, other dtypes, odd attributes) makes ``spatialsnn
  info`` (and ``spatialsnn.load``) exit 0 or exit 2 with one line; never a traceback,
  never a changed input file.

The number of examples is bounded so that the suite takes seconds
(``SPATIALSNN_HYPOTHESIS_EXAMPLES`` raises it), and the examples are derandomised so
that every CI run checks the same ones (``SPATIALSNN_HYPOTHESIS_RANDOM=1`` explores new
ones; what a deep random run found and how long it ran is in docs/bad-input.md).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from bad_input_cases import make_files
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from spatialsnn.cli import build_parser, main

EXAMPLES = int(os.environ.get("SPATIALSNN_HYPOTHESIS_EXAMPLES", "0"))
RANDOM = os.environ.get("SPATIALSNN_HYPOTHESIS_RANDOM", "") == "1"


def bounded(n: int):
    """Hypothesis settings: ``n`` examples (or the environment's), no database, no deadline."""
    return settings(
        max_examples=EXAMPLES or n,
        derandomize=not RANDOM,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        # no shrinking: a failing corrupted file is reported as found (shrinking one can
        # take many minutes), and the suite's time stays bounded
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("property-files")
    make_files(root)
    return root


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): "dir" if p.is_dir() else hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


class WorkStarted(Exception):
    """Raised by the stubs of the functions that do the work: every check passed."""


def _work(*args, **kwargs):
    raise WorkStarted


def outcome(argv: list[str], capsys) -> tuple[str, str, str]:
    """``("accepted" | exit code, stdout, stderr)`` of ``spatialsnn argv``."""
    try:
        code = str(main(argv))
    except WorkStarted:
        code = "accepted"
    except SystemExit as exit_:
        code = str(exit_.code)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_or_accepted(code: str, out: str, err: str) -> None:
    assert "Traceback" not in err, err
    if code == "accepted":
        return
    assert code in ("0", "2"), (code, err)
    lines = err.splitlines()
    if code == "2":
        assert out == "" and len(lines) == 1 and ": error: " in lines[0], err
    else:
        assert len(lines) <= 1 and all(": warning: " in line for line in lines), err


# ---------------------------------------------------------------------------- option parser

_FILES = ["m.nc", "dir.nc", "file.txt", "x.npz", "bad.npz", "bad.toml", "swapped.nc",
          "badjson.nc", "stale.nc", "nowhere.nc", "out/new.nc", "file.txt/x.nc", "."]  # fmt: skip
_NUMBERS = ["0", "1", "-1", "2", "0.5", "1e-3", "1e9", "nan", "inf", "-inf", "3", "100",
            "9007199254740993", "0.1", "0.3", "-0"]  # fmt: skip
_WORDS = ["", "x", "yes", "round", "cython", "float16", "{}", "[1]", '{"shift": 3}',
          "n_train=8", "noise=2", "spread=0", "=", "--", "\u00b5m"]  # fmt: skip


def _values(action: argparse.Action) -> st.SearchStrategy[list[str]]:
    """Values for one option: its choices and random text, numbers and file names."""
    one = st.one_of(
        st.sampled_from(list(action.choices)) if action.choices else st.nothing(),
        st.sampled_from(_NUMBERS),
        st.sampled_from(_WORDS),
        st.sampled_from(_FILES),
        st.integers(-(2**70), 2**70).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.text(max_size=8),
    )
    if action.nargs == 0:
        return st.just([])
    if isinstance(action.nargs, int):
        return st.lists(one, min_size=action.nargs, max_size=action.nargs)
    if action.nargs in ("+", "*"):
        return st.lists(one, min_size=1, max_size=3)
    return one.map(lambda v: [v])


def _subparser(name: str) -> argparse.ArgumentParser:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices[name]


@st.composite
def command_lines(draw, name: str) -> list[str]:
    parser = _subparser(name)
    optional = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    positional = [a for a in parser._actions if not a.option_strings]
    argv = [name]
    for _ in positional:
        argv.append(draw(st.sampled_from(_FILES)))
    for action in draw(st.lists(st.sampled_from(optional), max_size=5)):
        value = draw(_values(action))
        if any(v.startswith("-") and v not in _NUMBERS for v in value):
            continue  # a value that looks like an option is argparse's business, tested apart
        argv += [action.option_strings[-1], *value]
    if name in ("train", "demo") and "--out" not in argv:
        argv += ["--out", draw(st.sampled_from(["out.nc", *_FILES]))]
    if name == "export" and "--brian2-script" not in argv:
        argv += ["--brian2-script", draw(st.sampled_from(["net.py", *_FILES]))]
    return argv


@pytest.fixture
def stubbed(files, tmp_path, monkeypatch) -> Path:
    import spatialsnn.analysis
    import spatialsnn.export
    import spatialsnn.train
    import spatialsnn.validate

    work = tmp_path / "work"
    shutil.copytree(files, work)
    monkeypatch.chdir(work)
    monkeypatch.setattr(spatialsnn.train, "Trainer", _work)
    monkeypatch.setattr(spatialsnn.validate, "validate_file", _work)
    monkeypatch.setattr(spatialsnn.validate, "load_data", _work)
    monkeypatch.setattr(spatialsnn.export, "write_brian2_script", _work)
    monkeypatch.setattr(spatialsnn.analysis, "analyze", _work)
    return work


@pytest.mark.parametrize("name", ["train", "validate", "export", "analyze", "demo"])
def test_random_command_lines_are_accepted_or_refused_in_one_line(name, stubbed, capsys):
    before = snapshot(stubbed)

    @bounded(40)
    @given(argv=command_lines(name))
    def check(argv):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. the stale-steps warning; shown elsewhere
            code, out, err = outcome(argv, capsys)
        assert_one_line_or_accepted(code, out, err)
        assert snapshot(stubbed) == before, argv

    check()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip


def _train_fields() -> list[str]:
    import dataclasses

    from spatialsnn.config import TrainConfig

    return [f.name for f in dataclasses.fields(TrainConfig)]


@bounded(200)
@given(st.data())
def test_random_training_configurations_are_made_or_refused_with_one_value_error(data):
    from spatialsnn.config import TrainConfig

    values = data.draw(st.dictionaries(st.sampled_from(_train_fields()), _JSON, max_size=4))
    try:
        config = TrainConfig.from_dict(values)
    except ValueError as err:
        assert "\n" not in str(err)
    else:
        TrainConfig.from_dict(config.to_dict())  # a configuration that is made round-trips


# ---------------------------------------------------------------------------- model files


def _bytes_flipped(data: bytes, draw) -> bytes:
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(buf) - 1))
        buf[i] ^= draw(st.integers(1, 255))
    return bytes(buf)


_ODD = st.one_of(
    st.none(), st.text(max_size=12), st.integers(-(2**40), 2**40), st.floats(),
    st.sampled_from(["um", "\u00b5m", "ms", "m/s", "{}", "[]", '{"data": 3}', "null",
                     '{"n_in": 16, "n_hidden": 8, "n_out": 4, "dims": 2}']),
    st.lists(st.integers(0, 9), min_size=1, max_size=3).map(np.array),
)  # fmt: skip
_DTYPES = ["int8", "int64", "uint16", "float16", "float32", "float64", "complex64", "bool", "U3"]


def _edit_dataset(ds: xr.Dataset, draw) -> xr.Dataset:
    names = sorted(str(n) for n in ds.variables)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["drop", "reshape", "transpose", "dtype", "attr", "var_attr",
                                     "value", "extra"]))  # fmt: skip
        name = draw(st.sampled_from(names))
        if name not in ds.variables:
            continue
        var = ds[name]
        if kind == "drop":
            ds = ds.drop_vars(name)
        elif kind == "reshape" and var.dims:
            dim = draw(st.sampled_from(list(var.dims)))
            ds = ds.isel({dim: slice(0, draw(st.integers(0, max(0, ds.sizes[dim] - 1))))})
        elif kind == "transpose" and var.ndim == 2:
            ds[name] = xr.Variable(var.dims[::-1], var.values.T, var.attrs)
        elif kind == "dtype":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    ds[name] = var.astype(draw(st.sampled_from(_DTYPES)))
                except (ValueError, TypeError):  # e.g. the names of space as float16
                    continue
        elif kind == "attr":
            key = draw(st.sampled_from(["format", "format_version", "config", "training_config"]))
            value = draw(_ODD)
            if value is None:
                ds.attrs.pop(key, None)
            else:
                ds.attrs[key] = value
        elif kind == "var_attr":
            value = draw(_ODD)
            if value is None:
                ds[name].attrs.pop("units", None)
            else:
                ds[name].attrs["units"] = value
        elif kind == "value" and var.size and np.issubdtype(var.dtype, np.number):
            values = var.values.astype(np.float64)
            flat = values.reshape(-1)
            flat[draw(st.integers(0, flat.size - 1))] = draw(
                st.sampled_from([0, -1, 1e-300, 1e300, np.inf, np.nan, 3.7e9, 5e-324])
            )
            ds[name] = var.copy(data=values)  # as float64: an integer array cannot hold NaN
        elif kind == "extra":
            ds["extra"] = (("hidden",), np.zeros(ds.sizes.get("hidden", 1)))
    return ds


def corrupted_file(draw, original: bytes, dataset: xr.Dataset) -> tuple[str, object]:
    """A corruption of the model file ``original`` (its bytes) / ``dataset`` (its contents)."""
    kind = draw(st.sampled_from(["bytes", "truncate", "dataset"]))
    if kind == "bytes":
        return kind, _bytes_flipped(original, draw)
    if kind == "truncate":
        return kind, original[: draw(st.integers(0, len(original) - 1))]
    return kind, _edit_dataset(dataset.copy(deep=True), draw)


def _write(target: Path, corrupted: tuple[str, object]) -> bool:
    kind, payload = corrupted
    if kind != "dataset":
        target.write_bytes(payload)
        return True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "writing invalid netcdf features": on purpose
            payload.to_netcdf(target, engine="h5netcdf", invalid_netcdf=True)
    except Exception:  # xarray/h5netcdf cannot write every edit; such a file cannot exist
        return False
    return True


# h5netcdf's File.__del__ complains about a File whose creation failed above
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_random_corruptions_of_a_model_file_are_read_or_refused_in_one_line(
    files, tmp_path, capsys
):
    import spatialsnn
    from spatialsnn.io import ModelFileError

    original = (files / "m.nc").read_bytes()
    with xr.open_dataset(files / "m.nc", engine="h5netcdf") as handle:
        dataset = handle.load()

    @bounded(60)
    @given(data=st.data())
    def check(data):
        corrupted = corrupted_file(data.draw, original, dataset)
        path = tmp_path / "corrupt.nc"
        if path.exists():
            path.unlink()
        if not _write(path, corrupted):
            return
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        for argv in (["info", str(path)], ["info", str(path), "--json"]):
            code, out, err = outcome(argv, capsys)
            assert_one_line_or_accepted(code, out, err)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                spatialsnn.load(path)
            except ModelFileError as err:
                assert "\n" not in str(err) and str(path) in str(err)
        assert hashlib.sha1(path.read_bytes()).hexdigest() == digest  # never changed

    check()
