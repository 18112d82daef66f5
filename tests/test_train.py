import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import xarray as xr

from spatialsnn import load
from spatialsnn.cli import main
from spatialsnn.train import TrainConfig, train

TINY = dict(
    task="timing",
    task_params=dict(n_train=96, n_test=32, n_steps=70, max_interval=40, n_channels=8),
    n_hidden=12,
    batch_size=16,
    epochs=3,
    patience=0,
    max_delay=60.0,
    position_lr=50.0,
)


def test_train_writes_model_with_history_and_config(tmp_path):
    out = tmp_path / "m.nc"
    result = train(TINY, out, progress=False)
    assert result.path == out and out.exists()
    assert not (tmp_path / "m.nc.ckpt").exists()
    ds = xr.open_dataset(out, engine="h5netcdf")
    assert ds["history_test_accuracy"].sizes["epoch"] == 3
    cfg = json.loads(ds.attrs["training_config"])
    assert cfg["condition"] == "spatial" and cfg["data"]["task"] == "timing"
    ds.close()
    model = load(out)
    for a, b in zip(model.parameters(), result.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_positions_move_during_training(tmp_path):
    cfg = TrainConfig(**{**TINY, "epochs": 1})
    from spatialsnn.train import Trainer

    trainer = Trainer(cfg, progress=False)
    before = trainer.model.positions.detach().clone()
    trainer.fit()
    assert (trainer.model.positions.detach() - before).abs().max() > 1.0  # µm


@pytest.mark.parametrize("condition", ["none", "free", "spatial+cost"])
def test_conditions_train(condition):
    result = train({**TINY, "epochs": 1, "condition": condition}, progress=False)
    assert len(result.history["train_loss"]) == 1
    if condition == "free":
        assert result.model.rec_delay is not None


def test_resume_after_a_crash_is_bitwise_identical(tmp_path, monkeypatch):
    from spatialsnn.train import Trainer

    reference = train(TINY, tmp_path / "a.nc", progress=False)
    out = tmp_path / "b.nc"
    calls = {"n": 0}
    original = Trainer._train_epoch

    def crash_on_third(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated kill")
        return original(self)

    monkeypatch.setattr(Trainer, "_train_epoch", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        train(TINY, out, progress=False)
    assert (tmp_path / "b.nc.ckpt").exists() and not out.exists()
    monkeypatch.setattr(Trainer, "_train_epoch", original)
    resumed = train(TINY, out, resume=True, progress=False)
    for (name, a), b in zip(
        reference.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    for key in reference.history:
        if key != "epoch_seconds":
            assert reference.history[key] == resumed.history[key], key


def test_killed_process_resumes_to_the_same_state(tmp_path):
    """A real SIGKILL in the middle of training, then --resume."""
    cfg = {**TINY, "epochs": 6}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    out = tmp_path / "k.nc"
    cmd = [sys.executable, "-m", "spatialsnn", "train", "--config", str(tmp_path / "cfg.json"),
           "--out", str(out), "--no-progress", "--threads", "1"]  # fmt: skip
    log = (tmp_path / "stderr.txt").open("w")  # a file, not a pipe nobody drains
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    ckpt = tmp_path / "k.nc.ckpt"
    deadline = time.monotonic() + 240
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    log.close()
    assert ckpt.exists(), (tmp_path / "stderr.txt").read_text()[-3000:]
    assert not out.exists()
    rc = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=600)
    assert rc.returncode == 0, rc.stderr
    torch.set_num_threads(1)
    try:
        reference = train(cfg, tmp_path / "ref.nc", progress=False)
    finally:
        torch.set_num_threads(os.cpu_count() or 1)
    resumed = load(out)
    for a, b in zip(reference.model.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


def test_resume_refuses_a_different_configuration(tmp_path, monkeypatch):
    from spatialsnn.train import Trainer

    out = tmp_path / "c.nc"
    monkeypatch.setattr(
        Trainer, "_train_epoch", lambda self: (_ for _ in ()).throw(KeyboardInterrupt())
    )
    with pytest.raises(KeyboardInterrupt):
        train({**TINY, "epochs": 1}, out, progress=False)
    # the checkpoint exists only after one finished epoch: make one
    monkeypatch.undo()
    trainer = Trainer(TrainConfig(**TINY), progress=False)
    torch.save(trainer.state(), tmp_path / "c.nc.ckpt")
    with pytest.raises(ValueError, match="different configuration.*lr"):
        train({**TINY, "lr": 0.5}, out, resume=True, progress=False)


def test_cli_config_file_equals_flags(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text(
        'task = "timing"\nn_hidden = 12\nbatch_size = 16\nepochs = 1\npatience = 0\n'
        "max_delay = 60.0\n[task_params]\nn_train = 64\nn_test = 16\nn_steps = 70\n"
        "max_interval = 40\nn_channels = 8\n"
    )
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    assert main(["train", "--config", str(toml), "--out", str(a), "--no-progress"]) == 0
    flags = ["--task", "timing", "--n-hidden", "12", "--batch-size", "16", "--epochs", "1",
             "--patience", "0", "--max-delay", "60", "--task-param", "n_train=64",
             "--task-param", "n_test=16", "--task-param", "n_steps=70",
             "--task-param", "max_interval=40", "--task-param", "n_channels=8"]  # fmt: skip
    assert main(["train", *flags, "--out", str(b), "--no-progress"]) == 0
    cfg = {}
    for path in (a, b):
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            cfg[path.name] = json.loads(ds.attrs["training_config"])
            cfg[path.name].pop("data")
    assert cfg["a.nc"] == cfg["b.nc"]
    assert torch.equal(load(a).w_rec, load(b).w_rec)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--condition", "best"], "invalid choice"),
        (["--epochs", "0"], "epochs must be an integer >= 1"),
        (["--task", "mnist"], "task must be one of"),
        (["--task", "mnist"], "'shd', 'ssc'"),  # the message lists every accepted task
        (["--task-param", "n_train"], "KEY=VALUE"),
        (["--task-param", "colour=3"], "does not take the task parameter(s) colour"),
        (["--config", "/nonexistent.toml"], "no such file"),
    ],
)
def test_cli_bad_options(tmp_path, capsys, argv, message):
    try:
        rc = main(["train", "--out", str(tmp_path / "x.nc"), *argv])
    except SystemExit as exc:  # argparse usage errors
        rc = exc.code
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.nc").exists()


def test_data_parallel_matches_single_process(tmp_path):
    """Two gloo processes with half the global batch each == one process."""
    cfg = {**TINY, "epochs": 2, "dtype": "float64"}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    out = tmp_path / "ddp.nc"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", "29517", "-m", "spatialsnn", "train", "--config",
           str(tmp_path / "cfg.json"), "--out", str(out), "--no-progress",
           "--threads", "1"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert rc.returncode == 0, rc.stderr[-3000:]
    single = train(cfg, progress=False)
    ddp = load(out)
    assert single.history["hidden_rate_hz"][-1] > 0
    assert single.history["hidden_rate_max_hz"][-1] >= single.history["hidden_rate_hz"][-1]
    for name, param in single.model.named_parameters():
        other = dict(ddp.named_parameters())[name].double()
        torch.testing.assert_close(param.detach(), other, rtol=1e-5, atol=1e-6)
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert json.loads(ds.attrs["training_config"])["world_size"] == 2
        torch.testing.assert_close(
            torch.tensor(ds["history_train_loss"].values),
            torch.tensor(single.history["train_loss"], dtype=torch.float64),
        )


def test_shd_path_end_to_end(tmp_path):
    """Train one epoch on generated files in SHD's exact layout, save, load, info."""
    from spatialsnn.data import write_shd_like

    data = tmp_path / "shd"
    data.mkdir()
    write_shd_like(data / "shd_train.h5", n_samples=40, n_classes=4, n_channels=50,
                   duration=0.2, seed=1, template_seed=0)  # fmt: skip
    write_shd_like(data / "shd_test.h5", n_samples=16, n_classes=4, n_channels=50,
                   duration=0.2, seed=2, template_seed=0)  # fmt: skip
    out = tmp_path / "shd.nc"
    cfg = dict(task="shd", data_path=str(data), task_params=dict(n_steps=200), n_hidden=10,
               epochs=1, batch_size=16, patience=0, max_delay=50.0, augment={})  # fmt: skip
    result = train(cfg, out, progress=False)
    assert result.model.hparams["n_in"] == 50 and result.model.hparams["n_out"] == 4
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        info = json.loads(ds.attrs["training_config"])["data"]
    assert info["source"] == "shd"
    model = load(out)
    x = torch.zeros(2, 200, 50)
    assert model.eval()(x).logits.shape == (2, 4)
    assert main(["info", str(out)]) == 0


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).resolve().parent.parent / "models").glob("*.toml")), ids=str
)
def test_shipped_configs_are_valid(path):
    """Every configuration in models/ is one ``spatialsnn train --config`` accepts."""
    from spatialsnn.train import config_from_file

    values = config_from_file(path)
    config = TrainConfig.from_dict(values)
    assert set(values) <= set(config.to_dict())  # no key silently ignored
    assert config.task in ("timing", "randman", "shd", "ssc")


