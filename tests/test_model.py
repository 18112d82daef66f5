import math

import pytest
import torch

from spatialsnn import CONDITIONS, DelayClampWarning, SNNLoss, SpatialSNN

F64 = torch.float64


def _input(seed, batch=4, n_t=60, n_in=12, rate=0.15):
    g = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.full((batch, n_t, n_in), rate), generator=g)


def _model(seed=0, **kw):
    # strong input weights so the hidden layer spikes and the recurrence matters
    args = dict(velocity=1.0, w_in_mean=0.6, w_in_std=0.3, w_rec_std=0.8, w_out_std=0.5)
    args.update(kw)
    return SpatialSNN(12, 10, 3, seed=seed, **args).double()


def test_shapes_and_api():
    model = SpatialSNN(12, 10, 3, dims=3, seed=0)
    out = model(_input(0))
    assert out.logits.shape == (4, 3)
    assert out.hidden_spikes.shape == (4, 60, 10)
    assert out.output_voltage.shape == (4, 60, 3)
    assert model.positions.shape == (10, 3) and model.positions.requires_grad
    assert model.delays().shape == (10, 10)
    assert model.delay_steps().dtype == torch.int64
    assert model.space == ["x", "y", "z"]


@pytest.mark.parametrize("delays", ["spatial", "free", "none"])
@pytest.mark.parametrize("input_positions", [False, True])
def test_reference_and_autograd_gradients_agree(delays, input_positions):
    x = _input(1).to(F64).requires_grad_()
    labels = torch.tensor([0, 1, 2, 1])
    loss_fn = SNNLoss(spike_reg=1e-3, l1=1e-4, connection_cost=1e-4)
    results = {}
    for backend in ("reference", "autograd"):
        model = _model(delays=delays, input_positions=input_positions, backend=backend)
        x_leaf = x.detach().clone().requires_grad_()
        out = model(x_leaf)
        total, _ = loss_fn(out, labels, model)
        params = [p for p in model.parameters() if p.requires_grad]
        names = [n for n, p in model.named_parameters() if p.requires_grad]
        grads = torch.autograd.grad(total, [*params, x_leaf])
        results[backend] = (out.hidden_spikes, dict(zip([*names, "x"], grads, strict=True)))
    spikes_ref, g_ref = results["reference"]
    spikes_ag, g_ag = results["autograd"]
    assert spikes_ref.sum() > 50
    assert torch.equal(spikes_ref, spikes_ag)
    expected = {"w_in", "w_rec", "w_out", "x"}
    expected |= {"positions"} if delays == "spatial" else set()
    expected |= {"rec_delay"} if delays == "free" else set()
    expected |= {"input_positions"} if input_positions else set()
    assert expected <= set(g_ref)
    for name in g_ref:
        scale = g_ag[name].abs().max()
        assert scale > 0, f"{name} has no gradient"
        err = float((g_ref[name] - g_ag[name]).abs().max() / scale)
        assert err < 1e-6, f"{name}: relative error {err:.3g}"


def test_coincident_neurons_give_finite_gradients():
    model = _model()
    with torch.no_grad():
        model.positions.zero_()
    out = model(_input(2).double())
    out.logits.sum().backward()
    assert torch.isfinite(model.positions.grad).all()
    assert model.positions.grad.abs().max() == 0


@pytest.mark.parametrize("dims", [1, 2, 3, 4])
def test_any_dimension(dims):
    model = _model(dims=dims, input_positions=True)
    out = model(_input(3).double())
    out.logits.sum().backward()
    assert model.positions.grad.shape == (10, dims)
    assert model.input_positions.grad.shape == (12, dims)
    assert torch.isfinite(model.positions.grad).all()


def test_eval_uses_round_mode_and_matches_integer_delays():
    model = _model(velocity=1.0)
    x = _input(4).double()
    model.eval()
    out_round = model(x)
    # Same network with positions replaced by free delays already rounded: identical.
    free = _model(delays="free")
    free.load_state_dict(model.state_dict(), strict=False)
    with torch.no_grad():
        free.rec_delay.copy_(torch.floor(model.delays() + 0.5))
    free.train()  # interpolate mode, but integer delays
    out_free = free(x)
    assert torch.equal(out_round.hidden_spikes, out_free.hidden_spikes)
    torch.testing.assert_close(out_round.output_voltage, out_free.output_voltage)


def test_spatial_delays_follow_positions_and_velocity():
    model = SpatialSNN(2, 3, 1, velocity=250.0)
    with torch.no_grad():
        model.positions.copy_(torch.tensor([[0.0, 0.0], [300.0, 400.0], [0.0, 0.0]]))
    d = model.delays().detach()
    assert d[0, 1] == pytest.approx(2.0) and d[1, 2] == pytest.approx(2.0) and d[0, 2] == 0
    assert model.delay_steps()[0, 1] == 2


def test_clamped_delays_are_reported():
    model = SpatialSNN(2, 3, 1, velocity=1.0, max_delay=5.0)
    with torch.no_grad():
        model.positions.copy_(torch.tensor([[0.0, 0.0], [30.0, 0.0], [1.0, 0.0]]))
    with pytest.warns(DelayClampWarning, match="exceed the maximum delay"):
        model(torch.zeros(1, 10, 2))


def test_no_delay_condition_has_zero_delays_and_fixed_positions():
    model = SpatialSNN(2, 4, 1, delays="none")
    assert model.delays().abs().max() == 0
    assert not model.positions.requires_grad


def test_free_delays_start_at_the_spatial_delays():
    a = SpatialSNN(2, 5, 1, delays="free", seed=3)
    b = SpatialSNN(2, 5, 1, delays="spatial", seed=3)
    torch.testing.assert_close(a.delays(), b.delays())
    assert a.rec_delay.requires_grad


def test_seeded_initialisation_is_reproducible_and_private():
    torch.manual_seed(0)
    before = torch.rand(1)
    a, b = SpatialSNN(3, 4, 2, seed=11), SpatialSNN(3, 4, 2, seed=11)
    torch.manual_seed(0)
    assert torch.equal(torch.rand(1), before)  # the global RNG was not consumed
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_hidden=0), "n_hidden"),
        (dict(velocity=0.0), "velocity"),
        (dict(velocity=math.inf), "velocity"),
        (dict(delays="learned"), "delays"),
        (dict(delay_mode="nearest"), "mode"),
        (dict(readout="mean"), "readout"),
        (dict(backend="gpu"), "backend"),
        (dict(tau_mem=-1.0), "tau_mem"),
        (dict(max_delay=-1.0), "max_delay"),
    ],
)
def test_bad_construction_is_refused(kwargs, match):
    args = dict(n_in=2, n_hidden=3, n_out=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        SpatialSNN(**args)


def test_bad_input_shape_is_refused():
    model = SpatialSNN(4, 3, 2)
    with pytest.raises(ValueError, match=r"\[batch, time, n_in=4\]"):
        model(torch.zeros(2, 10, 5))
    with pytest.raises(ValueError, match="n_in"):
        model(torch.zeros(10, 4))


def test_conditions_build_models_and_losses():
    for name, spec in CONDITIONS.items():
        model = SpatialSNN(5, 6, 2, seed=0, **spec["model"])
        loss_fn = SNNLoss(**spec["loss"])
        out = model(_input(5, n_in=5).float())
        total, parts = loss_fn(out, torch.tensor([0, 1, 0, 1]), model)
        total.backward()
        assert math.isfinite(float(total.detach())), name
        assert ("connection_cost" in parts) == (name == "spatial+cost")
