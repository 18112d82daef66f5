"""``spatialsnn info``: what a model was trained on and how well (issue 15)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import xarray as xr

import spatialsnn
from spatialsnn.cli import main
from spatialsnn.summary import describe_file

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "timing-spatial.nc"


def test_info_of_the_shipped_model_names_task_best_epoch_accuracies_and_time(capsys):
    assert main(["info", str(SHIPPED)]) == 0
    out = capsys.readouterr().out
    with xr.open_dataset(SHIPPED, engine="h5netcdf") as ds:
        best = json.loads(ds.attrs["training_config"])["best_epoch"]
        val = float(ds["history_val_accuracy"][best - 1])
        test = float(ds["history_test_accuracy"][best - 1])
        seconds = float(ds["history_epoch_seconds"].sum())
    assert re.search(
        r"trained on\s+synthetic 'timing' task \(spatialsnn\.data\.make_task, seed 0", out
    )
    assert "1024 training and" in out and "512 test samples" in out
    assert re.search(rf"best epoch\s+{best} \(highest validation accuracy", out)
    assert re.search(
        rf"accuracy\s+validation {100 * val:.1f} % \(10 % of the training samples, held out\), "
        rf"test {100 * test:.1f} % \(best epoch\)",
        out,
    ), out
    assert re.search(rf"training time\s+{seconds:.1f} s", out)
    assert re.search(r"hidden rate\s+\d+\.\d spikes/s mean", out)


def test_a_file_without_training_record_says_not_recorded(tmp_nc, capsys):
    spatialsnn.save(spatialsnn.SpatialSNN(n_in=4, n_hidden=6, n_out=2, seed=0), tmp_nc)
    assert main(["info", str(tmp_nc)]) == 0
    out = capsys.readouterr().out
    for label in ("trained on", "best epoch", "accuracy", "training time"):
        assert re.search(rf"^  {label}\s+not recorded$", out, re.M), (label, out)


def test_older_history_without_times_or_validation(tmp_nc, capsys):
    """A history with test accuracy only: the rest is 'not recorded', not an error."""
    model = spatialsnn.SpatialSNN(n_in=4, n_hidden=6, n_out=2, seed=0)
    spatialsnn.save(
        model,
        tmp_nc,
        history={"test_accuracy": [0.5, 0.75]},
        training_config={"best_epoch": 2, "task": "timing"},
    )
    assert main(["info", str(tmp_nc)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"trained on\s+task 'timing' \(data source not recorded\)", out)
    assert re.search(r"accuracy\s+validation not recorded, test 75\.0 % \(best epoch\)", out)
    assert re.search(r"training time\s+not recorded", out)


def test_shd_source_and_json(tmp_nc):
    model = spatialsnn.SpatialSNN(n_in=4, n_hidden=6, n_out=2, seed=0)
    data = {"source": "shd", "split": "train", "dt": 1.0, "n_steps": 1000, "n_channels": 4,
            "path": "/data/shd"}  # fmt: skip
    history = {"val_accuracy": [0.4], "test_accuracy": [0.3], "epoch_seconds": [12.5]}
    spatialsnn.save(model, tmp_nc, history=history, training_config={"data": data, "best_epoch": 1})
    training = describe_file(tmp_nc)["training"]
    assert training["task"].startswith("Spiking Heidelberg Digits (SHD) from /data/shd")
    assert "1000 steps of 1 ms" in training["task"]
    assert training["best_epoch"] == 1
    assert (training["val_accuracy"], training["test_accuracy"]) == (0.4, 0.3)
    assert training["train_seconds"] == 12.5
    json.dumps(training)  # what `info --json` prints
