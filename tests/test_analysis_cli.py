"""``spatialsnn analyze`` on a small saved (untrained) model (issue 6)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import spatialsnn
from spatialsnn.cli import main
from spatialsnn.data import make_task


@pytest.fixture
def model_file(tmp_path):
    params = dict(
        n_channels=8, n_classes=3, n_steps=40, min_interval=5, max_interval=20, n_train=4, n_test=12
    )
    train, _ = make_task("timing", seed=0, **params)
    model = spatialsnn.SpatialSNN(n_in=8, n_hidden=16, n_out=3, seed=0, w_rec_std=0.3)
    return spatialsnn.save(model, tmp_path / "m.nc", training_config={"data": train.info})


def test_analyze_writes_metrics_plots_and_json(model_file, tmp_path, capsys):
    out, plots = tmp_path / "metrics.nc", tmp_path / "plots"
    argv = ["analyze", str(model_file), "--out", str(out), "--json", "--permutations", "20"]
    assert main([*argv, "--plots", str(plots)]) == 0
    values = json.loads(capsys.readouterr().out)
    assert 0.0 <= values["accuracy"] <= 1.0 and "modularity_q_mean" in values
    with xr.open_dataset(out, engine="h5netcdf") as m:
        assert m.attrs["n_samples"] == 12
        assert m["tuning"].dims == ("neuron", "class") and m["wiring_cost"].attrs["units"] == "um"
        assert m["pruned_accuracy"].dims == ("criterion", "fraction")
    names = {p.name for p in plots.iterdir()}
    assert names == {"positions.png", "distributions.png", "input_map.png", "raster.png"}


def test_analyze_with_npz_data_and_bad_inputs(model_file, tmp_path, capsys):
    rng = np.random.default_rng(0)
    npz = tmp_path / "d.npz"
    np.savez(npz, x=(rng.random((6, 30, 8)) < 0.1).astype(np.uint8), y=np.arange(6) % 3)
    assert (
        main(
            ["analyze", str(model_file), "--data", str(npz), "--no-pruning", "--permutations", "10"]
        )
        == 0
    )
    capsys.readouterr()
    bad = tmp_path / "bad.nc"
    bad.write_text("not a model")
    assert main(["analyze", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.nc" in err
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, x=np.zeros((2, 10, 5), np.uint8), y=np.zeros(2, int))
    assert main(["analyze", str(model_file), "--data", str(wrong)]) == 2
    assert "channels" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "missing.nc")]) == 2


def test_sweep_builds_condition_by_seed_dataset(tmp_path):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "sweep", Path(__file__).parents[1] / "analysis" / "sweep.py"
    )
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    for cond, seed in (("spatial", 0), ("none", 1)):
        model = spatialsnn.SpatialSNN(n_in=4, n_hidden=10, n_out=2, seed=seed, w_rec_std=0.3)
        spatialsnn.save(model, tmp_path / f"{cond}-seed{seed}.nc")
    assert (
        sweep.main(
            [
                str(tmp_path),
                "--out",
                str(tmp_path / "s" / "s.nc"),
                "--md",
                str(tmp_path / "s" / "s.md"),
                "--permutations",
                "5",
            ]
        )
        == 0
    )
    with xr.open_dataset(tmp_path / "s" / "s.nc", engine="h5netcdf") as ds:
        assert ds["modularity"].dims == ("condition", "seed")
        assert list(ds["condition"].values) == ["none", "spatial"]
        assert np.isnan(ds["modularity"].sel(condition="none", seed=0))  # missing combination
        assert np.isfinite(ds["modularity"].sel(condition="spatial", seed=0))
    assert "| spatial | " in (tmp_path / "s" / "s.md").read_text()


def test_plots_leave_the_matplotlib_backend_alone(model_file, tmp_path):
    """A notebook's inline backend must survive spatialsnn's figures (they use no pyplot)."""
    matplotlib = pytest.importorskip("matplotlib")
    from spatialsnn.analysis import analyze, connectivity, load_model, spike_rasters
    from spatialsnn.analysis.plots import plot_all

    model, _ = load_model(model_file)
    _, test = make_task("timing", seed=0, n_channels=8, n_classes=3, n_steps=40, n_train=4,
                        n_test=6, min_interval=5, max_interval=20)  # fmt: skip
    metrics, _ = analyze(model, test, n_perm=10, prune_fractions=None)
    rasters = spike_rasters(model, test, brian2=False)
    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        paths = plot_all(metrics, connectivity(model), rasters, tmp_path / "figs")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    assert len(paths) == 4 and all(p.stat().st_size > 1000 for p in paths)
