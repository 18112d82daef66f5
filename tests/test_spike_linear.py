"""The event-driven input projection ``ops.spike_linear`` against the dense product.

The oracle is ``x @ weight.T`` in float64. Every compiled implementation is checked (the
CPU kernel, the CUDA kernel executed on the host, and the real CUDA kernel on a GPU), for
inputs of uint8 counts and of the weight's floating type.
"""

from __future__ import annotations

import pytest
import torch

from spatialsnn import SpatialSNN, ops
from spatialsnn.ops import _build, _library

F64 = torch.float64
IMPLS = ["cpu", "cuda-emulated", pytest.param("cuda", marks=pytest.mark.cuda)]


@pytest.fixture(scope="session")
def cpu_kernels():
    """The compiled CPU extension (built on first use; a build error fails the test)."""
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


def counts(seed, shape=(3, 40, 37), rate=0.05, dtype=F64):
    """Poisson spike counts (some bins hold 2 or more spikes)."""
    g = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.full(shape, rate, dtype=F64), generator=g).to(dtype)


def weight(seed, n_out=11, n_in=37, dtype=F64):
    g = torch.Generator().manual_seed(100 + seed)
    return torch.randn(n_out, n_in, generator=g, dtype=dtype)


def project(x, w, device, **kw):
    """y and dL/dw for the loss sum(y * probe), through ops.spike_linear."""
    w = w.detach().to(device).clone().requires_grad_()
    y = ops.spike_linear(x.to(device), w, **kw)
    probe = torch.randn(y.shape, generator=torch.Generator().manual_seed(5), dtype=y.dtype)
    (gw,) = torch.autograd.grad((y * probe.to(device)).sum(), w)
    return y.detach().cpu(), gw.cpu()


@pytest.mark.parametrize("rate", [0.0, 0.02, 0.3, 3.0])
@pytest.mark.parametrize("in_dtype", [torch.uint8, F64])
def test_event_driven_matches_the_dense_product(impl, rate, in_dtype):
    backend, device = impl
    x, w = counts(1, rate=rate).clamp_max(255), weight(1)
    y, gw = project(x.to(in_dtype), w, device, backend=backend, event_driven=True)
    y_ref, gw_ref = project(x, w, "cpu", backend="reference")
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gw, gw_ref, rtol=1e-12, atol=1e-12)
    assert y.dtype == F64


def test_float32_weights_with_byte_counts(impl):
    backend, device = impl
    x, w = counts(2, rate=0.1), weight(2, dtype=torch.float32)
    y, gw = project(x.to(torch.uint8), w, device, backend=backend, event_driven=True)
    y_ref, gw_ref = project(x.float(), w, "cpu", backend="reference")
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gw, gw_ref, rtol=1e-5, atol=1e-5)


def test_gradcheck_weight_and_float_input(impl):
    backend, device = impl
    x = counts(3, shape=(2, 6, 9), rate=0.4).to(device).requires_grad_()
    w = weight(3, n_out=4, n_in=9).to(device).requires_grad_()

    def f(a, b):
        return ops.spike_linear(a, b, backend=backend, event_driven=True)

    assert torch.autograd.gradcheck(f, (x, w))


@pytest.mark.parametrize("shape", [(0, 5, 7), (2, 0, 7), (2, 5, 0), (1, 1, 1)])
def test_empty_and_tiny_shapes(impl, shape):
    backend, device = impl
    x = counts(4, shape=shape, rate=0.5)
    w = weight(4, n_out=3, n_in=shape[2])
    y, gw = project(x, w, device, backend=backend, event_driven=True)
    y_ref, gw_ref = project(x, w, "cpu", backend="reference")
    assert y.shape == y_ref.shape and gw.shape == gw_ref.shape
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(gw, gw_ref)


