"""The discretisation of DESIGN §2.2, checked against hand-derived values."""

import math

import pytest
import torch

from spatialsnn import SpatialSNN, ops
from spatialsnn.dynamics import lif_coefficients

DT, TAU_M, TAU_S = 1.0, 20.0, 5.0
ALPHA, BETA = math.exp(-DT / TAU_M), math.exp(-DT / TAU_S)
GAMMA = TAU_S / (TAU_S - TAU_M) * (BETA - ALPHA)


def test_coefficients_sample_the_continuous_solution():
    c = lif_coefficients(DT, TAU_M, TAU_S)
    assert (c.alpha, c.beta) == (ALPHA, BETA)
    # V(t) after a unit current jump at t=0 solves tau_m V' = -V + I: sample at t = dt.
    v_dt = TAU_S / (TAU_S - TAU_M) * (math.exp(-DT / TAU_S) - math.exp(-DT / TAU_M))
    assert c.gamma == pytest.approx(v_dt, rel=1e-14)
    # Equal time constants: the limit (dt/tau) exp(-dt/tau).
    eq = lif_coefficients(0.5, 10.0, 10.0)
    assert eq.gamma == pytest.approx(0.05 * math.exp(-0.05), rel=1e-14)
    near = lif_coefficients(0.5, 10.0, 10.0 + 1e-6)
    assert near.gamma == pytest.approx(eq.gamma, rel=1e-6)


def _golden_network(delay_to_1: float):
    """Three neurons; see test_golden_trace for the story."""
    n = 3
    d0 = 1.1 / GAMMA  # neuron 0: V(1) = 1.1 -> spikes at t = 1
    drive = torch.zeros(1, 12, n, dtype=torch.float64)
    drive[0, 0, 0] = d0
    drive[0, 1, 0] = -BETA * d0  # cancels neuron 0's current right after its spike
    w = torch.zeros(n, n, dtype=torch.float64)  # [post, pre]
    delay = torch.zeros(n, n, dtype=torch.float64)
    w[1, 0], delay[1, 0] = 30.0, delay_to_1  # 0 -> 1, big enough to fire neuron 1
    w[2, 0], delay[2, 0] = 5.0, 1.0  # 0 -> 2, sub-threshold (peak V = 5 * 0.158)
    w[1, 1] = -30.0 * BETA  # self-connection, delay 0: cancels neuron 1's current
    return drive, w, delay


@pytest.mark.parametrize("backend", ["autograd", "reference"])
@pytest.mark.parametrize("mode", ["round", "interpolate"])
def test_golden_trace(backend, mode):
    # Neuron 0 spikes at t=1 (V(1) = gamma*d0 = 1.1), its current is cancelled in the
    # same step, so it never fires again. Its spike reaches neuron 1's current in the
    # synapses slot of step 1 + 2 = 3, hence V1(4) = 30*gamma = 1.33 -> spike at t=4
    # (one step after the arrival, as in Brian2). Neuron 1's self-connection has delay
    # 0: it arrives in the same step (t=4) and cancels I1 (30*beta - 30*beta = 0), so
    # neuron 1 fires exactly once; arriving one step later it would fire again at t=5.
    # Neuron 2 receives 5 at step 2: V2 peaks at 5 * 0.158 < 1, it never fires.
    drive, w, delay = _golden_network(2.0)
    z = ops.lif_recurrent(
        drive, w, delay, alpha=ALPHA, beta=BETA, gamma=GAMMA, mode=mode, backend=backend
    )
    times = {i: torch.nonzero(z[0, :, i]).flatten().tolist() for i in range(3)}
    assert times == {0: [1], 1: [4], 2: []}
    # Delay 1 instead of 2 moves neuron 1's spike one step earlier.
    drive, w, delay = _golden_network(1.0)
    z = ops.lif_recurrent(
        drive, w, delay, alpha=ALPHA, beta=BETA, gamma=GAMMA, mode=mode, backend=backend
    )
    assert torch.nonzero(z[0, :, 1]).flatten().tolist() == [3]


def test_golden_trace_through_the_model_and_output_voltage():
    # The same network as a SpatialSNN: positions at velocity 1 um/ms give delays
    # 0 -> 1 of 2 ms and 0 -> 2 of 1 ms; output 0 listens to hidden 1 with weight 2.
    model = SpatialSNN(2, 3, 1, dims=2, velocity=1.0, tau_mem=TAU_M, tau_syn=TAU_S).double()
    drive, w, _ = _golden_network(2.0)
    d0 = drive[0, 0, 0].item()
    with torch.no_grad():
        model.positions.copy_(torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]]))
        model.w_in.zero_()
        model.w_in[0, 0], model.w_in[0, 1] = d0, -BETA * d0
        model.w_rec.copy_(w)
        model.w_out.zero_()
        model.w_out[0, 1] = 2.0
    x = torch.zeros(1, 12, 2, dtype=torch.float64)
    x[0, 0, 0] = 1.0  # one spike on channel 0 at t=0
    x[0, 1, 1] = 1.0  # one spike on channel 1 at t=1
    model.eval()
    out = model(x)
    assert torch.nonzero(out.hidden_spikes[0, :, 1]).flatten().tolist() == [4]
    # Hidden 1 spikes at t=4: output current jumps by 2 in step 4's synapses slot, so
    # V_out is 0 up to t=4 and then samples the continuous solution
    # 2 tau_s/(tau_s - tau_m) (exp(-s/tau_s) - exp(-s/tau_m)), s = t - 4.
    v = out.output_voltage[0, :, 0]
    assert v[:5].abs().max() == 0
    for t in range(5, 12):
        s = t - 4
        expected = 2 * TAU_S / (TAU_S - TAU_M) * (math.exp(-s / TAU_S) - math.exp(-s / TAU_M))
        assert v[t].item() == pytest.approx(expected, rel=1e-12)


def test_input_bin_with_several_spikes_counts():
    # Two spikes of one channel in one step deliver twice the weight: with
    # w * gamma = 0.75, one spike gives V(1) = 0.75 (silent), two give 1.5 (spike).
    model = SpatialSNN(1, 1, 1, velocity=1.0).double()
    with torch.no_grad():
        model.w_in.fill_(0.75 / GAMMA)
        model.w_rec.zero_()
    model.eval()
    x = torch.zeros(1, 2, 1, dtype=torch.float64)
    x[0, 0, 0] = 2.0
    assert model(x).hidden_spikes[0, :, 0].tolist() == [0.0, 1.0]
    x[0, 0, 0] = 1.0
    assert model(x).hidden_spikes[0, :, 0].tolist() == [0.0, 0.0]
