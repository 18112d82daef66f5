# ruff: noqa: E501 (a table of command lines and messages, one case per line)
"""The bad inputs of docs/bad-input.md: files to run them on, and one row per case.

Shared by ``tests/test_bad_input.py`` (one test per row, and a test that the page shows
exactly these rows) and the hypothesis suites.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

N_IN, N_HIDDEN, N_OUT = 16, 8, 4

#: The files the rows refer to (created in the working directory), and what they are.
FILES = {
    "m.nc": "a valid model file (16 inputs, 8 hidden neurons, 4 outputs, dt 1 ms)",
    "dir.nc": "a directory",
    "file.txt": "an ordinary file",
    "x.npz": "valid data for `m.nc`: `x` [2, 20, 16] counts, `y` [2] labels",
    "bad.npz": "`x` with two dims instead of three",
    "bad.toml": "a TOML file with a syntax error",
    "unknown.toml": "a TOML file with the unknown option `colour`",
    "swapped.nc": "`m.nc` with `weight_hidden_output` stored with dims (output, hidden)",
    "badjson.nc": "`m.nc` whose `training_config` attribute is not valid JSON",
    "stale.nc": "`m.nc` with 3 entries of `delay_steps_hidden_hidden` changed",
    "dt03.nc": "`m.nc` with `dt` edited to 0.3 ms",
    "micro.nc": "`m.nc` with positions in `µm` and velocity in `µm/ms`",
    "nc3.nc": "`m.nc` written as netCDF3 (classic format)",
    "empty.nc": "an empty file (0 bytes)",
    "truncated.nc": "the first half of `m.nc`",
    "nan.nc": "`m.nc` with one recurrent weight NaN",
    "future.nc": "`m.nc` with `format_version` 99",
    "corrupt.nc.ckpt": "the checkpoint of `corrupt.nc`: random bytes",
    "other.nc.ckpt": "the checkpoint of `other.nc`: made with `--lr 0.5`",
    "ckptdir.nc.ckpt": "a directory where the checkpoint of `ckptdir.nc` would go",
    "gpu.nc.ckpt": "the checkpoint of `gpu.nc`: computed with the `cuda` backend",
}


def _edit(src: Path, dst: Path, edit, engine: str = "h5netcdf") -> None:
    with xr.open_dataset(src, engine="h5netcdf") as handle:
        ds = handle.load()
    edit(ds)
    ds.to_netcdf(dst, engine=engine)


def _swap(ds):
    w = ds["weight_hidden_output"]
    ds["weight_hidden_output"] = xr.Variable(("output", "hidden"), w.values.T, w.attrs)


def _stale(ds):
    steps = ds["delay_steps_hidden_hidden"].values.copy()
    steps[0, 1] += 3
    steps[1, 2] += 1
    steps[2, 0] += 5
    ds["delay_steps_hidden_hidden"].values = steps


def _set(name, value):
    def edit(ds):
        ds[name] = ds[name].copy(data=np.asarray(value, dtype=ds[name].dtype))

    return edit


def _micro(ds):
    ds["position_hidden"].attrs["units"] = "\u00b5m"
    ds["velocity"].attrs["units"] = "\u00b5m/ms"


def _nan(ds):
    values = ds["weight_hidden_hidden"].values.copy()
    values[1, 2] = np.nan
    ds["weight_hidden_hidden"].values = values


def make_files(root: Path) -> None:
    """Create every file of :data:`FILES` in ``root``."""
    import spatialsnn
    from spatialsnn.checkpoint import atomic_save
    from spatialsnn.config import TrainConfig

    model = spatialsnn.SpatialSNN(N_IN, N_HIDDEN, N_OUT, velocity=100.0, max_delay=20.0, seed=1)
    m = root / "m.nc"
    spatialsnn.save(
        model,
        m,
        history={"train_loss": [1.4, 1.2], "test_accuracy": [0.3, 0.5]},
        training_config={"seed": 1, "lr": 0.003},
    )
    (root / "dir.nc").mkdir()
    (root / "file.txt").write_text("not a directory\n")
    rng = np.random.default_rng(0)
    np.savez(root / "x.npz", x=rng.poisson(0.2, (2, 20, N_IN)), y=np.array([0, 3]))
    np.savez(root / "bad.npz", x=np.zeros((2, 20)), y=np.array([0, 1]))
    (root / "bad.toml").write_text("epochs = [\n")
    (root / "unknown.toml").write_text('colour = "blue"\n')
    _edit(m, root / "swapped.nc", _swap)
    _edit(m, root / "badjson.nc", lambda ds: ds.attrs.update(training_config="{seed: 1"))
    _edit(m, root / "stale.nc", _stale)
    _edit(m, root / "dt03.nc", _set("dt", 0.3))
    _edit(m, root / "micro.nc", _micro)
    _edit(m, root / "nc3.nc", lambda ds: None, engine="scipy")
    (root / "empty.nc").write_bytes(b"")
    data = m.read_bytes()
    (root / "truncated.nc").write_bytes(data[: len(data) // 2])
    _edit(m, root / "nan.nc", _nan)
    _edit(m, root / "future.nc", lambda ds: ds.attrs.update(format_version=np.int32(99)))
    (root / "corrupt.nc.ckpt").write_bytes(rng.bytes(256))
    other = TrainConfig(lr=0.5).to_dict()
    atomic_save({"format": "spatialsnn-checkpoint", "config": other}, root / "other.nc.ckpt")
    (root / "ckptdir.nc.ckpt").mkdir()
    same = {"format": "spatialsnn-checkpoint", "config": TrainConfig().to_dict(), "backend": "cuda"}
    atomic_save(same, root / "gpu.nc.ckpt")
    assert {p.name for p in root.iterdir()} == set(FILES), "FILES and make_files disagree"


#: (command line after ``spatialsnn``, fragment of the one-line message, exit code).
ROWS: list[tuple[str, str, int]] = [
    # ------------------------------------------------------------------ train: every option
    ("train --out m.nc --dt 0", "dt must be a finite number > 0 (ms), got 0", 2),
    ("train --out m.nc --dt nan", "dt must be a finite number > 0 (ms), got nan", 2),
    ("train --out m.nc --dt x", "argument --dt: invalid float value: 'x'", 2),
    ("train --out m.nc --velocity -1", "velocity must be a finite number > 0 (um/ms)", 2),
    ("train --out m.nc --max-delay -5", "max_delay must be a finite number >= 0 (ms)", 2),
    ("train --out m.nc --max-delay 1e9 --dt 0.001", "max_delay / dt = 1e+12 steps", 2),
    ("train --out m.nc --tau-mem 0", "tau_mem must be a finite number > 0 (ms)", 2),
    ("train --out m.nc --tau-syn inf", "tau_syn must be a finite number > 0 (ms)", 2),
    ("train --out m.nc --refractory -1", "refractory must be a finite number >= 0 (ms)", 2),
    ("train --out m.nc --lr nan", "lr must be a finite number > 0, got nan", 2),
    ("train --out m.nc --position-lr 0", "position_lr must be a finite number > 0 (um per step)", 2),
    ("train --out m.nc --delay-lr -1", "delay_lr must be a finite number > 0 (ms per step)", 2),
    ("train --out m.nc --spike-reg -1", "spike_reg must be a finite number >= 0", 2),
    ("train --out m.nc --nu -1", "nu must be a finite number >= 0 (spikes per neuron and trial)", 2),
    ("train --out m.nc --l1 nan", "l1 must be a finite number >= 0", 2),
    ("train --out m.nc --rate-reg -1", "rate_reg must be a finite number >= 0 (per (spikes/s)^2)", 2),
    ("train --out m.nc --rate-range 50 10", "rate_range must be [low, high] spikes/s", 2),
    ("train --out m.nc --rate-range 5", "argument --rate-range: expected 2 arguments", 2),
    ("train --out m.nc --train-substeps 0", "train_substeps must be a non-empty list of positive integers", 2),
    ("train --out m.nc --connection-cost -1", "connection_cost must be a finite number >= 0", 2),
    ("train --out m.nc --cost-exponent 3", "cost_exponent must be one of (1, 2)", 2),
    ("train --out m.nc --cost-into-positions maybe", "argument --cost-into-positions: invalid choice: 'maybe'", 2),
    ("train --out m.nc --communicability-cost nan", "communicability_cost must be a finite number >= 0", 2),
    ("train --out m.nc --epochs 0", "epochs must be an integer >= 1", 2),
    ("train --out m.nc --batch-size 0", "batch_size must be an integer >= 1", 2),
    ("train --out m.nc --n-hidden 0", "n_hidden must be an integer >= 1", 2),
    ("train --out m.nc --dims 0", "dims must be an integer >= 1", 2),
    ("train --out m.nc --patience -1", "patience must be an integer >= 0", 2),
    ("train --out m.nc --val-fraction 1", "val_fraction must be in [0, 1)", 2),
    ("train --out m.nc --readout mean", "readout must be one of", 2),
    ("train --out m.nc --delay-mode nearest", "delay_mode must be one of", 2),
    ("train --out m.nc --backend gpu", "backend must be one of", 2),
    ("train --out m.nc --init xavier", "init must be one of ('auto', 'paper')", 2),
    ("train --out m.nc --dtype float16", "dtype must be one of ('float32', 'float64')", 2),
    ("train --out m.nc --task speech", "task must be one of", 2),
    ("train --out m.nc --condition random", "argument --condition: invalid choice: 'random'", 2),
    ("train --out m.nc --seed -1", "seed must be an integer >= 0, got -1", 2),
    ("train --out m.nc --data-seed 9007199254740992", "data_seed must be an integer < 2**53", 2),
    ("train --out m.nc --task shd --data-path nowhere", "data_path nowhere: no such file or directory", 2),
    ("train --out m.nc --data-path dir.nc", "data_path is for the data sets read from files", 2),
    ("train --out m.nc --task shd --task-param n_train=64", "task 'shd' does not take the task", 2),
    ("train --out m.nc --task-param n_train=-3", "task_params.n_train must be an integer >= 1", 2),
    ("train --out m.nc --task-param noise=nan", "task_params.noise must be a finite number >= 0", 2),
    ("train --out m.nc --task-param max_interval=95", "max_interval + spread + jitter (104) must be < n_steps (100)", 2),
    ("train --out m.nc --task-param n_train", "--task-param expects KEY=VALUE, got 'n_train'", 2),
    ("train --out m.nc --augment '[1, 2]'", "augment must be a table of options", 2),
    ("train --out m.nc --augment {", "--augment is not valid JSON", 2),
    ("train --out m.nc --augment '{\"shift\": -1}'", "augment: shift must be a non-negative integer", 2),
    ("train --out m.nc --threads 0", "argument --threads: must be an integer >= 1, got 0", 2),
    ("train --out m.nc --config nowhere.toml", "nowhere.toml: no such file", 2),
    ("train --out m.nc --config dir.nc", "dir.nc: cannot read: Is a directory", 2),
    ("train --out m.nc --config bad.toml", "bad.toml: cannot parse", 2),
    ("train --out m.nc --config unknown.toml", "unknown training options: colour", 2),
    ("train --out dir.nc", "output dir.nc is a directory", 2),
    ("train --out file.txt/m.nc", "output file.txt/m.nc: file.txt is not a directory", 2),
    ("train --out ckptdir.nc", "its checkpoint path ckptdir.nc.ckpt is a directory", 2),
    ("train --out corrupt.nc --resume", "corrupt.nc.ckpt: cannot be read as a checkpoint", 2),
    ("train --out other.nc --resume", "checkpoint was made with a different configuration (lr)", 2),
    ("train --out gpu.nc --resume", "gpu.nc.ckpt: checkpoint was computed with the 'cuda' backend", 2),
    ("train --dt 1", "the following arguments are required: --out", 2),
    # ------------------------------------------------------------------ validate
    ("validate nowhere.nc", "nowhere.nc: no such file", 2),
    ("validate dir.nc", "dir.nc: is a directory, not a model file", 2),
    ("validate badjson.nc", "training_config attribute is not valid JSON", 2),
    ("validate m.nc --dt 0.3", "--dt 0.3 ms must divide the model's dt 1 ms", 2),
    ("validate m.nc --dt 0", "argument --dt: must be a finite number > 0 (ms), got 0", 2),
    ("validate m.nc --faithful --dt 0.1", "--faithful runs its own ladder of steps", 2),
    ("validate m.nc --samples 0", "argument --samples: must be an integer >= 1, got 0", 2),
    ("validate m.nc --seed -1", "argument --seed: must be an integer >= 0", 2),
    ("validate m.nc --data nowhere.npz", "--data nowhere.npz: no such file", 2),
    ("validate m.nc --data x.npz --split train", "--split chooses a split of the model's recorded data", 2),
    ("validate m.nc --data x.npz --seed 3", "--seed seeds random input; not with --data FILE", 2),
    ("validate m.nc --split val", "argument --split: invalid choice: 'val'", 2),
    ("validate m.nc --device gpu", "argument --device: invalid choice: 'gpu'", 2),
    ("validate m.nc --device cpp_standalone --target cython", "--target chooses the code generation of --device runtime only", 2),
    ("validate m.nc --precision float16", "argument --precision: invalid choice: 'float16'", 2),
    ("validate m.nc --tolerance nan", "argument --tolerance: must be a finite number > 0 (ms)", 2),
    ("validate m.nc --min-identical 1.5", "argument --min-identical: must be a finite number >= 0 and <= 1", 2),
    ("validate m.nc --max-accuracy-diff nan", "argument --max-accuracy-diff: must be a finite number >= 0 and <= 100 (percentage points)", 2),
    ("validate m.nc --max-transfer-drop -1", "argument --max-transfer-drop: must be a finite number >= 0 and <= 100", 2),
    ("validate m.nc --jobs 0", "argument --jobs: must be an integer >= 1, got 0", 2),
    ("validate m.nc --batch 0", "argument --batch: must be an integer >= 1, got 0", 2),
    ("validate m.nc --build-dir out", "--build-dir is for the standalone devices only", 2),
    ("validate m.nc --device cpp_standalone --build-dir file.txt", "--build-dir file.txt exists and is not a directory", 2),
    ("validate m.nc --compute-capability 9.0", "--compute-capability is for --device cuda_standalone only", 2),
    ("validate m.nc --device cuda_standalone --compute-capability -1", "argument --compute-capability: must be a finite number > 0", 2),
    ("validate m.nc --report dir.nc", "--report: output dir.nc is a directory", 2),
    ("validate m.nc --report m.nc", "--report m.nc would overwrite m.nc", 2),
    ("validate m.nc --faithful --report file.txt/r.nc", "--report: output file.txt/r.nc: file.txt is not a directory", 2),
    # ------------------------------------------------------------------ export
    ("export m.nc", "the following arguments are required: --brian2-script", 2),
    ("export nowhere.nc --brian2-script net.py", "nowhere.nc: no such file", 2),
    ("export m.nc --brian2-script m.nc", "--brian2-script m.nc would overwrite m.nc", 2),
    ("export m.nc --brian2-script dir.nc", "--brian2-script: output dir.nc is a directory", 2),
    ("export m.nc --brian2-script net.py --data-file net.dat", "--data-file net.dat must end in .npz", 2),
    ("export m.nc --brian2-script net.npz", "--data-file net.npz would overwrite net.npz", 2),
    ("export m.nc --brian2-script dir.py", "--brian2-script (its model copy): output dir.nc is a directory", 2),
    ("export m.nc --brian2-script net.py --data-file x.npz --data x.npz", "--data-file x.npz would overwrite x.npz", 2),
    ("export m.nc --brian2-script net.py --samples 0", "argument --samples: must be an integer >= 1, got 0", 2),
    ("export m.nc --brian2-script net.py --seed -1", "argument --seed: must be an integer >= 0", 2),
    ("export m.nc --brian2-script net.py --split val", "argument --split: invalid choice: 'val'", 2),
    ("export m.nc --brian2-script net.py --data nowhere.npz", "--data nowhere.npz: no such file", 2),
    ("export m.nc --brian2-script net.py --data x.npz --split train", "--split chooses a split", 2),
    ("export swapped.nc --brian2-script net.py", "variable 'weight_hidden_output' has dims ('output', 'hidden'), expected ('hidden', 'output')", 2),
    # ------------------------------------------------------------------ analyze
    ("analyze nowhere.nc --no-data", "nowhere.nc: no such file", 2),
    ("analyze m.nc --data x.npz --no-data", "--data and --no-data exclude each other", 2),
    ("analyze m.nc --data nowhere.npz", "--data nowhere.npz: no such file", 2),
    ("analyze m.nc --data bad.npz", "bad.npz: x must be [sample, time, channel] spike counts", 2),
    ("analyze m.nc --no-data --out m.nc", "--out m.nc would overwrite m.nc", 2),
    ("analyze m.nc --no-data --out dir.nc", "--out: output dir.nc is a directory", 2),
    ("analyze m.nc --no-data --plots file.txt", "--plots file.txt exists and is not a directory", 2),
    ("analyze m.nc --samples 0", "argument --samples: must be an integer >= 1, got 0", 2),
    ("analyze m.nc --clusters 1", "argument --clusters: must be an integer >= 2, got 1", 2),
    ("analyze m.nc --no-data --clusters 9", "--clusters 9 is more than the 8 hidden neurons", 2),
    ("analyze m.nc --permutations -1", "argument --permutations: must be an integer >= 0, got -1", 2),
    ("analyze m.nc --seed -1", "argument --seed: must be an integer >= 0", 2),
    ("analyze m.nc", "no recorded training data; pass --data or --no-data", 2),
    # ------------------------------------------------------------------ demo
    ("demo --epochs 0", "argument --epochs: must be an integer >= 1, got 0", 2),
    ("demo --samples 0", "argument --samples: must be an integer >= 1, got 0", 2),
    ("demo --out dir.nc", "--out: output dir.nc is a directory", 2),
    ("demo --out file.txt/m.nc", "--out: output file.txt/m.nc: file.txt is not a directory", 2),
    ("demo --plots file.txt", "--plots file.txt exists and is not a directory", 2),
    # ------------------------------------------------------------------ model files (info)
    ("info nowhere.nc", "nowhere.nc: no such file", 2),
    ("info dir.nc", "dir.nc: is a directory, not a model file", 2),
    ("info empty.nc", "empty.nc: is empty (0 bytes), not a model file", 2),
    ("info truncated.nc", "truncated.nc: cannot be read as a netCDF4/HDF5 file (truncated or corrupt?)", 2),
    ("info file.txt", "file.txt: cannot be read as a netCDF4/HDF5 file", 2),
    ("info nc3.nc", "nc3.nc: is a netCDF3 (classic) file, but model files are netCDF4/HDF5", 2),
    ("info future.nc", "unknown format version 99", 2),
    ("info nan.nc", "variable 'weight_hidden_hidden' contains NaN or infinite values", 2),
    ("info swapped.nc", "variable 'weight_hidden_output' has dims ('output', 'hidden'), expected ('hidden', 'output') (weights are stored [pre, post])", 2),
    ("info badjson.nc", "badjson.nc: training_config attribute is not valid JSON", 2),
    ("info stale.nc", "warning: stale.nc: the stored derived variable 'delay_steps_hidden_hidden' disagrees with the delays implied by the positions, velocity and dt in 3 of 64 synapses (by up to 5 steps)", 0),
    ("info dt03.nc", "warning: dt03.nc: the stored derived variable 'delay_steps_hidden_hidden' disagrees", 0),
    ("info micro.nc", "", 0),
]  # fmt: skip


def page_row(argv: str, message: str, code: int) -> str:
    """The row of docs/bad-input.md for one case."""
    shown = f"`{message}`" if message else "(accepted: `µm` is `um`)"
    return f"| `spatialsnn {argv}` | {shown} | {code} |"
