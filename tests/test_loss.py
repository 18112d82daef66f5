import math

import pytest
import torch

from spatialsnn import SNNLoss, SNNOutput, SpatialSNN
from spatialsnn.loss import communicability_cost, connection_cost, spike_count_penalty
from spatialsnn.readout import readout

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