def test_density_selects_the_path(cpu_kernels):
    w = weight(5).requires_grad_()
    sparse = counts(5, rate=0.01)
    dense = counts(5, rate=2.0)

    def path(x, **kw):
        return type(ops.spike_linear(x, w, **kw).grad_fn).__name__

    assert "spike_linear" in path(sparse)
    assert "spike_linear" not in path(dense)
    assert "spike_linear" not in path(sparse, event_driven=False)
    assert "spike_linear" not in path(sparse, backend="reference")


def test_other_input_dtypes_are_converted(cpu_kernels):
    x, w = counts(6, rate=0.2), weight(6)
    want = x @ w.T
    for dtype in (torch.int64, torch.int16, torch.float32, torch.bool):
        xx = (x > 0) if dtype == torch.bool else x.to(dtype)
        ref = xx.to(F64) @ w.T
        torch.testing.assert_close(ops.spike_linear(xx, w, event_driven=True), ref)
    torch.testing.assert_close(ops.spike_linear(x, w, event_driven=True), want)


def test_results_do_not_depend_on_the_thread_count(cpu_kernels):
    x, w = counts(7, shape=(6, 300, 50), rate=0.05, dtype=torch.float32), weight(7, 20, 50)
    w = w.float()
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            results.append(project(x.to(torch.uint8), w, "cpu", event_driven=True))
    finally:
        torch.set_num_threads(before)
    for y, gw in results[1:]:
        assert torch.equal(y, results[0][0]) and torch.equal(gw, results[0][1])


def test_bad_arguments_are_refused(cpu_kernels):
    x, w = counts(8), weight(8)
    with pytest.raises(ValueError, match="batch, time, n_in"):
        ops.spike_linear(x[0], w)
    with pytest.raises(ValueError, match="batch, time, n_in"):
        ops.spike_linear(x, w[:, :5])
    with pytest.raises(TypeError, match="floating"):
        ops.spike_linear(x, w.long())
    with pytest.raises(ValueError, match="compiled backend"):
        ops.spike_linear(x, w, backend="reference", event_driven=True)


def test_opcheck(cpu_kernels):
    x, w = counts(9, shape=(2, 7, 5), rate=0.3), weight(9, 3, 5)
    torch.library.opcheck(torch.ops.spatialsnn.spike_linear, (x, w))
    torch.library.opcheck(torch.ops.spatialsnn.spike_linear, (x.to(torch.uint8), w))
    torch.library.opcheck(torch.ops.spatialsnn.spike_linear, (x, w.requires_grad_()))
    grad = torch.randn(2, 7, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    torch.library.opcheck(torch.ops.spatialsnn.spike_linear_grad_weight, (grad, x))


def test_works_under_torch_compile(cpu_kernels):
    x, w = counts(10, shape=(2, 7, 5), rate=0.3), weight(10, 3, 5).requires_grad_()

    def step(w):
        return (torch.ops.spatialsnn.spike_linear(x, w) ** 2).sum()

    eager = torch.autograd.grad(step(w), w)
    compiled = torch.compile(step, backend="aot_eager", fullgraph=True)
    traced = torch.autograd.grad(compiled(w), w)
    torch.testing.assert_close(traced[0], eager[0], rtol=0, atol=0)


def test_model_takes_byte_counts_as_they_are(cpu_kernels):
    model = SpatialSNN(30, 12, 3, seed=0, w_in_mean=0.6, w_in_std=0.3, backend="cpu").double()
    x = counts(11, shape=(4, 60, 30), rate=0.05)
    out_b = model(x.to(torch.uint8))
    out_f = model(x)
    ref = SpatialSNN(30, 12, 3, seed=0, w_in_mean=0.6, w_in_std=0.3, backend="reference")
    out_r = ref.double()(x)
    assert out_b.hidden_spikes.sum() > 10
    assert torch.equal(out_b.hidden_spikes, out_f.hidden_spikes)
    assert torch.equal(out_b.hidden_spikes, out_r.hidden_spikes)
    torch.testing.assert_close(out_b.logits, out_r.logits, rtol=1e-10, atol=1e-12)
