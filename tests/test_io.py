"""The model file, format version 1 (DESIGN §3, docs/format.md): round trips, layout, refusals."""

import copy
import json
import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

import spatialsnn
from spatialsnn import ModelFileError, SpatialSNN
from spatialsnn.io import history_of

ENGINE = "h5netcdf"
N_IN, N_HIDDEN, N_OUT = 12, 10, 3
DOC = Path(__file__).resolve().parents[1] / "docs" / "format.md"


def _trained_like(seed=0, dtype=torch.float32, **kw):
    """A model whose parameters are no longer those its seed gives (as after training).

    Rebuilding from the stored config alone would then give different parameters, so
    a round trip must really restore them from the file.
    """
    args = dict(w_in_mean=0.5, w_in_std=0.2, w_rec_std=0.3, w_out_std=0.3, seed=seed)
    args.update(kw)
    model = SpatialSNN(N_IN, N_HIDDEN, N_OUT, **args).to(dtype)  # perturbed in this dtype
    g = torch.Generator().manual_seed(1000 + seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype) * p.abs().mean())
        if model.rec_delay is not None:  # free delays: asymmetric, so layout errors show
            model.rec_delay.add_(3.0 * torch.rand(model.rec_delay.shape, generator=g))
    return model


def _spikes_in(rng, batch=3, n_t=80, rate=0.3):
    """Poisson-like input counts per step (some bins hold two or more spikes)."""
    return torch.poisson(torch.full((batch, n_t, N_IN), rate), generator=rng)


def _run(model, x):
    model.eval()
    with torch.no_grad():
        return model(x.to(model.w_in.dtype))


def _params(model):
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _rewrite(src, dst, edit):
    """Read ``src`` with plain xarray, apply ``edit(ds) -> ds``, write ``dst``."""
    with xr.open_dataset(src, engine=ENGINE) as handle:
        ds = handle.load()
    ds = edit(ds)
    ds.to_netcdf(dst, engine=ENGINE)
    return dst


# --------------------------------------------------------------------- round trips

CONFIGS = {
    "spatial-1d": dict(delays="spatial", dims=1),
    "spatial-3d-input-positions": dict(delays="spatial", dims=3, input_positions=True),
    "free-2d": dict(delays="free", dims=2),
    "none-3d-input-positions": dict(delays="none", dims=3, input_positions=True),
    "spatial-nondefault": dict(
        delays="spatial",
        dims=2,
        dt=0.5,
        velocity=40.0,
        tau_mem=15.0,
        tau_syn=4.0,
        threshold=0.8,
        max_delay=3.0,
        readout="max",
    ),  # fmt: skip
}


@pytest.mark.parametrize("kw", CONFIGS.values(), ids=CONFIGS.keys())
def test_save_load_round_trip_is_exact(kw, tmp_nc, rng):
    model = _trained_like(seed=7, **kw)
    spatialsnn.save(model, tmp_nc)
    loaded = spatialsnn.load(tmp_nc)

    assert loaded.config() == model.config()
    before, after = _params(model), _params(loaded)
    assert before.keys() == after.keys()
    for name in before:
        assert after[name].dtype == torch.float32
        assert torch.equal(after[name], before[name]), name
    for (name, p), q in zip(model.named_parameters(), loaded.parameters(), strict=True):
        assert q.requires_grad == p.requires_grad, name
    # the parameters did not come back merely because the seed rebuilds them
    fresh = SpatialSNN(N_IN, N_HIDDEN, N_OUT, **{**kw, "seed": 7})
    assert not torch.equal(fresh.w_rec, loaded.w_rec)

    x = _spikes_in(rng)
    out, out2 = _run(model, x), _run(loaded, x)
    assert out.hidden_spikes.sum() > 20  # the hidden layer spikes: the comparison means something
    assert torch.equal(out2.hidden_spikes, out.hidden_spikes)
    assert torch.equal(out2.output_voltage, out.output_voltage)
    assert torch.equal(loaded.delay_steps(), model.delay_steps())


