"""Training is bitwise reproducible on the CPU beside a CPU hog and across kill -9 / --resume.

The slow test trains a short run three times in fresh processes: uninterrupted (the
reference), uninterrupted beside busy processes that keep every core loaded, and beside
them killed with SIGKILL at a random moment and resumed. The three model files must be
bitwise identical (every variable and attribute; only the ``created`` time stamp and the
per-epoch wall times differ by nature). ``benchmarks/reproducibility.py`` runs ten such
kill/resume trials on the default configuration and prints the table in
docs/training.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "reproducibility.py"
TINY = dict(
    task="timing",
    task_params=dict(n_train=160, n_test=48, n_steps=70, max_interval=40, n_channels=8),
    n_hidden=16,
    batch_size=16,
    epochs=4,
    patience=0,
    max_delay=60.0,
    position_lr=50.0,
)


def _bench():
    spec = importlib.util.spec_from_file_location("reproducibility", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_comparison_sees_a_changed_bit_and_ignores_the_time_stamps(tmp_path):
    import numpy as np
    import xarray as xr

    import spatialsnn

    bench = _bench()
    model = spatialsnn.SpatialSNN(8, 6, 2, seed=0)
    a = spatialsnn.save(model, tmp_path / "a.nc", history={"epoch_seconds": [1.0]})
    b = spatialsnn.save(model, tmp_path / "b.nc", history={"epoch_seconds": [2.0]})
    assert bench.compare(a, b) == (True, "identical")  # created and wall times differ
    with xr.open_dataset(b, engine="h5netcdf") as ds:
        ds = ds.load()
    w = ds["weight_hidden_hidden"].values.copy()
    w.view(np.uint32)[2, 3] ^= 1  # one bit of one weight
    ds["weight_hidden_hidden"].values = w
    ds.to_netcdf(tmp_path / "c.nc", engine="h5netcdf")
    same, detail = bench.compare(a, tmp_path / "c.nc")
    assert not same and "weight_hidden_hidden" in detail


@pytest.mark.slow
def test_training_is_bitwise_reproducible_beside_a_hog_and_after_kill_and_resume(tmp_path):
    bench = _bench()
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY))
    reference = tmp_path / "reference.nc"
    seconds = bench.run(bench.train_command(config, reference, None), tmp_path / "ref.log")
    with bench.Hog(os.cpu_count() or 1):
        hogged = tmp_path / "hogged.nc"
        bench.run(bench.train_command(config, hogged, None), tmp_path / "hogged.log")
        killed = tmp_path / "killed.nc"
        moment = random.Random(0).uniform(0.2, 1.0) * seconds  # beside the hog: slower
        trial = bench.kill_and_resume(config, killed, None, moment)
    assert not trial["finished_before_kill"], trial
    assert bench.compare(reference, hogged) == (True, "identical")
    assert bench.compare(reference, killed) == (True, "identical"), trial
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith((".ckpt", ".tmp"))]
