"""``spatialsnn export --brian2-script``: a Brian2 script generated for the model at hand.

The scripts run in a subprocess in which spatialsnn and torch cannot be imported, and
their spikes are compared with the twin's and with the Brian2 network that
``spatialsnn validate`` simulates.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from helpers import SHIPPED_MODEL, TASK, run_cli, run_isolated, small_model

import spatialsnn
from spatialsnn.data import make_task
from spatialsnn.geometry import DelayClampWarning


def twin_run(model, counts, substeps=1):
    """Hidden raster [sample, step, neuron] and logits of the float64 twin in eval mode."""
    twin = model.double().eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DelayClampWarning)
        out = twin(torch.from_numpy(counts.astype(np.float64)), substeps=substeps)
    return out.hidden_spikes.numpy() > 0.5, out.logits.numpy()


def export(model_path, out_dir, samples):
    """Export with the CLI; the script, model copy and input file."""
    script = out_dir / "net.py"
    code = run_cli(["export", str(model_path), "--brian2-script", str(script),
                    "--samples", str(samples)])  # fmt: skip
    assert code == 0
    with np.load(out_dir / "net.npz") as f:
        counts = f["counts"]
    return script, counts


def non_blank_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


@pytest.mark.brian2
def test_shipped_model_script_is_short_literal_and_spikes_like_validate(tmp_path):
    from spatialsnn.brian2 import Simulator, network_params

    script, counts = export(SHIPPED_MODEL, tmp_path / "export", samples=20)
    source = script.read_text()
    assert non_blank_lines(source) <= 120
    assert "spatialsnn" not in source.split('"""')[2] and "torch" not in source
    for literal in (
        'hidden_hidden.delay = "sqrt((x_pre - x_post)**2 + (y_pre - y_post)**2) / velocity"',
        '"""dv/dt = (I - v) / tau_mem : 1 (unless refractory)',
        'threshold="v >= theta"',
        'reset="v = 0"',
        "refractory=t_ref",
        'method="exact"',
        "SpikeMonitor(hidden)",
        'StateMonitor(output, "v", record=True, when="after_groups")',
    ):
        assert literal in source
    assert (tmp_path / "export" / "net.nc").read_bytes() == SHIPPED_MODEL.read_bytes()
    proc = run_isolated(script, "--out", str(tmp_path / "res.npz"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "sample 19:" in proc.stdout and "accuracy:" in proc.stdout
    model = spatialsnn.load(SHIPPED_MODEL)
    twin_spikes, twin_logits = twin_run(model, counts)
    with Simulator(network_params(model), n_steps=counts.shape[1], max_count=3) as sim:
        validated = sim.run(counts)  # what spatialsnn validate simulates in Brian2
    with np.load(tmp_path / "res.npz") as res:
        np.testing.assert_array_equal(res["hidden_spikes"], validated.hidden_spikes)
        np.testing.assert_array_equal(res["hidden_spikes"], twin_spikes)
        np.testing.assert_allclose(res["logits"], twin_logits, atol=1e-12)
    assert counts.shape == (20, 100, 16) and twin_spikes.sum() > 1000


# Models that use every branch of the generator: readouts, dimensions (4-D: the
# weight is w_syn), input positions (count copies, input delays), delay kinds, a
# clamp (some delay beyond max_delay), equal time constants, refractoriness.
VARIANTS = {
    "3d-inputs-sum-clip": dict(dims=3, input_positions=True, readout="sum", max_delay=3.0),
    "free-max-equal-tau": dict(delays="free", readout="max", tau_syn=20.0, refractory=2.0),
    "none-4d-inputs-last": dict(delays="none", dims=4, input_positions=True, readout="last"),
    "1d-exp-mean": dict(dims=1, refractory=3.0),
}


@pytest.mark.brian2
@pytest.mark.parametrize("name", list(VARIANTS))
def test_exported_script_reproduces_the_twin_for_every_kind_of_model(name, tmp_path):
    variant = VARIANTS[name]
    train, _ = make_task("timing", seed=3, **TASK)
    model = small_model(**variant)
    if model.rec_delay is not None:  # free delays of their own, some negative (act as 0)
        with torch.no_grad():
            g = torch.Generator().manual_seed(5)
            model.rec_delay.copy_(torch.rand(model.rec_delay.shape, generator=g) * 14.0 - 2.0)
    path = tmp_path / f"{name}.nc"
    spatialsnn.save(model, path, training_config={"data": train.info})
    script, counts = export(path, tmp_path / "export", samples=4)
    source = script.read_text()
    assert ("count_pre" in source) != variant.get("input_positions", False)
    refractory = "refractory" in variant
    assert ("refractory=t_ref" in source) == refractory
    assert (": 1 (unless refractory)" in source) == (refractory and "tau_syn" not in variant)
    assert ("clip(sqrt(" in source) == ("max_delay" in variant)
    assert ("w_syn : 1" in source) == (variant.get("dims") == 4)
    assert ("tau_syn" in source) != ("tau_syn" in variant)
    proc = run_isolated(script, "--out", str(tmp_path / "res.npz"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    twin_spikes, twin_logits = twin_run(model, counts)
    with np.load(tmp_path / "res.npz") as res:
        np.testing.assert_array_equal(res["hidden_spikes"], twin_spikes)
        np.testing.assert_allclose(res["logits"], twin_logits, rtol=1e-10, atol=1e-12)
    assert twin_spikes.sum() > 20


@pytest.mark.brian2
def test_exported_script_has_the_refractory_period_at_any_step(tmp_path):
    train, _ = make_task("timing", seed=3, **TASK)
    model = small_model(refractory=2.0)
    path = tmp_path / "ref.nc"
    spatialsnn.save(model, path, training_config={"data": train.info})
    script, counts = export(path, tmp_path / "export", samples=3)
    assert "refractory=t_ref" in script.read_text()
    for dt, substeps in ((1.0, 1), (0.25, 4)):
        res_file = tmp_path / f"res{substeps}.npz"
        proc = run_isolated(script, "--dt", str(dt), "--out", str(res_file), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        ref, _ = twin_run(model, counts, substeps=substeps)
        with np.load(res_file) as res:
            np.testing.assert_array_equal(res["hidden_spikes"], ref)
        assert ref.sum() > 20
    # the period is active: without it the twin fires more
    free, _ = twin_run(small_model(), counts)
    assert free.sum() > twin_run(model, counts)[0].sum()


@pytest.mark.brian2
@pytest.mark.slow
def test_exported_script_cpp_standalone(tmp_path):
    script, _ = export(SHIPPED_MODEL, tmp_path / "export", samples=2)
    runtime = run_isolated(script, "--out", str(tmp_path / "a.npz"), cwd=tmp_path)
    standalone = run_isolated(
        script, "--device", "cpp_standalone", "--out", str(tmp_path / "b.npz"), cwd=tmp_path
    )
    assert runtime.returncode == 0 and standalone.returncode == 0, standalone.stderr[-2000:]
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "b.npz") as b:
        np.testing.assert_array_equal(a["hidden_spikes"], b["hidden_spikes"])
        assert a["hidden_spikes"].sum() > 100


@pytest.mark.parametrize("name", list(VARIANTS))
def test_generated_source_compiles_and_names_only_what_the_model_uses(name):
    from spatialsnn.brian2 import network_params
    from spatialsnn.export import brian2_script_source

    params = network_params(small_model(**VARIANTS[name]))
    source = brian2_script_source(
        params, script="net.py", model_file="net.nc", data_file="net.npz", source="m.nc"
    )
    compile(source, "net.py", "exec")
    assert ("position_input" in source) == VARIANTS[name].get("input_positions", False)
    assert ("delay_hidden_hidden" in source) == (VARIANTS[name].get("delays") == "free")
    assert "hidden_hidden.delay" not in source or VARIANTS[name].get("delays") != "none"


def test_export_bad_input_exits_2(tmp_path, capsys):
    assert (
        run_cli(["export", str(tmp_path / "missing.nc"), "--brian2-script", str(tmp_path / "n.py")])
        == 2
    )
    err = capsys.readouterr().err
    assert "no such file" in err and "Traceback" not in err
    assert not (tmp_path / "n.py").exists()