def test_float64_model_is_stored_in_float64_and_loads_as_float64(tmp_nc, rng):
    """The file keeps float64 values exactly; load keeps the stored precision.

    ``load`` returns float64 parameters for a float64 file, bit for bit; with
    ``dtype=torch.float32`` it gives the float32 twin, equal to ``.float()`` of the
    original, which simulates identically to it.
    """
    model = _trained_like(seed=3, dtype=torch.float64, dims=3, input_positions=True)
    spatialsnn.save(model, tmp_nc)
    with xr.open_dataset(tmp_nc, engine=ENGINE) as ds:
        for name, param in (
            ("weight_hidden_hidden", model.w_rec.T),
            ("position_hidden", model.positions),
            ("position_input", model.input_positions),
        ):
            values = ds[name].values
            assert values.dtype == np.float64, name
            np.testing.assert_array_equal(values, param.detach().numpy())
            # not merely float32 values widened: float64 precision really is kept
            assert not np.array_equal(values, values.astype(np.float32).astype(np.float64))

    loaded64 = spatialsnn.load(tmp_nc)
    for name, p in _params(model).items():
        q = dict(loaded64.named_parameters())[name]
        assert q.dtype == torch.float64
        assert torch.equal(q, p), name
    loaded = spatialsnn.load(tmp_nc, dtype=torch.float32)
    as_float32 = copy.deepcopy(model).float()
    for name, p in _params(as_float32).items():
        q = dict(loaded.named_parameters())[name]
        assert q.dtype == torch.float32
        assert torch.equal(q, p), name
    x = _spikes_in(rng)
    ref, got = _run(as_float32, x), _run(loaded, x)
    assert ref.hidden_spikes.sum() > 20
    assert torch.equal(got.hidden_spikes, ref.hidden_spikes)
    assert torch.equal(got.output_voltage, ref.output_voltage)


def test_saving_again_over_a_file_replaces_it(tmp_nc):
    spatialsnn.save(_trained_like(seed=1), tmp_nc)
    second = _trained_like(seed=2)
    spatialsnn.save(second, tmp_nc)
    assert torch.equal(spatialsnn.load(tmp_nc).w_rec, second.w_rec)


# --------------------------------------------------------- layout seen by plain xarray


def _expected_units(ds):
    units = {
        "position_hidden": "um",
        "position_input": "um",
        "weight_input_hidden": "1",
        "weight_hidden_hidden": "1",
        "weight_hidden_output": "1",
        "delay_hidden_hidden": "ms",
        "delay_steps_hidden_hidden": "1",
        "dt": "ms",
        "velocity": "um/ms",
        "max_delay": "ms",
        "tau_mem": "ms",
        "tau_syn": "ms",
        "threshold": "1",
        "refractory": "ms",
    }
    units.update({name: "1" for name in ds.data_vars if name.startswith("history_")})
    return units


