import math

import pytest
import torch

from spatialsnn import SNNLoss, SNNOutput, SpatialSNN
from spatialsnn.loss import (
    communicability_cost,
    connection_cost,
    rate_penalty,
    spike_count_penalty,
)
from spatialsnn.readouts import readout

F64 = torch.float64


def test_spike_count_penalty_gradient_is_the_papers():
    # per spike of neuron i: (mean_b count_i - nu) / batch
    spikes = torch.zeros(2, 5, 3, dtype=F64)
    spikes[0, :3, 0] = 1  # neuron 0: counts 3, 0 -> mean 1.5
    spikes[:, :, 1] = 1  # neuron 1: counts 5, 5 -> mean 5
    spikes.requires_grad_()
    value = spike_count_penalty(spikes, nu=1.0)
    assert float(value.detach()) == pytest.approx(0.5 * (0.5**2 + 4.0**2 + 1.0**2))
    value.backward()
    assert spikes.grad[0, 0, 0] == pytest.approx(0.5 / 2)
    assert spikes.grad[1, 2, 1] == pytest.approx(4.0 / 2)
    assert spikes.grad[0, 0, 2] == pytest.approx(-1.0 / 2)


def test_connection_cost_hand_values():
    w = torch.tensor([[0.0, -2.0], [0.5, 0.0]], dtype=F64)
    d = torch.tensor([[0.0, 3.0], [3.0, 0.0]], dtype=F64)
    assert float(connection_cost(w, d, 1)) == pytest.approx(2 * 3 + 0.5 * 3)
    assert float(connection_cost(w, d, 2)) == pytest.approx(2 * 9 + 0.5 * 9)
    with pytest.raises(ValueError, match="exponent"):
        connection_cost(w, d, 3)


def test_communicability_cost_two_nodes():
    # |W| = [[0, a], [a, 0]]: S^-1/2 |W| S^-1/2 = [[0, 1], [1, 0]], expm -> sinh(1) off-diagonal
    a, dist = 0.7, 2.0
    w = torch.tensor([[0.0, a], [-a, 0.0]], dtype=F64)
    d = torch.tensor([[0.0, dist], [dist, 0.0]], dtype=F64)
    assert float(communicability_cost(w, d)) == pytest.approx(2 * a * dist * math.sinh(1.0))


@pytest.mark.parametrize("into_positions", [True, False])
def test_connection_cost_flows_into_positions_only_when_asked(into_positions):
    model = SpatialSNN(3, 4, 2, seed=0)
    out = SNNOutput(
        logits=torch.zeros(1, 2, requires_grad=True),
        hidden_spikes=torch.zeros(1, 5, 4),
        output_voltage=torch.zeros(1, 5, 2),
        dt=1.0,
    )
    loss = SNNLoss(connection_cost=1.0, cost_exponent=2, cost_into_positions=into_positions)
    total, parts = loss(out, torch.tensor([0]), model)
    total.backward()
    assert parts["connection_cost"] > 0
    assert model.w_rec.grad.abs().max() > 0
    moved = model.positions.grad is not None and model.positions.grad.abs().max() > 0
    assert moved == into_positions


def test_readouts():
    n_t = 50
    v = torch.ones(2, n_t, 3, dtype=F64)
    expected = (1 - math.exp(-1)) / (1 - math.exp(-1 / n_t)) / n_t  # geometric series
    assert torch.allclose(readout(v, "exp_mean"), torch.full((2, 3), expected, dtype=F64))
    ramp = torch.arange(n_t, dtype=F64).view(1, n_t, 1).expand(2, n_t, 3)
    assert torch.equal(readout(ramp, "sum"), torch.full((2, 3), n_t * (n_t - 1) / 2, dtype=F64))
    assert torch.equal(readout(ramp, "max"), torch.full((2, 3), n_t - 1.0, dtype=F64))
    assert torch.equal(readout(ramp, "last"), torch.full((2, 3), n_t - 1.0, dtype=F64))
    with pytest.raises(ValueError, match="readout"):
        readout(v, "median")


def test_rate_penalty_is_zero_inside_the_range_and_quadratic_outside():
    rates = torch.tensor([5.0, 20.0, 80.0], dtype=F64)
    assert float(rate_penalty(rates, 0.0, 100.0)) == 0.0
    # 5 Hz is 5 below a 10 Hz floor, 80 Hz is 30 above a 50 Hz ceiling
    assert float(rate_penalty(rates, 10.0, 50.0)) == pytest.approx(0.5 * (5**2 + 30**2))


def test_rate_penalty_with_equal_bounds_is_the_papers_spike_regulariser():
    # spike_reg * 0.5 (count - nu)^2 == rate_reg * 0.5 (rate - nu/D)^2 with rate_reg = spike_reg D^2
    g = torch.Generator().manual_seed(0)
    spikes = (torch.rand(8, 200, 6, generator=g, dtype=F64) < 0.05).to(F64)
    duration_s, nu = 0.2, 3.0  # 200 steps of 1 ms
    paper = 1e-3 * spike_count_penalty(spikes, nu)
    rates = spikes.sum(1).mean(0) / duration_s
    ours = 1e-3 * duration_s**2 * rate_penalty(rates, nu / duration_s, nu / duration_s)
    assert float(ours) == pytest.approx(float(paper), rel=1e-12)


def test_loss_reads_the_rates_in_spikes_per_second_at_any_substep():
    model = SpatialSNN(4, 6, 2, seed=1, w_in_mean=0.8, backend="reference")
    x = (torch.rand(3, 40, 4, generator=torch.Generator().manual_seed(2)) < 0.3).float()
    loss = SNNLoss(rate_reg=1.0, rate_range=(0.0, 0.0))  # every spike is penalised
    for substeps in (1, 4):
        out = model(x, substeps=substeps)
        assert out.dt == model.dt / substeps
        _, parts = loss(out, torch.tensor([0, 1, 0]), model)
        expected = 0.5 * float((out.rates() ** 2).sum())
        assert out.rates().sum() > 0
        assert parts["rate"] == pytest.approx(expected, rel=1e-6)
        # rates are per second of simulated time: 40 steps of 1 ms = 0.04 s
        counts = out.hidden_spikes.sum(1).mean(0)
        assert torch.allclose(out.rates(), counts / 0.04)
