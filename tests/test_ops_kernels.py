"""The compiled delay kernels against the reference and autograd backends.

Three implementations are checked on every case:

``cpu``
    The C++/OpenMP CPU kernels, through the public API (``backend="cpu"``), i.e. the
    ``torch.ops.spatialsnn`` custom operators and their registered autograd.
``cuda-emulated``
    The CUDA kernels of ``csrc/delay_kernels.cuh`` and their torch glue, executed on the
    host (the CPU extension's ``emu`` submodule substituted for the CPU kernels), so that
    the CUDA algorithm is tested on machines without a GPU.
``cuda``
    The real CUDA kernels on a GPU (``@pytest.mark.cuda``; skipped without one).

The CPU extension is compiled by the first test that needs it (cached on disk across
sessions). If it does not build, these tests fail: they never skip.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from spatialsnn import ops
from spatialsnn.dynamics import lif_coefficients
from spatialsnn.ops import _build, _cpu, _library

F64 = torch.float64
F32 = torch.float32
C = lif_coefficients(1.0, 20.0, 5.0)
IMPLS = ["cpu", "cuda-emulated", pytest.param("cuda", marks=pytest.mark.cuda)]


@pytest.fixture(scope="session")
def cpu_kernels():
    """The compiled CPU extension (built here on first use; a build error fails the test)."""
    return _build.load_cpu()


@pytest.fixture(params=IMPLS)
def impl(request, cpu_kernels, monkeypatch):
    """(backend name, device) of one kernel implementation."""
    if request.param == "cuda-emulated":
        monkeypatch.setattr(_library, "_kernels", lambda device: cpu_kernels.emu)
        return "cpu", torch.device("cpu")
    if request.param == "cuda":
        return "cuda", torch.device("cuda")
    return "cpu", torch.device("cpu")


# ----------------------------------------------------------------------------- problems


def recurrent_problem(seed, batch=3, n_t=40, n=7, max_delay=9.0, dtype=F64, rate=0.3):
    """Sparse strong drive (spikes in most neurons), mixed-sign weights, real delays."""
    g = torch.Generator().manual_seed(seed)
    drive = torch.rand(batch, n_t, n, generator=g, dtype=dtype) * 30
    drive *= torch.rand(batch, n_t, n, generator=g, dtype=dtype) < rate
    w = torch.randn(n, n, generator=g, dtype=dtype) * 8 / math.sqrt(n / 7)
    delay = torch.rand(n, n, generator=g, dtype=dtype) * max_delay
    return drive, w, delay


def run_recurrent(
    backend, drive, w, delay, mode, device, max_delay=None, probe_seed=99, refractory=0
):
    leaves = [t.detach().to(device).clone().requires_grad_() for t in (drive, w, delay)]
    z = ops.lif_recurrent(
        *leaves,
        alpha=C.alpha,
        beta=C.beta,
        gamma=C.gamma,
        mode=mode,
        max_delay=max_delay,
        refractory=refractory,
        backend=backend,
    )
    g = torch.Generator().manual_seed(probe_seed)
    probe = torch.randn(z.shape, generator=g, dtype=z.dtype).to(device)
    grads = torch.autograd.grad((z * probe).sum(), leaves)
    return z.detach().cpu(), [x.cpu() for x in grads]


def linear_problem(seed, batch=2, n_t=15, n_pre=6, n_post=4, max_delay=8.0, dtype=F64, lam=0.7):
    g = torch.Generator().manual_seed(seed)
    x = torch.poisson(torch.full((batch, n_t, n_pre), lam, dtype=dtype), generator=g)
    w = torch.randn(n_post, n_pre, generator=g, dtype=dtype)
    # fractional parts away from 0 and 1 so that finite differences stay on one piece
    delay = torch.randint(0, max(1, int(max_delay)), (n_post, n_pre), generator=g).to(dtype)
    delay += 0.1 + 0.8 * torch.rand(n_post, n_pre, generator=g, dtype=dtype)
    return x, w, delay


def run_linear(backend, x, w, delay, mode, device, max_delay=None, probe_seed=7):
    leaves = [t.detach().to(device).clone().requires_grad_() for t in (x, w, delay)]
    y = ops.delayed_linear(*leaves, mode, max_delay=max_delay, backend=backend)
    g = torch.Generator().manual_seed(probe_seed)
    probe = torch.randn(y.shape, generator=g, dtype=y.dtype).to(device)
    grads = torch.autograd.grad((y * probe).sum(), leaves)
    return y.detach().cpu(), [t.cpu() for t in grads]


def assert_grads_close(got, want, rtol):
    assert len(got) == len(want)
    for a, b, name in zip(got, want, ("input", "weight", "delay"), strict=False):
        scale = b.abs().max().clamp_min(1e-30)
        err = float((a - b).abs().max() / scale)
        assert err <= rtol, f"gradient w.r.t. {name}: relative error {err:.3g} > {rtol:g}"


def tol(dtype):
    return 1e-6 if dtype == F64 else 1e-4


# ----------------------------------------------------------------------------- recurrent


@pytest.mark.parametrize("mode", ["round", "interpolate"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recurrent_matches_autograd(impl, mode, seed):
    backend, device = impl
    drive, w, delay = recurrent_problem(seed)
    z_k, g_k = run_recurrent(backend, drive, w, delay, mode, device)
    z_a, g_a = run_recurrent("autograd", drive, w, delay, mode, "cpu")
    assert z_a.sum() > 20, "the test needs recurrent spikes to mean anything"
    assert torch.equal(z_k, z_a)
    for g in g_a:
        assert g.abs().max() > 0
    assert_grads_close(g_k, g_a, 1e-6)


@pytest.mark.parametrize("refractory", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("mode", ["round", "interpolate"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recurrent_refractory_matches_autograd(impl, mode, seed, refractory):
    backend, device = impl
    drive, w, delay = recurrent_problem(seed)
    z_k, g_k = run_recurrent(backend, drive, w, delay, mode, device, refractory=refractory)
    z_a, g_a = run_recurrent("autograd", drive, w, delay, mode, "cpu", refractory=refractory)
    z_0, _ = run_recurrent("autograd", drive, w, delay, mode, "cpu")
    assert z_a.sum() > 20, "the test needs recurrent spikes to mean anything"
    if refractory <= 1:
        assert torch.equal(z_a, z_0)
    else:  # the period has an effect: fewer spikes, none within it
        assert z_a.sum() < z_0.sum()
        for b, i in torch.nonzero(z_a.sum(1) > 1).tolist():
            assert int(torch.nonzero(z_a[b, :, i]).flatten().diff().min()) >= refractory
    assert torch.equal(z_k, z_a)
    for g in g_a:
        assert g.abs().max() > 0
    assert_grads_close(g_k, g_a, 1e-6)


def test_recurrent_refractory_hand_example(impl):
    """Constant strong drive, no recurrence: after its first spike the neuron fires every
    4 steps (3 held steps, then one step from the reset value to above threshold)."""
    backend, device = impl
    n_t = 30
    drive = torch.full((1, n_t, 1), 10.0, dtype=F64)
    w = torch.zeros(1, 1, dtype=F64)
    delay = torch.zeros(1, 1, dtype=F64)
    z_free, _ = run_recurrent(backend, drive, w, delay, "round", device)
    z, grads = run_recurrent(backend, drive, w, delay, "round", device, refractory=4)
    free = torch.nonzero(z_free[0, :, 0]).flatten().tolist()
    spikes = torch.nonzero(z[0, :, 0]).flatten().tolist()
    assert free[0] == spikes[0] <= 2  # the same first spike, early
    assert free[1] == free[0] + 1  # without a refractory period: a spike every step
    assert spikes == list(range(spikes[0], n_t, 4))
    z_a, g_a = run_recurrent("autograd", drive, w, delay, "round", "cpu", refractory=4)
    assert torch.equal(z, z_a)
    assert_grads_close(grads[:1], g_a[:1], 1e-6)


REFRACTORY_CASES = {
    # name: (problem kwargs, refractory); T = 40 unless given
    "batch_11": ({"batch": 11, "n": 9}, 3),  # partial SIMD chunk on the CPU
    "batch_40": ({"batch": 40, "n": 5, "n_t": 25}, 4),  # 16-lane chunks
    "n_70": ({"n": 70, "n_t": 30, "rate": 0.15}, 2),  # several bitmask words
    "period_T_minus_1": ({}, 39),
    "period_T": ({}, 40),
    "period_beyond_T": ({}, 10**6),
    "float32": ({"dtype": F32}, 3),
}


@pytest.mark.parametrize("mode", ["round", "interpolate"])
@pytest.mark.parametrize("case", sorted(REFRACTORY_CASES))
def test_recurrent_refractory_edge_cases_match_reference(impl, case, mode):
    backend, device = impl
    kwargs, refractory = REFRACTORY_CASES[case]
    drive, w, delay = recurrent_problem(6, **kwargs)
    z_k, g_k = run_recurrent(backend, drive, w, delay, mode, device, refractory=refractory)
    z_r, g_r = run_recurrent("reference", drive, w, delay, mode, "cpu", refractory=refractory)
    assert z_r.sum() > 0
    assert torch.equal(z_k, z_r)
    assert_grads_close(g_k, g_r, tol(drive.dtype))
    if refractory >= z_r.shape[1] - 1:
        assert z_r.sum(1).max() == 1  # at most one spike per neuron


def test_kernels_check_and_clamp_the_refractory_period(cpu_kernels):
    """Negative periods are refused; periods beyond T (even past int32) act as T."""
    drive, w, d, *consts = _lif_args()
    n_t = drive.shape[1]
    grad = torch.randn(drive.shape, generator=torch.Generator().manual_seed(3), dtype=F64)
    for kernels in (cpu_kernels, cpu_kernels.emu):
        fwd = (drive, w, d, *consts[:4], consts[5], consts[6])
        with pytest.raises(RuntimeError, match="refractory"):
            kernels.lif_forward(*fwd, -1)
        z, u = kernels.lif_forward(*fwd, n_t)
        with pytest.raises(RuntimeError, match="refractory"):
            kernels.lif_backward(grad, z, u, w, d, *consts[:7], -1)
        z_big, u_big = kernels.lif_forward(*fwd, 2**40)
        assert torch.equal(z_big, z) and torch.equal(u_big, u)
        g = kernels.lif_backward(grad, z, u, w, d, *consts[:7], n_t)
        g_big = kernels.lif_backward(grad, z, u, w, d, *consts[:7], 2**40)
        for a, b in zip(g_big, g, strict=True):
            assert torch.equal(a, b)


RECURRENT_CASES = {
    # name: (problem kwargs, max_delay, dtype)
    "batch1": ({"batch": 1}, None, F64),
    "max_delay0": ({}, 0, F64),
    "delays_beyond_T": ({"max_delay": 90.0}, None, F64),  # T = 40
    "long_delays_clamped": ({"max_delay": 90.0}, 55.0, F64),
    "silent_neurons": ({}, None, F64),
    "noncontiguous": ({}, None, F64),
    "batch_11": ({"batch": 11, "n": 9}, None, F64),  # partial SIMD chunk on the CPU
    "batch_40": ({"batch": 40, "n": 5, "n_t": 25}, None, F64),  # 16-lane chunks
    "n_70": ({"n": 70, "n_t": 30, "rate": 0.15}, None, F64),  # several bitmask words
    "float32": ({"dtype": F32}, None, F32),
    "float32_batch_40": ({"batch": 40, "n": 6, "n_t": 30, "dtype": F32}, None, F32),
    # CPU: passes of 64 lanes (4 groups of 16) and a partial last pass
    "batch_130": ({"batch": 130, "n": 6, "n_t": 25}, None, F64),
    # CPU: delays below 3 steps: whole-row arrivals forward, column blocks backward
    "short_delays_n_70": ({"n": 70, "n_t": 30, "rate": 0.15, "max_delay": 2.5}, None, F64),
    "short_delays_clamp_1000": ({"max_delay": 2.5}, 1000.0, F64),
    # CPU: delays whose rows do not fit L1 blocks (the backward's prefetching path)
    "long_delays_T_120": ({"n_t": 120, "max_delay": 90.0, "batch": 20, "n": 24}, None, F64),
}


@pytest.mark.parametrize("refractory", [0, 3])
@pytest.mark.parametrize("mode", ["round", "interpolate"])
def test_recurrent_long_delays_match_autograd(impl, mode, refractory):
    """Delays up to 70 steps (the CPU backward's path for rows that do not fit L1)."""
    backend, device = impl
    drive, w, delay = recurrent_problem(6, batch=4, n=10, n_t=100, max_delay=70.0, rate=0.2)
    z_k, g_k = run_recurrent(backend, drive, w, delay, mode, device, refractory=refractory)
    z_a, g_a = run_recurrent("autograd", drive, w, delay, mode, "cpu", refractory=refractory)
    assert z_a.sum() > 50
    assert torch.equal(z_k, z_a)
    assert_grads_close(g_k, g_a, 1e-6)


@pytest.mark.parametrize("mode", ["round", "interpolate"])
@pytest.mark.parametrize("case", sorted(RECURRENT_CASES))
def test_recurrent_edge_cases_match_reference(impl, case, mode):
    backend, device = impl
    kwargs, max_delay, dtype = RECURRENT_CASES[case]
    drive, w, delay = recurrent_problem(5, **kwargs)
    if case == "silent_neurons":
        drive[:, :, :3] = 0
        w[:3, :] = 0
    if case == "noncontiguous":
        drive = drive.transpose(1, 2).contiguous().transpose(1, 2)
        w = w.t().contiguous().t()
        delay = delay.t().contiguous().t()
        assert not drive.is_contiguous() and not w.is_contiguous()
    z_k, g_k = run_recurrent(backend, drive, w, delay, mode, device, max_delay)
    z_r, g_r = run_recurrent("reference", drive, w, delay, mode, "cpu", max_delay)
    assert z_r.sum() > 0
    assert torch.equal(z_k, z_r)
    assert_grads_close(g_k, g_r, tol(dtype))
    if case == "silent_neurons":
        assert z_k[:, :, :3].sum() == 0
    if case == "max_delay0":
        assert g_k[2].abs().max() == 0  # every delay clamped: no delay gradient


def test_recurrent_never_spiking_layer(impl):
    backend, device = impl
    drive, w, delay = recurrent_problem(8)
    drive.zero_()
    z_k, g_k = run_recurrent(backend, drive, w, delay, "interpolate", device)
    z_r, g_r = run_recurrent("reference", drive, w, delay, "interpolate", "cpu")
    assert z_k.sum() == 0 and torch.equal(z_k, z_r)
    assert g_k[1].abs().max() == 0 and g_k[2].abs().max() == 0  # no spikes: no w, d grads
    assert_grads_close(g_k[:1], g_r[:1], 1e-6)  # the drive still gets the surrogate gradient


def test_recurrent_round_and_interpolate_agree_on_integer_delays(impl):
    backend, device = impl
    drive, w, delay = recurrent_problem(3)
    delay = delay.round()
    z_r, g_r = run_recurrent(backend, drive, w, delay, "round", device)
    z_i, g_i = run_recurrent(backend, drive, w, delay, "interpolate", device)
    assert torch.equal(z_r, z_i)
    assert_grads_close(g_r, g_i, 1e-12)


def test_recurrent_round_mode_uses_brian2_rounding(impl):
    backend, device = impl
    drive, w, delay = recurrent_problem(4)
    delay[0, 1] = 2.5  # exactly half way: Brian2 rounds up
    z_r, _ = run_recurrent(backend, drive, w, delay, "round", device)
    z_i, _ = run_recurrent(backend, drive, w, torch.floor(delay + 0.5), "interpolate", device)
    assert torch.equal(z_r, z_i)


# ----------------------------------------------------------------------------- delayed_linear


@pytest.mark.parametrize("mode", ["round", "interpolate"])
@pytest.mark.parametrize("seed", [0, 1])
def test_linear_matches_autograd(impl, mode, seed):
    backend, device = impl
    x, w, delay = linear_problem(seed)
    y_k, g_k = run_linear(backend, x, w, delay, mode, device)
    y_a, g_a = run_linear("autograd", x, w, delay, mode, "cpu")
    torch.testing.assert_close(y_k, y_a, rtol=1e-12, atol=1e-12)
    assert_grads_close(g_k, g_a, 1e-10)


LINEAR_CASES = {
    "batch1": ({"batch": 1}, None, F64),
    "max_delay0": ({}, 0, F64),
    "delays_beyond_T": ({"max_delay": 40.0}, None, F64),  # T = 15
    "large_layer": ({"n_pre": 37, "n_post": 21, "n_t": 30, "max_delay": 20.0}, None, F64),
    "dense_real_input": ({"lam": 3.0}, None, F64),
    "no_input_spikes": ({"lam": 0.0}, None, F64),
    "noncontiguous": ({}, None, F64),
    "float32": ({"dtype": F32, "n_pre": 30, "n_post": 17}, None, F32),
}


@pytest.mark.parametrize("mode", ["round", "interpolate"])
@pytest.mark.parametrize("case", sorted(LINEAR_CASES))
def test_linear_edge_cases_match_reference(impl, case, mode):
    backend, device = impl
    kwargs, max_delay, dtype = LINEAR_CASES[case]
    x, w, delay = linear_problem(4, **kwargs)
    if case == "dense_real_input":
        x = x - 1.5  # real values of both signs, almost no zeros
    if case == "noncontiguous":
        x = x.transpose(1, 2).contiguous().transpose(1, 2)
        w = w.t().contiguous().t()
        assert not x.is_contiguous() and not w.is_contiguous()
    y_k, g_k = run_linear(backend, x, w, delay, mode, device, max_delay)
    y_r, g_r = run_linear("reference", x, w, delay, mode, "cpu", max_delay)
    rtol = 1e-12 if dtype == F64 else 1e-5
    torch.testing.assert_close(y_k, y_r, rtol=rtol, atol=rtol * float(y_r.abs().max() + 1))
    if case == "no_input_spikes":
        assert y_k.abs().max() == 0 and g_k[1].abs().max() == 0 and g_k[2].abs().max() == 0
        assert_grads_close(g_k[:1], g_r[:1], 1e-10)
        return
    assert_grads_close(g_k, g_r, 1e-10 if dtype == F64 else 1e-4)
    if case == "max_delay0":
        assert g_k[2].abs().max() == 0


def test_linear_gradcheck_interpolate(impl):
    backend, device = impl
    x, w, delay = linear_problem(1, batch=2, n_t=8, n_pre=3, n_post=2, max_delay=4)
    leaves = [t.to(device).clone().requires_grad_() for t in (x, w, delay)]
    assert torch.autograd.gradcheck(
        lambda a, b, c: ops.delayed_linear(a, b, c, "interpolate", max_delay=5, backend=backend),
        leaves,
    )


# ----------------------------------------------------------------------------- properties


def test_cpu_results_do_not_depend_on_the_thread_count(cpu_kernels):
    # batch 70 = 5 groups of 16 lanes: passes of 4, 2 and 1 groups for 1, 2 and 3 threads
    drive, w, delay = recurrent_problem(11, batch=70, n=40, n_t=50, dtype=F32, rate=0.2)
    x, wl, dl = linear_problem(2, batch=5, n_t=40, n_pre=33, n_post=20, dtype=F32)
    before = torch.get_num_threads()
    long_delay = delay * 8  # up to 72 steps: the backward's path for long delays
    # batch 20 = 3 groups of 8 lanes: passes of 16 and 8 lanes
    small = recurrent_problem(13, batch=20, n=40, n_t=50, dtype=F32, rate=0.2)
    results = []
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            results.append(
                (
                    run_recurrent("cpu", drive, w, delay, "interpolate", "cpu"),
                    run_recurrent("cpu", drive, w, delay, "interpolate", "cpu", refractory=3),
                    run_recurrent("cpu", drive, w, long_delay, "round", "cpu"),
                    run_recurrent("cpu", *small, "interpolate", "cpu"),
                    run_linear("cpu", x, wl, dl, "interpolate", "cpu"),
                )
            )
    finally:
        torch.set_num_threads(before)
    first = results[0]
    for result in results[1:]:
        for (y, g), (y0, g0) in zip(result, first, strict=True):
            assert torch.equal(y, y0)
            for a, b in zip(g, g0, strict=True):
                assert torch.equal(a, b)


BACKWARD_ORDER_CASES = {
    # name: (problem kwargs, dtype); batch 4 and 9: 4 and 8 lanes per pass, delays up to 70
    # steps (rows beyond the L1 blocks): where "auto" goes by column for float32
    "f32_lanes4": ({"batch": 4, "n": 33, "n_t": 90, "max_delay": 70.0, "rate": 0.2}, F32),
    "f32_lanes8": ({"batch": 9, "n": 20, "n_t": 90, "max_delay": 70.0, "rate": 0.2}, F32),
    "f64_lanes4": ({"batch": 3, "n": 20, "n_t": 90, "max_delay": 70.0, "rate": 0.2}, F64),
    "f64_short_delays": ({"batch": 4, "n": 12, "n_t": 40, "max_delay": 5.0}, F64),
}


@pytest.mark.parametrize("refractory", [0, 3])
@pytest.mark.parametrize("mode", ["round", "interpolate"])
@pytest.mark.parametrize("case", sorted(BACKWARD_ORDER_CASES))
def test_cpu_backward_orders_give_the_same_bits(cpu_kernels, monkeypatch, case, mode, refractory):
    """The backward's dense sum by presynaptic neuron and by postsynaptic column."""
    kwargs, dtype = BACKWARD_ORDER_CASES[case]
    problem = recurrent_problem(21, dtype=dtype, **kwargs)
    results = {}
    for order in ("neuron", "column", "auto"):
        monkeypatch.setenv("SPATIALSNN_CPU_BACKWARD_ORDER", order)
        results[order] = run_recurrent("cpu", *problem, mode, "cpu", refractory=refractory)
    (z_n, g_n), (z_c, g_c) = results["neuron"], results["column"]
    assert z_n.sum() > 50
    assert torch.equal(z_n, z_c)
    for a, b in zip(g_c + results["auto"][1], g_n + g_n, strict=True):
        assert torch.equal(a, b)
    if dtype == F64:  # and the column order against the oracle
        z_a, g_a = run_recurrent("autograd", *problem, mode, "cpu", refractory=refractory)
        assert torch.equal(z_c, z_a)
        assert_grads_close(g_c, g_a, 1e-6)


def test_cpu_backward_order_variable_is_checked(cpu_kernels, monkeypatch):
    monkeypatch.setenv("SPATIALSNN_CPU_BACKWARD_ORDER", "diagonal")
    with pytest.raises(RuntimeError, match="SPATIALSNN_CPU_BACKWARD_ORDER='diagonal'"):
        run_recurrent("cpu", *recurrent_problem(1), "interpolate", "cpu")


@pytest.mark.parametrize("refractory", [0, 7])
def test_emulated_cuda_and_cpu_kernels_agree_on_a_larger_problem(cpu_kernels, refractory):
    drive, w, delay = recurrent_problem(12, batch=6, n=45, n_t=120, max_delay=60.0, rate=0.1)
    args = (C.alpha, C.beta, C.gamma, 1.0)
    d = delay.clamp(0, 60)
    for mode in ("round", "interpolate"):
        z1, u1 = cpu_kernels.lif_forward(drive, w, d, *args, mode, 60, refractory)
        z2, u2 = cpu_kernels.emu.lif_forward(drive, w, d, *args, mode, 60, refractory)
        assert torch.equal(z1, z2) and z1.sum() > 100
        torch.testing.assert_close(u1, u2, rtol=0, atol=0)
        probe = torch.randn(z1.shape, generator=torch.Generator().manual_seed(0), dtype=F64)
        g1 = cpu_kernels.lif_backward(probe, z1, u1, w, d, *args, 25.0, mode, 60, refractory)
        g2 = cpu_kernels.emu.lif_backward(probe, z2, u2, w, d, *args, 25.0, mode, 60, refractory)
        assert_grads_close(g1, g2, 1e-10)


# ----------------------------------------------------------------------------- torch.library


def _lif_args(dtype=F64, requires_grad=False, refractory=0):
    drive, w, delay = recurrent_problem(2, batch=2, n_t=12, n=5, max_delay=4.0, dtype=dtype)
    ts = [t.requires_grad_(requires_grad) for t in (drive, w, delay.clamp(0, 4))]
    return (*ts, C.alpha, C.beta, C.gamma, 1.0, 25.0, "interpolate", 4, refractory)


def test_opcheck_sample_has_refractory_effects(cpu_kernels):
    z0, _ = torch.ops.spatialsnn.lif_recurrent(*_lif_args())
    z3, _ = torch.ops.spatialsnn.lif_recurrent(*_lif_args(refractory=3))
    assert 0 < z3.sum() < z0.sum()


def _linear_args(requires_grad=False):
    x, w, delay = linear_problem(3, batch=2, n_t=10, n_pre=4, n_post=3, max_delay=5)
    return (*[t.requires_grad_(requires_grad) for t in (x, w, delay)], "interpolate", 6)


@pytest.mark.parametrize("refractory", [0, 3])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_opcheck_forward_ops(cpu_kernels, requires_grad, refractory):
    torch.library.opcheck(
        torch.ops.spatialsnn.lif_recurrent, _lif_args(F64, requires_grad, refractory)
    )
    torch.library.opcheck(torch.ops.spatialsnn.delayed_linear, _linear_args(requires_grad))


@pytest.mark.parametrize("refractory", [0, 3])
def test_opcheck_backward_ops(cpu_kernels, refractory):
    drive, w, d, *consts = _lif_args(refractory=refractory)
    z, u = torch.ops.spatialsnn.lif_recurrent(drive, w, d, *consts)
    grad = torch.randn(z.shape, generator=torch.Generator().manual_seed(1), dtype=F64)
    torch.library.opcheck(torch.ops.spatialsnn.lif_recurrent_backward, (grad, z, u, w, d, *consts))
    x, wl, dl, mode, kmax = _linear_args()
    gy = torch.randn(2, 10, 3, generator=torch.Generator().manual_seed(2), dtype=F64)
    torch.library.opcheck(torch.ops.spatialsnn.delayed_linear_grad_input, (gy, wl, dl, mode, kmax))
    torch.library.opcheck(
        torch.ops.spatialsnn.delayed_linear_grad_params, (gy, x, wl, dl, mode, kmax)
    )


@pytest.mark.parametrize("refractory", [0, 3])
def test_ops_work_under_torch_compile(cpu_kernels, refractory):
    drive, w, d, *consts = _lif_args(F64, requires_grad=True, refractory=refractory)
    x, wl, dl, mode, kmax = _linear_args(requires_grad=True)

    def step(drive, w, d, x, wl, dl):
        z, _ = torch.ops.spatialsnn.lif_recurrent(drive, w, d, *consts)
        y = torch.ops.spatialsnn.delayed_linear(x, wl, dl, mode, kmax)
        return (z * torch.arange(z.numel()).reshape(z.shape)).sum() + (y * y).sum()

    inputs = (drive, w, d, x, wl, dl)
    eager = torch.autograd.grad(step(*inputs), inputs)
    compiled = torch.compile(step, backend="aot_eager", fullgraph=True)
    traced = torch.autograd.grad(compiled(*inputs), inputs)
    for a, b in zip(traced, eager, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_u_output_is_not_differentiable(cpu_kernels):
    drive, w, d, *consts = _lif_args(F64, requires_grad=True)
    z, u = torch.ops.spatialsnn.lif_recurrent(drive, w, d, *consts)
    assert z.requires_grad and not u.requires_grad


# ----------------------------------------------------------------------------- dispatch


def test_auto_picks_the_cpu_kernel_for_cpu_tensors(cpu_kernels, monkeypatch):
    monkeypatch.delenv("SPATIALSNN_BACKEND", raising=False)
    assert ops.resolve_backend("auto", "cpu", F32) == "cpu"
    assert ops.resolve_backend("auto", "cpu", F64) == "cpu"
    assert ops.resolve_backend("auto", "cpu", torch.float16) == "reference"
    assert ops.resolve_backend("auto", "meta", F32) == "reference"
    assert "cpu" in ops.available_backends()


def test_environment_variable_forces_a_backend(cpu_kernels, monkeypatch):
    monkeypatch.setenv("SPATIALSNN_BACKEND", "reference")
    assert ops.resolve_backend("auto", "cpu", F32) == "reference"
    assert ops.resolve_backend("cpu", "cpu", F32) == "cpu"  # explicit requests win
    monkeypatch.setenv("SPATIALSNN_BACKEND", "no-such-backend")
    with pytest.raises(ValueError, match="SPATIALSNN_BACKEND"):
        ops.resolve_backend("auto")


def test_auto_falls_back_to_reference_with_one_warning(monkeypatch):
    monkeypatch.delenv("SPATIALSNN_BACKEND", raising=False)
    monkeypatch.setattr(_cpu, "status", lambda: (False, "no compiler (test)"))
    monkeypatch.setattr(ops, "_WARNED", set())
    drive, w, delay = recurrent_problem(0, n_t=10)
    with pytest.warns(ops.KernelUnavailableWarning, match="no compiler"):
        z1 = ops.lif_recurrent(drive, w, delay, alpha=C.alpha, beta=C.beta, gamma=C.gamma)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        z2 = ops.lif_recurrent(drive, w, delay, alpha=C.alpha, beta=C.beta, gamma=C.gamma)
    z_ref, _ = run_recurrent("reference", drive, w, delay, "interpolate", "cpu")
    assert torch.equal(z1, z_ref) and torch.equal(z2, z_ref)


def test_explicit_kernel_backend_raises_when_unavailable(monkeypatch):
    error = _build.KernelBuildError("cannot build (test)")
    monkeypatch.setattr(_build, "_LOADED", {"cpu": error})
    x, w, delay = linear_problem(0)
    with pytest.raises(_build.KernelBuildError, match="cannot build"):
        ops.delayed_linear(x, w, delay, backend="cpu")


def test_kernel_backend_refuses_tensors_of_another_device(cpu_kernels):
    x, w, delay = linear_problem(0)
    with pytest.raises(ValueError, match="CUDA tensors"):
        ops.delayed_linear(x, w, delay, backend="cuda")
    with pytest.raises(TypeError, match="dtype"):
        ops.delayed_linear(x.half(), w.half(), delay.half(), backend="cpu")


@pytest.mark.cuda
def test_auto_picks_the_cuda_kernel_for_cuda_tensors(monkeypatch):
    monkeypatch.delenv("SPATIALSNN_BACKEND", raising=False)
    assert ops.resolve_backend("auto", "cuda", F32) == "cuda"


# ----------------------------------------------------------------------------- build


def test_build_cache_location_and_tag(tmp_path, monkeypatch):
    monkeypatch.setenv("SPATIALSNN_CACHE_DIR", str(tmp_path))
    folder = _build.build_dir("cpu")
    assert folder.parent.parent == tmp_path
    assert torch.__version__.split("+")[0] in folder.parent.name
    assert folder.name.startswith("spatialsnn_cpu_")


def test_build_lock_gives_up_with_instructions(tmp_path):
    lock = tmp_path / "x.lock"
    with _build.build_lock(lock, timeout=5):
        with pytest.raises(_build.KernelBuildError, match="SPATIALSNN_BUILD_TIMEOUT"):
            with _build.build_lock(lock, timeout=0.3):
                pass  # pragma: no cover
    with _build.build_lock(lock, timeout=0.3):  # released: free again
        pass


def test_failed_build_is_reported_once_with_instructions(tmp_path, monkeypatch):
    import torch.utils.cpp_extension as cpp

    monkeypatch.setenv("SPATIALSNN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_build, "_LOADED", {})
    calls = []

    def broken_load(**kwargs):
        calls.append(kwargs["name"])
        raise RuntimeError("Error building extension: compiler exploded (test)")

    monkeypatch.setattr(cpp, "load", broken_load)
    with pytest.raises(_build.KernelBuildError) as err:
        _build.load_cpu()
    message = str(err.value)
    for needle in ("compiler exploded", "SPATIALSNN_BACKEND=reference", "spatialsnn doctor"):
        assert needle in message
    assert len(calls) == 2  # with OpenMP, then without
    with pytest.raises(_build.KernelBuildError):
        _build.load_cpu()
    assert len(calls) == 2  # remembered: no second attempt in this process
    assert _build.cpu_status() == (False, message)


def test_stale_torch_build_lock_is_removed(tmp_path, monkeypatch):
    import torch.utils.cpp_extension as cpp

    monkeypatch.setenv("SPATIALSNN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_build, "_LOADED", {})
    folder = _build.build_dir("cpu")
    folder.mkdir(parents=True)
    (folder / "lock").write_text("")  # left by a killed build; torch would wait forever
    seen = {}

    def fake_load(**kwargs):
        seen["lock_exists"] = (folder / "lock").exists()
        return "module"

    monkeypatch.setattr(cpp, "load", fake_load)
    assert _build.load_cpu() == "module"
    assert seen == {"lock_exists": False}
    assert (folder / f"{folder.name}.ok").is_file()