def test_plain_xarray_sees_units_attributes_and_layout(tmp_nc):
    model = _trained_like(seed=5, delays="free", dims=3, input_positions=True, velocity=80.0)
    history = {"train_loss": [2.0, 1.5], "test_accuracy": [0.25, 0.5]}
    spatialsnn.save(model, tmp_nc, history=history, training_config={"lr": 1e-3, "epochs": 2})

    with xr.open_dataset(tmp_nc, engine=ENGINE) as ds:
        units = _expected_units(ds)
        # every data variable is one the format documents, and has its units
        assert set(ds.data_vars) == set(units)
        for name in ds.data_vars:
            assert ds[name].attrs.get("units") == units[name], name
            assert ds[name].attrs.get("long_name"), name

        assert ds.attrs["format"] == "spatialsnn-model"
        assert ds.attrs["format_version"] == 2
        assert isinstance(ds.attrs["format_version"], (int, np.integer))
        assert ds.attrs["spatialsnn_version"] == spatialsnn.__version__
        config = json.loads(ds.attrs["config"])
        assert config["n_in"] == N_IN and config["n_hidden"] == N_HIDDEN
        assert config["delays"] == "free" and config["input_positions"] is True
        assert config["velocity"] == 80.0
        assert json.loads(ds.attrs["training_config"]) == {"lr": 1e-3, "epochs": 2}

        # weights and delays are stored pre-first: (pre population, post population)
        assert ds["weight_input_hidden"].dims == ("input", "hidden")
        assert ds["weight_hidden_hidden"].dims == ("hidden_pre", "hidden_post")
        assert ds["weight_hidden_output"].dims == ("hidden", "output")
        assert ds["delay_hidden_hidden"].dims == ("hidden_pre", "hidden_post")
        np.testing.assert_array_equal(ds["weight_input_hidden"].values, model.w_in.detach().T)
        np.testing.assert_array_equal(ds["weight_hidden_hidden"].values, model.w_rec.detach().T)
        np.testing.assert_array_equal(ds["weight_hidden_output"].values, model.w_out.detach().T)
        np.testing.assert_array_equal(ds["delay_hidden_hidden"].values, model.rec_delay.detach().T)
        # one synapse by label: hidden 2 -> hidden 7 is w_rec[post=7, pre=2]
        assert float(ds["weight_hidden_hidden"].sel(hidden_pre=2, hidden_post=7)) == float(
            model.w_rec.detach()[7, 2]
        )

        assert ds["position_hidden"].dims == ("hidden", "space")
        assert ds["position_input"].dims == ("input", "space")
        assert ds["space"].values.tolist() == ["x", "y", "z"]
        np.testing.assert_array_equal(ds["position_hidden"].values, model.positions.detach())
        for name in ("input", "hidden", "output", "hidden_pre", "hidden_post", "epoch"):
            assert ds[name].dtype == np.int64, name  # integer coordinates stay int64
        assert ds["hidden"].values.tolist() == list(range(N_HIDDEN))
        assert np.issubdtype(ds["delay_steps_hidden_hidden"].dtype, np.integer)

        # free delays: the steps are floor(d/dt + 0.5) of the stored delays, elementwise
        d = ds["delay_hidden_hidden"].values.astype(np.float64)
        expected = np.floor(np.maximum(d, 0) / float(ds["dt"]) + 0.5)
        np.testing.assert_array_equal(ds["delay_steps_hidden_hidden"].values, expected)
        assert not np.array_equal(expected, expected.T)  # asymmetric: the test sees transposes


def _delay_steps_numpy(ds):
    """Brian2's rounding of position-derived delays, from the file with numpy only."""
    p = ds["position_hidden"].values.astype(np.float64)
    dist = np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1))  # [pre, post]
    steps = np.floor(dist / float(ds["velocity"]) / float(ds["dt"]) + 0.5)
    k_max = np.floor(float(ds["max_delay"]) / float(ds["dt"]) + 0.5)
    return steps, k_max


@pytest.mark.parametrize("dims", [1, 3])
def test_stored_delay_steps_equal_numpy_rounding_of_positions(dims, tmp_nc):
    # dt = 0.5 ms and max_delay = 2 ms: several steps, and some delays beyond the clamp
    model = _trained_like(
        seed=11, dims=dims, velocity=60.0, init_extent=90.0, dt=0.5, max_delay=2.0
    )
    spatialsnn.save(model, tmp_nc)
    with xr.open_dataset(tmp_nc, engine=ENGINE) as ds:
        raw, k_max = _delay_steps_numpy(ds)
        assert k_max == 4
        assert (raw > k_max).any() and (raw[raw <= k_max] > 0).any()
        assert len(np.unique(raw[raw <= k_max])) >= 3
        np.testing.assert_array_equal(
            ds["delay_steps_hidden_hidden"].values, np.clip(raw, 0, k_max)
        )


