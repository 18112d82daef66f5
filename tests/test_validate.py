"""``spatialsnn validate``: data, comparisons, criteria, exit codes (export: test_export.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import PAPER_MODEL, SHIPPED_MODEL, TASK, run_cli, small_model

import spatialsnn
from spatialsnn.data import make_task
from spatialsnn.validate import (
    Criteria,
    ValidationInputError,
    delay_statistics,
    load_data,
    random_counts,
    spike_agreement,
    upsample_counts,
)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    """A model file that records the synthetic data set it was 'trained' on."""
    train, _ = make_task("timing", seed=3, **TASK)
    path = tmp_path / "model.nc"
    spatialsnn.save(small_model(), path, training_config={"data": train.info})
    return path


@pytest.fixture
def fresh_file(tmp_path: Path) -> Path:
    """A model file without recorded data (a freshly initialised model)."""
    path = tmp_path / "fresh.nc"
    spatialsnn.save(small_model(seed=2), path)
    return path


# ----------------------------------------------------------------- pure functions


def test_spike_agreement_by_hand():
    a = np.zeros((10, 2), dtype=bool)
    b = np.zeros((10, 2), dtype=bool)
    assert spike_agreement(a, 1.0, b, 1.0, 1.0) == 1.0  # both silent
    a[[2, 5], 0] = True
    b[[3, 9], 0] = True  # 3 pairs with 2 (|1| <= 1); 9 has no partner; 5 neither
    assert spike_agreement(a, 1.0, b, 1.0, 1.0) == pytest.approx(2 * 1 / 4)
    assert spike_agreement(a, 1.0, b, 1.0, 0.5) == 0.0
    assert spike_agreement(a, 1.0, a, 1.0, 0.0) == 1.0
    # one-to-one: two spikes of a cannot both pair with one spike of b
    c = np.zeros((10, 1), dtype=bool)
    d = np.zeros((10, 1), dtype=bool)
    c[[4, 5], 0] = True
    d[4, 0] = True
    assert spike_agreement(c, 1.0, d, 1.0, 2.0) == pytest.approx(2 * 1 / 3)
    # different grids: step 30 at 0.1 ms is 3.0 ms, pairs with step 3 at 1 ms
    fine = np.zeros((100, 1), dtype=bool)
    fine[30, 0] = True
    coarse = np.zeros((10, 1), dtype=bool)
    coarse[3, 0] = True
    assert spike_agreement(fine, 0.1, coarse, 1.0, 0.0) == 1.0
    fine[30, 0], fine[36, 0] = False, True  # 3.6 ms
    assert spike_agreement(fine, 0.1, coarse, 1.0, 0.5) == 0.0
    assert spike_agreement(fine, 0.1, coarse, 1.0, 1.0) == 1.0


def test_upsample_counts_puts_the_count_at_the_first_substep():
    x = np.array([[[2], [0], [1]]])
    up = upsample_counts(x, 4)
    assert up.shape == (1, 12, 1)
    assert up[0, :, 0].tolist() == [2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    assert upsample_counts(x, 1) is x


def test_delay_statistics_by_hand():
    d = np.array([[0.0, 2.5], [1.2, 7.0]])  # ms; dt 1 -> steps 0, 3 (tie), 1, clamp at 5
    present = np.array([[True, True], [True, False]])
    twin = np.array([[0, 3], [1, 5]])
    brian = np.array([[0, 2], [1, 5]])
    s = delay_statistics(d, 1.0, 5, present, twin, brian)
    assert s["n_synapses"] == 3
    assert s["n_half_step_ties"] == 1
    assert s["n_clamped"] == 0
    assert s["steps_max"] == 3
    assert s["rounding_abs_max_steps"] == pytest.approx(0.5)
    assert s["rounding_abs_mean_steps"] == pytest.approx((0 + 0.5 + 0.2) / 3)
    assert s["n_twin_brian2_differ"] == 1
    s = delay_statistics(d, 1.0, 5, np.ones((2, 2), dtype=bool))
    assert s["n_clamped"] == 1 and s["steps_max"] == 5 and s["n_twin_brian2_differ"] is None


def test_random_counts_are_seeded_and_may_exceed_one():
    a = random_counts(4, 200, 30, rate_hz=100.0, dt=1.0, seed=7)
    b = random_counts(4, 200, 30, rate_hz=100.0, dt=1.0, seed=7)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.uint8 and a.max() >= 2
    assert abs(a.mean() - 0.1) < 0.01


def test_criteria_defaults_depend_on_precision():
    assert Criteria().resolved("float64") == {
        "min_identical": 0.99,
        "max_accuracy_diff": 0.5,
        "max_transfer_drop": 2.0,
    }
    assert Criteria().resolved("float32")["min_identical"] is None
    assert Criteria(1.0, 0.0, 5.0).resolved("float32") == {
        "min_identical": 1.0,
        "max_accuracy_diff": 0.0,
        "max_transfer_drop": 5.0,
    }


def test_load_data_recorded_random_and_files(tmp_path):
    train, test = make_task("timing", seed=3, **TASK)
    d = load_data(None, training_config={"data": train.info}, n_in=16, dt=1.0)
    np.testing.assert_array_equal(d.x, test.x.numpy())
    np.testing.assert_array_equal(d.y, test.y.numpy())
    assert d.source["source"] == "recorded"
    d = load_data(
        None, training_config={"data": train.info}, n_in=16, dt=1.0, split="train", samples=5
    )
    np.testing.assert_array_equal(d.x, train.x.numpy()[:5])
    d = load_data(None, training_config={}, n_in=16, dt=1.0, samples=3)
    assert d.source["source"] == "random" and d.y is None and d.x.shape[0] == 3
    assert "records no data" in d.description
    x = np.random.default_rng(0).integers(0, 3, (4, 20, 16))
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(4), dt=1.0)
    d = load_data(tmp_path / "d.npz", n_in=16, dt=1.0)
    np.testing.assert_array_equal(d.x, x)
    import xarray as xr

    xr.Dataset(
        {"x": (("sample", "time", "channel"), x), "y": ("sample", np.arange(4))}, attrs={"dt": 1.0}
    ).to_netcdf(tmp_path / "d.nc", engine="h5netcdf")
    d = load_data(tmp_path / "d.nc", n_in=16, dt=1.0)
    np.testing.assert_array_equal(d.x, x)
    np.testing.assert_array_equal(d.y, np.arange(4))


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"x": np.zeros((2, 10, 5))}, "5 channels but the model has 16"),
        ({"x": np.zeros((2, 10, 16)), "dt": 0.5}, "dt = 0.5 ms"),
        ({"x": -np.ones((2, 10, 16))}, ">= 0"),
        ({"x": np.full((2, 10, 16), 0.5)}, "whole numbers"),
        ({"x": np.zeros((10, 16))}, r"\[sample, time, channel\]"),
        ({"counts_typo": np.zeros((2, 10, 16))}, "no array 'x'"),
        ({"x": np.zeros((2, 10, 16)), "y": np.zeros(3, dtype=int)}, "labels"),
    ],
)
def test_load_data_refuses_data_that_does_not_fit(tmp_path, arrays, match):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValidationInputError, match=match):
        load_data(tmp_path / "bad.npz", n_in=16, dt=1.0)


# --------------------------------------------------------------- exit code 2 paths


def corrupt(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda tmp, m: [str(tmp / "missing.nc")], "no such file"),
        (lambda tmp, m: [str(corrupt(m))], "truncated or corrupt"),
        (lambda tmp, m: [str(m), "--data", str(tmp / "none.npz")], "none.npz: no such file"),
        (lambda tmp, m: [str(m), "--data", str(tmp / "d.txt")], "unknown data format"),
        (lambda tmp, m: [str(m), "--data", str(tmp / "wrong.npz")], "channels"),
        (lambda tmp, m: [str(m), "--data", str(tmp / "garbage.npz")], "cannot be read"),
        (lambda tmp, m: [str(m), "--dt", "0.3"], "must divide"),
        (lambda tmp, m: [str(m), "--samples", "0"], ""),
        (lambda tmp, m: [str(m), "--device", "gpu"], ""),
    ],
)
def test_bad_input_exits_2_with_one_message(tmp_path, model_file, capsys, make_args, message):
    (tmp_path / "d.txt").write_text("hello")
    (tmp_path / "garbage.npz").write_bytes(b"not a zip file at all")
    np.savez(tmp_path / "wrong.npz", x=np.zeros((2, 10, 7), dtype=np.uint8))
    code = run_cli(["validate", *make_args(tmp_path, model_file), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert message in err
    if message:
        assert len(err.strip().splitlines()) == 1


def test_not_a_model_file_exits_2(tmp_path, capsys):
    import xarray as xr

    xr.Dataset({"a": ("n", np.arange(3))}).to_netcdf(tmp_path / "x.nc", engine="h5netcdf")
    assert run_cli(["validate", str(tmp_path / "x.nc")]) == 2
    assert "not a spatialsnn model file" in capsys.readouterr().err


# ---------------------------------------------------------------- end to end (Brian2)


@pytest.mark.brian2
def test_validate_cli_passes_on_recorded_data_with_json_and_report(model_file, tmp_path, capsys):
    import xarray as xr

    report = tmp_path / "report.nc"
    code = run_cli(["validate", str(model_file), "--json", "--report", str(report)])
    out = capsys.readouterr().out
    assert code == 0
    s = json.loads(out)
    assert s["passed"] and not s["failures"]
    assert s["data"]["source"]["source"] == "recorded" and s["data"]["n_samples"] == 12
    assert s["agreement"]["identical_samples"] == 12
    assert s["agreement"]["n_spikes_twin"] == s["agreement"]["n_spikes_brian2"] > 100
    assert s["accuracy"]["twin"] == s["accuracy"]["brian2"]
    assert s["delays"]["hidden_hidden"]["n_twin_brian2_differ"] == 0
    assert s["timing"]["brian2_samples_per_s"] > 0
    with xr.open_dataset(report, engine="h5netcdf") as ds:
        ds = ds.load()
    assert ds.sizes["sample"] == 12 and ds.sizes["class"] == 4
    assert bool(ds["identical"].all())
    for name in ("first_divergence", "n_spikes_twin", "logits_brian2", "spike_agreement"):
        assert "units" in ds[name].attrs and "long_name" in ds[name].attrs
    assert ds["first_divergence"].attrs["units"] == "ms"
    assert int(ds["n_spikes_brian2"].sum()) == s["agreement"]["n_spikes_brian2"]
    assert json.loads(ds.attrs["summary"])["passed"] is True
    assert ds["label"].values.tolist() == make_task("timing", seed=3, **TASK)[1].y.tolist()


@pytest.mark.brian2
def test_validate_cli_table_and_random_fallback(fresh_file, capsys, monkeypatch):
    import spatialsnn.progress

    monkeypatch.setattr(spatialsnn.progress, "on_terminal", lambda stream=None: True)
    code = run_cli(["validate", str(fresh_file), "--samples", "4"])
    captured = capsys.readouterr()
    assert code == 0
    out = captured.out
    assert "records no data set" in out and "random Poisson" in out
    assert "identical spike trains" in out and "4 / 4" in out
    assert "4 network copies x 1 sample(s) per run" in out  # no more copies than samples
    assert "accuracy" in out and "n/a" in out  # no labels
    assert out.strip().splitlines()[-1].startswith("PASS")
    assert "validate (runtime)" in captured.err  # the progress bar, on a terminal
    monkeypatch.undo()
    assert run_cli(["validate", str(fresh_file), "--samples", "2"]) == 0
    assert "validate (runtime)" not in capsys.readouterr().err  # none in a log


@pytest.mark.brian2
def test_validate_cli_exits_1_when_brian2_disagrees(model_file, monkeypatch, capsys):
    from spatialsnn import brian2 as sb2

    real_run = sb2.Simulator.run

    def tampered(self, counts, progress=None):
        result = real_run(self, counts, progress)
        result.hidden_spikes[:, 10, 0] ^= True  # one flipped spike per sample
        return result

    monkeypatch.setattr(sb2.Simulator, "run", tampered)
    code = run_cli(["validate", str(model_file), "--no-progress", "--samples", "5"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL: identical spike trains in 0/5 samples" in out


def test_load_data_reads_an_shd_layout_file(tmp_path):
    from spatialsnn.data.shd import read_spike_file, write_shd_like

    path = write_shd_like(
        tmp_path / "mini.h5", n_samples=6, n_classes=3, n_channels=16, duration=0.2, seed=1
    )
    d = load_data(path, n_in=16, dt=1.0)
    x, y, _ = read_spike_file(path, dt=1.0)
    np.testing.assert_array_equal(d.x, x.numpy())
    np.testing.assert_array_equal(d.y, y.numpy())
    with pytest.raises(ValidationInputError, match="16 channels but the model has 20"):
        load_data(path, n_in=20, dt=1.0)


# ----------------------------------------------------------------- transfer


@pytest.mark.brian2
def test_validate_fine_step_fails_on_a_model_that_relies_on_the_grid(capsys):
    """The paper's neuron model (no refractory period): the task is lost at 0.1 ms."""
    code = run_cli(["validate", str(PAPER_MODEL), "--samples", "24", "--dt", "0.1",
                    "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    fail = out.strip().splitlines()[-1]
    assert fail.startswith("FAIL: transfer:") and "pp" in fail
    # ... while the simulation itself is faithful: twin and Brian2 agree at 0.1 ms
    assert "24 / 24 (100.00 %)" in out
    assert "hidden rate, mean (spikes/s)" in out


@pytest.mark.brian2
def test_transfer_drop_limit_is_an_option(capsys):
    args = ["validate", str(PAPER_MODEL), "--samples", "24", "--dt", "0.5", "--json"]
    assert run_cli([*args, "--max-transfer-drop", "100"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["criteria"]["max_transfer_drop"] == 100
    assert any(c.startswith("transfer:") for c in s["checks"])
    assert s["rates"]["brian2"]["mean_hz"] > 0
    assert s["rates"]["brian2"]["max_hz"] >= s["rates"]["brian2"]["mean_hz"]
    assert run_cli([*args, "--max-transfer-drop", "-1"]) == 2


@pytest.mark.brian2
def test_transfer_without_labels_counts_changed_predictions(fresh_file, capsys):
    code = run_cli(["validate", str(fresh_file), "--samples", "4", "--dt", "0.5", "--json"])
    s = json.loads(capsys.readouterr().out)
    transfer = [m for m in s["checks"] + s["failures"] if m.startswith("transfer:")]
    assert len(transfer) == 1 and "change their prediction" in transfer[0]
    assert code == (0 if s["passed"] else 1)


@pytest.mark.brian2
def test_faithful_runs_the_training_step_and_the_fine_ladder(model_file, capsys):
    code = run_cli(["validate", str(model_file), "--faithful", "--samples", "3",
                    "--no-progress", "--max-transfer-drop", "100"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("spatialsnn validate: ") == 3
    ladder = out[out.index("--faithful: accuracy vs simulation step") :].splitlines()
    rows = [line.split() for line in ladder[2:] if line.strip()]
    assert [r[0] for r in rows] == ["1", "0.1", "0.025"]
    assert all(r[-1] == "PASS" for r in rows)
    assert run_cli(["validate", str(model_file), "--faithful", "--dt", "0.5"]) == 2


@pytest.mark.brian2
def test_shipped_model_keeps_its_accuracy_at_a_fine_step(capsys):
    """The shipped model (refractory period, rates in range) passes the transfer check."""
    code = run_cli(["validate", str(SHIPPED_MODEL), "--samples", "48", "--dt", "0.1",
                    "--json"])  # fmt: skip
    s = json.loads(capsys.readouterr().out)
    assert code == 0, s["failures"]
    assert any(c.startswith("transfer:") for c in s["checks"])
    assert s["agreement"]["identical_samples"] == 48
    assert s["rates"]["brian2"]["mean_hz"] <= 50
    assert s["model"]["config"]["refractory"] == 2.0
