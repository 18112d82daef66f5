"""The delay operators: reference (hand-written backward) against the autograd oracle."""

import math

import pytest
import torch

from spatialsnn import ops
from spatialsnn.dynamics import lif_coefficients
from spatialsnn.geometry import delays_from_positions

F64 = torch.float64
C = lif_coefficients(1.0, 20.0, 5.0)


def _recurrent_problem(seed, batch=3, n_t=40, n=7, max_delay=9.0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    drive = (
        torch.rand(batch, n_t, n, generator=g, dtype=dtype)
        * 30
        * (torch.rand(batch, n_t, n, generator=g, dtype=dtype) < 0.3)
    )
    w = torch.randn(n, n, generator=g, dtype=dtype) * 8
    delay = torch.rand(n, n, generator=g, dtype=dtype) * max_delay
    return drive, w, delay


def _run_recurrent(backend, drive, w, delay, mode, max_delay=None, seed=0):
    leaves = [t.detach().clone().requires_grad_() for t in (drive, w, delay)]
    z = ops.lif_recurrent(
        *leaves,
        alpha=C.alpha,
        beta=C.beta,
        gamma=C.gamma,
        mode=mode,
        max_delay=max_delay,
        backend=backend,
    )
    probe = torch.randn(z.shape, generator=torch.Generator().manual_seed(seed + 99), dtype=z.dtype)
    grads = torch.autograd.grad((z * probe).sum(), leaves)
    return z, grads


def _assert_grads_close(a, b, rtol=1e-6):
    for ga, gb, name in zip(a, b, ("drive", "weight", "delay"), strict=True):
        scale = gb.abs().max().clamp_min(1e-300)
        err = (ga - gb).abs().max() / scale
        assert err <= rtol, f"{name}: relative error {err:.3g}"


@pytest.mark.parametrize("mode", ["round", "interpolate"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recurrent_reference_matches_autograd(mode, seed):
    drive, w, delay = _recurrent_problem(seed)
    z_ref, g_ref = _run_recurrent("reference", drive, w, delay, mode, seed=seed)
    z_ag, g_ag = _run_recurrent("autograd", drive, w, delay, mode, seed=seed)
    assert z_ref.sum() > 20, "the test needs recurrent spikes to mean anything"
    assert torch.equal(z_ref, z_ag)
    for g in g_ag:
        assert g.abs().max() > 0
    _assert_grads_close(g_ref, g_ag)


@pytest.mark.parametrize(
    "case",
    ["batch1", "max_delay0", "delays_beyond_T", "silent_neurons", "noncontiguous", "float32"],
)
def test_recurrent_edge_cases(case):
    drive, w, delay = _recurrent_problem(5)
    max_delay = None
    if case == "batch1":
        drive = drive[:1]
    elif case == "max_delay0":
        max_delay = 0
    elif case == "delays_beyond_T":
        delay = delay * 10  # up to 90 steps with T = 40
    elif case == "silent_neurons":
        drive[:, :, :3] = 0
        w[:3, :] = 0
    elif case == "noncontiguous":
        drive = drive.transpose(1, 2).contiguous().transpose(1, 2)
        w = w.t().contiguous().t()
        assert not drive.is_contiguous() and not w.is_contiguous()
    elif case == "float32":
        drive, w, delay = drive.float(), w.float(), delay.float()
    z_ref, g_ref = _run_recurrent("reference", drive, w, delay, "interpolate", max_delay)
    z_ag, g_ag = _run_recurrent("autograd", drive, w, delay, "interpolate", max_delay)
    assert torch.equal(z_ref, z_ag)
    _assert_grads_close(g_ref, g_ag, rtol=1e-6 if drive.dtype == F64 else 1e-4)
    if case == "silent_neurons":
        assert z_ref[:, :, :3].sum() == 0
    if case == "max_delay0":
        assert g_ref[2].abs().max() == 0  # every delay clamped: no delay gradient


def test_round_and_interpolate_agree_on_integer_delays():
    drive, w, delay = _recurrent_problem(3)
    delay = delay.round()
    z_r, g_r = _run_recurrent("reference", drive, w, delay, "round")
    z_i, g_i = _run_recurrent("reference", drive, w, delay, "interpolate")
    assert torch.equal(z_r, z_i)
    _assert_grads_close(g_r, g_i, rtol=1e-12)


def test_round_mode_uses_brian2_rounding():
    drive, w, delay = _recurrent_problem(4)
    delay[0, 1] = 2.5  # exactly half way: Brian2 rounds up
    z_r, _ = _run_recurrent("reference", drive, w, delay, "round")
    z_i, _ = _run_recurrent("reference", drive, w, torch.floor(delay + 0.5), "interpolate")
    assert torch.equal(z_r, z_i)


def _linear_problem(seed, batch=2, n_t=15, n_pre=6, n_post=4, max_delay=8.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.poisson(torch.full((batch, n_t, n_pre), 0.7, dtype=F64), generator=g)
    w = torch.randn(n_post, n_pre, generator=g, dtype=F64)
    # keep fractional parts away from 0 and 1 so finite differences stay on one piece
    delay = torch.randint(0, int(max_delay), (n_post, n_pre), generator=g).to(F64)
    delay += 0.1 + 0.8 * torch.rand(n_post, n_pre, generator=g, dtype=F64)
    return x, w, delay


@pytest.mark.parametrize("mode", ["round", "interpolate"])
def test_delayed_linear_reference_matches_autograd(mode, monkeypatch):
    import spatialsnn.ops._reference as ref

    monkeypatch.setattr(ref, "CHUNK_ELEMENTS", 64)  # force several chunks
    x, w, delay = _linear_problem(0)
    outs = {}
    for backend in ("reference", "autograd"):
        leaves = [t.clone().requires_grad_() for t in (x, w, delay)]
        y = ops.delayed_linear(*leaves, mode, backend=backend)
        probe = torch.randn(y.shape, generator=torch.Generator().manual_seed(7), dtype=F64)
        outs[backend] = (y, torch.autograd.grad((y * probe).sum(), leaves))
    torch.testing.assert_close(outs["reference"][0], outs["autograd"][0], rtol=1e-12, atol=1e-12)
    _assert_grads_close(outs["reference"][1], outs["autograd"][1], rtol=1e-10)


def test_delayed_linear_gradcheck_interpolate():
    x, w, delay = _linear_problem(1, batch=2, n_t=8, n_pre=3, n_post=2, max_delay=4)
    leaves = [t.clone().requires_grad_() for t in (x, w, delay)]
    assert torch.autograd.gradcheck(
        lambda a, b, c: ops.delayed_linear(a, b, c, "interpolate", backend="reference"),
        leaves,
    )


def test_delayed_linear_hand_example():
    # y[t] = 2 * x[t - 1.25]: interpolate reads 0.75 x[t-1] + 0.25 x[t-2]; round reads x[t-1].
    x = torch.tensor([[[1.0], [0.0], [0.0], [4.0], [0.0]]], dtype=F64)
    w = torch.tensor([[2.0]], dtype=F64)
    d = torch.tensor([[1.25]], dtype=F64)
    y_i = ops.delayed_linear(x, w, d, "interpolate")[0, :, 0]
    y_r = ops.delayed_linear(x, w, d, "round")[0, :, 0]
    assert y_i.tolist() == [0.0, 1.5, 0.5, 0.0, 6.0]
    assert y_r.tolist() == [0.0, 2.0, 0.0, 0.0, 8.0]


def test_position_gradient_matches_finite_differences():
    # Input and output populations with positions; loss = <probe, delayed_linear(...)>.
    g = torch.Generator().manual_seed(3)
    x, w, _ = _linear_problem(2)
    p_pre = torch.randn(6, 2, generator=g, dtype=F64) * 3
    p_post = (torch.randn(4, 2, generator=g, dtype=F64) * 3).requires_grad_()
    probe = torch.randn(2, 15, 4, generator=g, dtype=F64)

    def loss(pp):
        d = delays_from_positions(pp, p_pre, velocity=1.3)
        return (ops.delayed_linear(x, w, d, "interpolate", max_delay=20) * probe).sum()

    (grad,) = torch.autograd.grad(loss(p_post), [p_post])
    eps = 1e-6
    fd = torch.zeros_like(grad)
    with torch.no_grad():
        for idx in torch.cartesian_prod(torch.arange(4), torch.arange(2)):
            e = torch.zeros_like(p_post)
            e[idx[0], idx[1]] = eps
            fd[idx[0], idx[1]] = (loss(p_post + e) - loss(p_post - e)) / (2 * eps)
    torch.testing.assert_close(grad, fd, rtol=1e-6, atol=1e-8)


def test_recurrent_position_gradient_is_the_symmetric_chain_rule():
    # dL/dp_i = sum_j (p_i - p_j)/(v ||p_i - p_j||) (dL/dd_ij + dL/dd_ji)   (DESIGN §2.3)
    drive, w, _ = _recurrent_problem(6, n=5)
    v = 0.7
    p = torch.randn(5, 2, generator=torch.Generator().manual_seed(1), dtype=F64) * 3
    p.requires_grad_()
    d = delays_from_positions(p, None, v)
    d_leaf = d.detach().clone().requires_grad_()
    probe = torch.randn(3, 40, 5, generator=torch.Generator().manual_seed(2), dtype=F64)

    def run(delay):
        z = ops.lif_recurrent(
            drive, w, delay, alpha=C.alpha, beta=C.beta, gamma=C.gamma, max_delay=30
        )
        return (z * probe).sum()

    (gp,) = torch.autograd.grad(run(d), [p])
    (gd,) = torch.autograd.grad(run(d_leaf), [d_leaf])
    assert gd.abs().max() > 0
    diff = p.detach()[:, None, :] - p.detach()[None, :, :]
    dist = diff.norm(dim=-1)
    dist.fill_diagonal_(math.inf)
    expected = ((diff / (v * dist[..., None])) * (gd + gd.T)[..., None]).sum(1)
    torch.testing.assert_close(gp, expected, rtol=1e-10, atol=1e-12)


def test_bad_arguments_are_refused():
    x, w, d = _linear_problem(0)
    with pytest.raises(ValueError, match="mode"):
        ops.delayed_linear(x, w, d, "nearest")
    with pytest.raises(ValueError, match="weight"):
        ops.delayed_linear(x, w[:, :3], d, "round")
    with pytest.raises(ValueError, match="delay"):
        ops.delayed_linear(x, w, d[:2], "round")
    with pytest.raises(TypeError, match="dtype"):
        ops.delayed_linear(x.float(), w, d, "round")
    with pytest.raises(ValueError, match="backend"):
        ops.delayed_linear(x, w, d, "round", backend="cuda-magic")


def test_auto_backend_honours_environment(monkeypatch):
    monkeypatch.setenv("SPATIALSNN_BACKEND", "autograd")
    assert ops.resolve_backend("auto") == "autograd"
    monkeypatch.setenv("SPATIALSNN_BACKEND", "reference")
    assert ops.resolve_backend("auto") == "reference"
    monkeypatch.delenv("SPATIALSNN_BACKEND")
    assert ops.resolve_backend("auto") in ops.available_backends()
    assert ops.resolve_backend("auto") != "autograd"  # never the memory-hungry oracle
    assert set(ops.available_backends()) >= {"autograd", "reference"}


# ----------------------------------------------------------------------------- refractory


def _run_refractory(backend, drive, w, delay, mode, refractory, seed=0):
    leaves = [t.detach().clone().requires_grad_() for t in (drive, w, delay)]
    z = ops.lif_recurrent(
        *leaves, alpha=C.alpha, beta=C.beta, gamma=C.gamma, mode=mode,
        refractory=refractory, backend=backend,
    )  # fmt: skip
    probe = torch.randn(z.shape, generator=torch.Generator().manual_seed(seed + 7), dtype=z.dtype)
    return z, torch.autograd.grad((z * probe).sum(), leaves)


@pytest.mark.parametrize("mode", ["round", "interpolate"])
@pytest.mark.parametrize("refractory", [2, 3, 6])
def test_recurrent_refractory_reference_matches_autograd(mode, refractory):
    drive, w, delay = _recurrent_problem(11, n_t=60)
    z_ref, g_ref = _run_refractory("reference", drive, w, delay, mode, refractory)
    z_ag, g_ag = _run_refractory("autograd", drive, w, delay, mode, refractory)
    z_free, _ = _run_refractory("autograd", drive, w, delay, mode, 0)
    assert z_ref.sum() > 20
    assert not torch.equal(z_ref, z_free), "the refractory period must change the spikes here"
    assert torch.equal(z_ref, z_ag)
    _assert_grads_close(g_ref, g_ag)


@pytest.mark.parametrize("backend", ["autograd", "reference"])
def test_refractory_zero_and_one_are_no_refractory_period(backend):
    drive, w, delay = _recurrent_problem(3)
    z0, g0 = _run_refractory(backend, drive, w, delay, "round", 0)
    z1, g1 = _run_refractory(backend, drive, w, delay, "round", 1)
    assert torch.equal(z0, z1)
    for a, b in zip(g0, g1, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("backend", ["autograd", "reference"])
def test_refractory_neuron_under_constant_drive_spikes_every_r_steps(backend):
    # I >= 50 from the first step: the neuron spikes as soon as it may, every 4 steps
    zero = torch.zeros(1, 1, dtype=F64)
    drive = torch.full((1, 60, 1), 50.0, dtype=F64)
    z = ops.lif_recurrent(drive, zero, zero, alpha=C.alpha, beta=C.beta, gamma=C.gamma,
                          refractory=4, backend=backend)  # fmt: skip
    steps = z[0, :, 0].nonzero().flatten().tolist()
    assert len(steps) > 10
    assert set(torch.diff(torch.tensor(steps)).tolist()) == {4}


def test_refractory_mask_marks_the_steps_after_each_spike():
    from spatialsnn.ops._reference import refractory_mask

    z = torch.zeros(1, 12, 1)
    z[0, [2, 8], 0] = 1
    held = refractory_mask(z, 3)[0, :, 0].nonzero().flatten().tolist()
    assert held == [3, 4, 9, 10]
    assert refractory_mask(z, 1) is None


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_refractory_must_be_whole_steps(bad):
    drive, w, delay = _recurrent_problem(0)
    with pytest.raises(ValueError, match="refractory"):
        ops.lif_recurrent(drive, w, delay, alpha=C.alpha, beta=C.beta, gamma=C.gamma,
                          refractory=bad, backend="reference")  # fmt: skip