def test_no_delays_store_zero_steps(tmp_nc):
    spatialsnn.save(_trained_like(seed=2, delays="none"), tmp_nc)
    with xr.open_dataset(tmp_nc, engine=ENGINE) as ds:
        assert ds.attrs["delays"] == "none"
        assert "delay_hidden_hidden" not in ds
        assert (ds["delay_steps_hidden_hidden"].values == 0).all()


# --------------------------------------------------------------------------- history


def test_history_round_trip(tmp_nc):
    history = {"train_loss": [2.5, 1.25, 0.75, 0.5], "test_accuracy": [0.25, 0.5, 0.625, 0.75]}
    spatialsnn.save(_trained_like(seed=0), tmp_nc, history=history)
    with xr.open_dataset(tmp_nc, engine=ENGINE) as ds:
        for name, values in history.items():
            var = ds[f"history_{name}"]
            assert var.dims == ("epoch",)
            assert var.values.tolist() == values
            assert var.attrs["units"] == "1"
        assert ds["epoch"].values.tolist() == [1, 2, 3, 4]
        assert float(ds["history_test_accuracy"].sel(epoch=3)) == 0.625
        assert history_of(ds) == history
    spatialsnn.load(tmp_nc)  # history does not get in the way of loading


def test_no_history_means_no_epoch_dim(tmp_nc):
    spatialsnn.save(_trained_like(seed=0), tmp_nc)
    with xr.open_dataset(tmp_nc, engine=ENGINE) as ds:
        assert "epoch" not in ds.dims
        assert not [name for name in ds.data_vars if name.startswith("history_")]


def test_history_of_unequal_lengths_is_refused(tmp_nc):
    with pytest.raises(ValueError, match=r"one length.*\[2, 3\]"):
        spatialsnn.save(
            _trained_like(seed=0),
            tmp_nc,
            history={"train_loss": [1.0, 0.5, 0.25], "test_accuracy": [0.5, 0.75]},
        )
    assert not tmp_nc.exists()


# ------------------------------------------------------------------------- bad files


@pytest.fixture
def saved(tmp_nc):
    """A valid model file (free delays, input positions: every optional variable)."""
    spatialsnn.save(_trained_like(seed=4, delays="free", dims=2, input_positions=True), tmp_nc)
    return tmp_nc


def _refused(path, problem):
    """Assert that loading ``path`` raises one ModelFileError naming it and ``problem``."""
    with pytest.raises(ModelFileError, match=problem) as info:
        spatialsnn.load(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)
    return info.value


def test_missing_file_is_refused(tmp_path):
    _refused(tmp_path / "nowhere.nc", "no such file")


def test_directory_is_refused_as_a_directory(tmp_path):
    (tmp_path / "model.nc").mkdir()
    _refused(tmp_path / "model.nc", "is a directory, not a model file")


def test_non_hdf5_file_is_refused(tmp_path):
    path = tmp_path / "noise.nc"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    _refused(path, "cannot be read as a netCDF4/HDF5 file")


