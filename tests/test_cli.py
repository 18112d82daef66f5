"""The ``spatialsnn`` command line: ``info``, ``--version``, exit codes and error messages."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import spatialsnn
from spatialsnn.cli import main

HISTORY = {"train_loss": [2.5, 1.25, 0.75], "test_accuracy": [0.25, 0.5, 0.625]}


def _model(seed=3, **kw):
    args = dict(dims=2, velocity=250.0, init_extent=600.0, dt=1.0, max_delay=3.0, seed=seed)
    args.update(kw)
    return spatialsnn.SpatialSNN(12, 10, 3, **args)


def _steps_numpy(positions, velocity, dt):
    p = np.asarray(positions, dtype=np.float64)
    dist = np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1))
    return np.floor(dist / velocity / dt + 0.5)


@pytest.fixture
def model_file(tmp_nc):
    spatialsnn.save(_model(), tmp_nc, history=HISTORY)
    return tmp_nc


def _error_line(capsys, code, *fragments):
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err  # one line
    assert err.startswith("spatialsnn info: error: ")
    for fragment in fragments:
        assert fragment in err
    return err


def test_info_prints_sizes_velocity_and_history(model_file, capsys):
    assert main(["info", str(model_file)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert str(model_file) in out
    assert "spatialsnn-model v2" in out
    assert "12 inputs -> 10 hidden (recurrent) -> 3 outputs, 2-D positions" in out
    assert re.search(r"velocity\s+250 um/ms \(0\.25 m/s\)", out)
    assert re.search(r"max delay\s+3 ms", out)
    assert re.search(r"history\s+3 epochs", out)
    assert re.search(r"epoch\s+train_loss\s+test_accuracy", out)
    assert re.search(r"^\s+2\s+1\.25\s+0\.5$", out, re.M)
    assert re.search(r"^\s+3\s+0\.75\s+0\.625$", out, re.M)


def test_info_without_history_says_so(tmp_nc, capsys):
    spatialsnn.save(_model(), tmp_nc)
    assert main(["info", str(tmp_nc)]) == 0
    assert re.search(r"history\s+none recorded", capsys.readouterr().out)


def test_info_json(model_file, capsys):
    assert main(["info", str(model_file), "--json"]) == 0
    desc = json.loads(capsys.readouterr().out)
    assert {"file", "format", "sizes", "parameters", "epochs", "history"} <= desc.keys()
    assert desc["file"] == str(model_file)
    assert desc["format"] == "spatialsnn-model v2"
    assert desc["spatialsnn_version"] == spatialsnn.__version__
    assert desc["sizes"] == {"n_in": 12, "n_hidden": 10, "n_out": 3, "dims": 2}
    assert desc["delays"] == "spatial"
    assert desc["parameters"]["velocity"] == {"value": 250.0, "units": "um/ms"}
    assert desc["parameters"]["dt"] == {"value": 1.0, "units": "ms"}
    assert desc["parameters"]["max_delay"] == {"value": 3.0, "units": "ms"}
    assert desc["epochs"] == 3
    assert desc["history"] == HISTORY

    # delay statistics, recomputed here from the positions with numpy
    model = _model()
    raw = _steps_numpy(model.positions.detach(), 250.0, 1.0)
    steps = desc["recurrent_delay_steps"]
    assert steps["n_clamped"] == int((raw > 3).sum()) > 0
    assert steps["max"] == 3 and steps["min"] == 0
    p = model.positions.detach().double().numpy()
    delay_ms = np.sqrt(((p[:, None] - p[None]) ** 2).sum(-1)) / 250.0
    assert desc["recurrent_delay_ms"]["max"] == pytest.approx(delay_ms.max(), rel=1e-6)


def test_info_on_a_file_without_the_optional_delay_steps(model_file, tmp_path, capsys):
    with xr.open_dataset(model_file, engine="h5netcdf") as handle:
        ds = handle.load()
    path = tmp_path / "nosteps.nc"
    ds.drop_vars("delay_steps_hidden_hidden").to_netcdf(path, engine="h5netcdf")
    assert main(["info", str(path), "--json"]) == 0
    steps = json.loads(capsys.readouterr().out)["recurrent_delay_steps"]
    raw = _steps_numpy(ds["position_hidden"].values, 250.0, 1.0)
    assert steps["max"] == 3 and steps["n_clamped"] == int((raw > 3).sum())
    assert steps["median"] == float(np.median(np.clip(raw, 0, 3)))


def test_info_missing_file(tmp_path, capsys):
    path = tmp_path / "absent.nc"
    code = main(["info", str(path)])
    _error_line(capsys, code, str(path), "no such file")


def test_info_corrupt_file(tmp_path, capsys):
    path = tmp_path / "corrupt.nc"
    path.write_bytes(np.random.default_rng(5).bytes(2048))
    code = main(["info", str(path), "--json"])
    _error_line(capsys, code, str(path), "cannot be read as a netCDF4/HDF5 file")


def test_info_truncated_file(model_file, capsys):
    data = model_file.read_bytes()
    model_file.write_bytes(data[: len(data) // 2])
    code = main(["info", str(model_file)])
    _error_line(capsys, code, str(model_file), "truncated")


def test_info_invalid_model_file(model_file, tmp_path, capsys):
    with xr.open_dataset(model_file, engine="h5netcdf") as handle:
        ds = handle.load()
    ds["velocity"] = ds["velocity"].copy(data=np.float64(-1.0))
    path = tmp_path / "negative.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    code = main(["info", str(path)])
    _error_line(capsys, code, str(path), "velocity must be positive")


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"spatialsnn {spatialsnn.__version__}\n"


@pytest.mark.parametrize("argv", [[], ["info"], ["frobnicate"]])
def test_usage_errors_exit_with_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "usage: spatialsnn" in err
    assert err.count("\n") == 1 and "Traceback" not in err  # one line


def test_python_dash_m_spatialsnn_info(model_file):
    result = subprocess.run(
        [sys.executable, "-m", "spatialsnn", "info", str(model_file), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    desc = json.loads(result.stdout)
    assert desc["sizes"]["n_hidden"] == 10
    assert desc["epochs"] == 3


def test_python_dash_m_spatialsnn_missing_file_has_no_traceback(tmp_path):
    path = tmp_path / "absent.nc"
    result = subprocess.run(
        [sys.executable, "-m", "spatialsnn", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"spatialsnn info: error: {path}: no such file\n"