def test_train_help_states_every_default(capsys):
    """Options whose default depends on others say so instead of printing None."""
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default: None" not in text
    assert "default: 1e-05 for --condition spatial+cost, else 0" in text


def test_model_kwargs_cannot_override_the_configuration():
    with pytest.raises(ValueError, match="dt cannot be set there"):
        TrainConfig(model_kwargs={"dt": 0.5})
    assert TrainConfig(model_kwargs={"init_extent": 50.0}).model_kwargs == {"init_extent": 50.0}


@pytest.mark.parametrize("where", ["directory", "under_a_file"])
def test_unwritable_output_is_refused_before_training(tmp_path, capsys, monkeypatch, where):
    import spatialsnn.train

    def no_training(*args, **kwargs):
        raise AssertionError("training started although the output cannot be written")

    monkeypatch.setattr(spatialsnn.train, "Trainer", no_training)
    if where == "directory":
        out = tmp_path / "existing.nc"
        out.mkdir()
    else:
        (tmp_path / "file.txt").write_text("")
        out = tmp_path / "file.txt" / "model.nc"
    before = sorted(tmp_path.rglob("*"))
    assert main(["train", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert ("is a directory" if where == "directory" else "is not a directory") in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert sorted(tmp_path.rglob("*")) == before  # no checkpoint, no temporary file