def test_truncated_file_is_refused(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    _refused(saved, "cannot be read as a netCDF4/HDF5 file")


def _with(name, value):
    def edit(ds):
        ds[name] = ds[name].copy(data=np.asarray(value, dtype=ds[name].dtype))
        return ds

    return edit


def _set_element(name, index, value):
    def edit(ds):
        values = ds[name].values.copy()
        values[index] = value
        ds[name] = ds[name].copy(data=values)
        return ds

    return edit


def _set_attr(name, value):
    def edit(ds):
        if value is None:
            del ds.attrs[name]
        else:
            ds.attrs[name] = value
        return ds

    return edit


def _set_var_attr(var, name, value):
    def edit(ds):
        if value is None:
            del ds[var].attrs[name]
        else:
            ds[var].attrs[name] = value
        return ds

    return edit


BAD = {
    "missing-variable": (
        lambda ds: ds.drop_vars("weight_hidden_hidden"),
        "missing variable 'weight_hidden_hidden'",
    ),
    "missing-optional-position": (
        lambda ds: ds.drop_vars("position_input"),
        "missing variable 'position_input'",
    ),
    "missing-free-delays": (
        lambda ds: ds.drop_vars("delay_hidden_hidden"),
        "missing variable 'delay_hidden_hidden'",
    ),
    "wrong-shape-output": (
        lambda ds: ds.isel(output=slice(0, 2)),
        r"variable 'weight_hidden_output' has shape \{'hidden': 10, 'output': 2\}, "
        r"expected \{'hidden': 10, 'output': 3\}",
    ),
    "wrong-shape-recurrent": (
        lambda ds: ds.isel(hidden_pre=slice(0, 9)),
        "variable 'weight_hidden_hidden' has shape",
    ),
    "wrong-dims-space": (
        lambda ds: ds.isel(space=slice(0, 1)),
        "variable 'position_hidden' has shape",
    ),
    "nan-weight": (
        _set_element("weight_hidden_hidden", (2, 3), np.nan),
        "'weight_hidden_hidden' contains NaN or infinite",
    ),
    "inf-position": (
        _set_element("position_hidden", (0, 1), np.inf),
        "'position_hidden' contains NaN or infinite",
    ),
    "negative-velocity": (_with("velocity", -100.0), r"velocity must be positive, got -100"),
    "zero-velocity": (_with("velocity", 0.0), r"velocity must be positive, got 0"),
    "negative-dt": (_with("dt", -1.0), r"dt must be positive"),
    "negative-max-delay": (_with("max_delay", -1.0), r"max_delay must be >= 0"),
    "negative-refractory": (_with("refractory", -1.0), r"refractory must be >= 0"),
    "missing-refractory-in-v2": (lambda ds: ds.drop_vars("refractory"), "'refractory'"),
    "unknown-format-version": (
        _set_attr("format_version", np.int32(99)),
        "unknown format version 99",
    ),
    "format-version-missing": (_set_attr("format_version", None), "format_version attribute"),
    "not-spatialsnn": (_set_attr("format", None), "not a spatialsnn model file"),
    "other-format": (_set_attr("format", "something-else"), "not a spatialsnn model file"),
    "config-not-json": (_set_attr("config", "{n_in: 12"), "config attribute is not valid JSON"),
    "config-missing-size": (
        lambda ds: ds.assign_attrs(config=json.dumps({"n_in": N_IN, "n_out": N_OUT, "dims": 2})),
        "config attribute is missing or invalid",
    ),
    "units-missing": (
        _set_var_attr("weight_input_hidden", "units", None),
        "'weight_input_hidden' has no units attribute",
    ),
    "units-wrong": (
        _set_var_attr("velocity", "units", "m/s"),
        r"'velocity' has units 'm/s', expected 'um/ms'",
    ),
    "units-not-a-string": (
        _set_var_attr("velocity", "units", np.array([1, 2])),
        r"'velocity' has units array\(\[1, 2\]\), expected 'um/ms'",
    ),
    "dims-swapped": (
        lambda ds: ds.assign(
            weight_hidden_output=xr.Variable(
                ("output", "hidden"),
                ds["weight_hidden_output"].values.T,
                ds["weight_hidden_output"].attrs,
            )
        ),
        r"'weight_hidden_output' has dims \('output', 'hidden'\), expected \('hidden', 'output'\) "
        r"\(weights are stored \[pre, post\]\)",
    ),
    "complex-weights": (
        lambda ds: ds.assign(weight_input_hidden=ds["weight_input_hidden"].astype(np.complex64)),
        r"'weight_input_hidden' is not real-valued numeric \(complex64\)",
    ),
    "bool-positions": (
        lambda ds: ds.assign(position_hidden=ds["position_hidden"] > 0),
        r"'position_hidden' is not real-valued numeric \(bool\)",
    ),
    "format-version-float": (_set_attr("format_version", 2.0), "not an integer: 2.0"),
    "training-config-not-json": (
        _set_attr("training_config", "{seed: 1"),
        "training_config attribute is not valid JSON",
    ),
    "training-config-a-list": (
        _set_attr("training_config", "[1, 2]"),
        "training_config attribute is not a JSON object",
    ),
    "training-config-data-not-a-table": (
        _set_attr("training_config", '{"data": "shd"}'),
        r"training_config\['data'\] is not a JSON object",
    ),
    "history-two-dims": (
        lambda ds: ds.assign(history_x=(("hidden", "space"), np.zeros((N_HIDDEN, 2)))),
        "history variable 'history_x' must be numeric along 'epoch'",
    ),
    "max-delay-beyond-the-kernels": (_with("max_delay", 1e12), r"max_delay / dt = 1e\+12 steps"),
}


@pytest.mark.parametrize("edit, problem", BAD.values(), ids=BAD.keys())
def test_bad_file_is_refused(edit, problem, saved, tmp_path):
    bad = _rewrite(saved, tmp_path / "bad.nc", edit)
    _refused(bad, problem)


def test_the_unedited_rewrite_loads(saved, tmp_path):
    # the control for test_bad_file_is_refused: rewriting alone breaks nothing
    copy_ = _rewrite(saved, tmp_path / "copy.nc", lambda ds: ds)
    assert torch.equal(spatialsnn.load(copy_).w_rec, spatialsnn.load(saved).w_rec)


def test_optional_delay_steps_may_be_absent(saved, tmp_path):
    # the rounded steps are derived, for inspection: a file without them still loads
    path = _rewrite(
        saved, tmp_path / "nosteps.nc", lambda ds: ds.drop_vars("delay_steps_hidden_hidden")
    )
    loaded = spatialsnn.load(path)
    assert torch.equal(loaded.rec_delay, spatialsnn.load(saved).rec_delay)


# ----------------------------------------------------------------------- atomic save


def test_failed_save_leaves_the_old_file_and_no_temporary_files(tmp_nc, monkeypatch):
    old = _trained_like(seed=1)
    spatialsnn.save(old, tmp_nc)
    before = tmp_nc.read_bytes()

    def half_written(self, path, *args, **kwargs):
        Path(path).write_bytes(b"\x89HDF\r\n\x1a\n partial")  # a start, then the disk fills
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", half_written)
    with pytest.raises(OSError, match="No space left"):
        spatialsnn.save(_trained_like(seed=2), tmp_nc)
    monkeypatch.undo()

    assert tmp_nc.read_bytes() == before
    assert sorted(os.listdir(tmp_nc.parent)) == [tmp_nc.name]
    assert torch.equal(spatialsnn.load(tmp_nc).w_rec, old.w_rec)


def test_saved_file_has_ordinary_permissions(tmp_path):
    """The file is as readable as any other new file there (umask), not private 0600."""
    reference = tmp_path / "reference.txt"
    reference.write_text("x")
    path = spatialsnn.save(_trained_like(seed=0), tmp_path / "model.nc")
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)


def test_save_creates_missing_directories_and_returns_the_path(tmp_path):
    path = spatialsnn.save(_trained_like(seed=0), tmp_path / "runs" / "a" / "model.nc")
    assert path == tmp_path / "runs" / "a" / "model.nc" and path.is_file()


# ------------------------------------------------------------------ docs/format.md


def _section(text, heading):
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/format.md has no section '## {heading}'"
    return match.group(1)


def test_format_doc_lists_every_variable_with_its_dims_and_units(tmp_nc):
    """The variables table of docs/format.md matches what save writes."""
    model = _trained_like(seed=5, delays="free", dims=3, input_positions=True)
    spatialsnn.save(model, tmp_nc, history={"train_loss": [1.0, 0.5]})
    rows = {}
    for line in _section(DOC.read_text(), "Variables").splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"[a-z_<>]+", cells[0]) and cells[0] != "name":
            rows[cells[0]] = (cells[1].replace("`", ""), cells[2])
    with xr.open_dataset(tmp_nc, engine=ENGINE) as ds:
        for name in ds.data_vars:
            key = "history_<name>" if name.startswith("history_") else name
            assert key in rows, f"{name} is not documented"
            dims, units = rows[key]
            assert dims == (", ".join(ds[name].dims) or "()"), name
            assert units == ds[name].attrs["units"], name


def test_format_doc_worked_example_runs(tmp_path, monkeypatch):
    """The plain-xarray example of docs/format.md runs on a saved file and agrees."""
    text = _section(DOC.read_text(), "Worked example: reading a file with xarray and numpy")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    model = _trained_like(seed=9, dims=3, velocity=50.0, max_delay=2.0)  # some clamped
    monkeypatch.chdir(tmp_path)
    spatialsnn.save(model, "model.nc", history={"train_loss": [1.0, 0.5]})
    namespace = {}
    exec(compile("\n".join(blocks), str(DOC), "exec"), namespace)  # noqa: S102
    # the example rebuilt the weights [post, pre] and the steps the twin simulates
    with pytest.warns(spatialsnn.DelayClampWarning):  # the example meets clamped delays
        expected = model.delay_steps().T.numpy()
    assert np.array_equal(namespace["steps"], expected)


def test_negative_free_delays_load_and_act_as_zero(tmp_nc):
    """Free delays are raw parameters (training may push them below 0); they act as 0."""
    model = SpatialSNN(N_IN, N_HIDDEN, N_OUT, delays="free", seed=1)
    with torch.no_grad():
        model.rec_delay[1, 4] = -2.0
    spatialsnn.save(model, tmp_nc)
    loaded = spatialsnn.load(tmp_nc)
    assert loaded.rec_delay[1, 4] == -2.0
    assert loaded.delays()[1, 4] == 0.0


# ----------------------------------------------------------------------------- versions


def test_refractory_period_round_trips(tmp_path):
    model = SpatialSNN(N_IN, N_HIDDEN, N_OUT, refractory=2.5, seed=0)
    spatialsnn.save(model, tmp_path / "r.nc")
    with xr.open_dataset(tmp_path / "r.nc", engine=ENGINE) as ds:
        assert float(ds["refractory"]) == 2.5 and ds["refractory"].attrs["units"] == "ms"
    assert spatialsnn.load(tmp_path / "r.nc").hparams["refractory"] == 2.5


def test_version_1_file_loads_without_refractory_period_and_reproduces_itself(tmp_path):
    """A file written before version 2 (no refractory variable) is the same network."""
    model = SpatialSNN(N_IN, N_HIDDEN, N_OUT, seed=3, w_in_mean=0.5).double().eval()
    ds = spatialsnn.io.to_dataset(model).drop_vars("refractory")
    ds.attrs["format_version"] = np.int32(1)
    cfg = json.loads(ds.attrs["config"])
    del cfg["refractory"]
    ds.attrs["config"] = json.dumps(cfg)
    ds.to_netcdf(tmp_path / "v1.nc", engine=ENGINE)
    loaded = spatialsnn.load(tmp_path / "v1.nc").eval()
    assert loaded.hparams["refractory"] == 0.0
    x = (torch.rand(2, 50, N_IN, generator=torch.Generator().manual_seed(0)) < 0.2).double()
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert a.hidden_spikes.sum() > 0
    assert torch.equal(a.hidden_spikes, b.hidden_spikes)


# -------------------------------------------------- spellings, formats, derived variables


def test_micro_sign_and_greek_mu_mean_um(saved, tmp_path):
    def edit(ds):
        ds["position_hidden"].attrs["units"] = "\u00b5m"  # micro sign
        ds["position_input"].attrs["units"] = "\u03bcm"  # Greek small letter mu
        ds["velocity"].attrs["units"] = " \u00b5m/ms "
        return ds

    path = _rewrite(saved, tmp_path / "micro.nc", edit)
    assert torch.equal(spatialsnn.load(path).positions, spatialsnn.load(saved).positions)


def test_netcdf3_file_is_refused_with_how_to_convert(saved, tmp_path):
    path = tmp_path / "nc3.nc"
    with xr.open_dataset(saved, engine=ENGINE) as ds:
        ds.load().to_netcdf(path, engine="scipy")
    assert path.read_bytes()[:3] == b"CDF"
    err = _refused(path, "is a netCDF3 \\(classic\\) file, but model files are netCDF4/HDF5")
    assert "engine='h5netcdf'" in str(err)


def test_empty_file_is_refused_as_empty(tmp_path):
    (tmp_path / "empty.nc").write_bytes(b"")
    _refused(tmp_path / "empty.nc", "is empty \\(0 bytes\\)")


def _steps_changed(ds):
    steps = ds["delay_steps_hidden_hidden"].values.copy()
    steps[0, 1] += 2
    steps[3, 4] += 1
    ds["delay_steps_hidden_hidden"].values = steps
    return ds


@pytest.mark.parametrize("delays", ["spatial", "free", "none"])
def test_stale_delay_steps_are_named_in_a_warning_and_ignored(delays, tmp_path):
    from spatialsnn.derived import DerivedVariableWarning

    model = _trained_like(seed=3, delays=delays, velocity=40.0, dt=0.5, max_delay=20.0)
    good = spatialsnn.save(model, tmp_path / "good.nc")
    bad = _rewrite(good, tmp_path / "stale.nc", _steps_changed)
    with pytest.warns(DerivedVariableWarning, match="'delay_steps_hidden_hidden' disagrees") as w:
        loaded = spatialsnn.load(bad)
    assert str(bad) in str(w[0].message) and "in 2 of 100 synapses (by up to 2 steps)" in str(
        w[0].message
    )
    assert torch.equal(loaded.delay_steps(), model.delay_steps())  # from the positions


@pytest.mark.parametrize("kw", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_files_as_saved_raise_no_derived_variable_warning(kw, dtype, tmp_path):
    import warnings

    from spatialsnn.derived import DerivedVariableWarning

    for seed in range(5):  # many delays, some within rounding error of a half step
        path = spatialsnn.save(_trained_like(seed=seed, dtype=dtype, **kw), tmp_path / "m.nc")
        with warnings.catch_warnings():
            warnings.simplefilter("error", DerivedVariableWarning)
            spatialsnn.load(path)


def test_a_file_with_dt_edited_warns_and_delays_come_from_the_positions(tmp_path):
    from spatialsnn.derived import DerivedVariableWarning
    from spatialsnn.summary import describe_file

    model = _trained_like(seed=2, velocity=50.0, init_extent=300.0, max_delay=40.0)
    path = spatialsnn.save(model, tmp_path / "m.nc")
    edited = _rewrite(path, tmp_path / "dt.nc", _with("dt", 0.3))
    with pytest.warns(
        DerivedVariableWarning, match="disagrees with the delays implied by the positions"
    ):
        desc = describe_file(edited)
    with xr.open_dataset(edited, engine=ENGINE) as ds:
        p = ds["position_hidden"].values.astype(np.float64)
        stored_max = float(ds["delay_steps_hidden_hidden"].max())
    dist = np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1))
    steps = np.clip(np.floor(dist / 50.0 / 0.3 + 0.5), 0, np.floor(40.0 / 0.3 + 0.5))
    assert desc["recurrent_delay_steps"]["max"] == steps.max() != stored_max
    assert desc["recurrent_delay_steps"]["median"] == float(np.median(steps))
