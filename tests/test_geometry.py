import math
import warnings

import pytest
import torch

from spatialsnn.geometry import (
    DelayClampWarning,
    delay_steps,
    delays_from_positions,
    pairwise_distance,
    report_clamp,
)


def test_pairwise_distance_matches_hand_values():
    post = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    pre = torch.tensor([[0.0, 0.0], [0.0, 1.0], [6.0, 8.0]])
    d = pairwise_distance(post, pre)
    expected = torch.tensor([[0.0, 1.0, 10.0], [5.0, math.sqrt(9 + 9), 5.0]])
    torch.testing.assert_close(d, expected)


@pytest.mark.parametrize("dims", [1, 2, 3, 4])
def test_distance_gradient_is_zero_not_nan_at_coincidence(dims):
    p = torch.zeros(4, dims, dtype=torch.float64)
    p[2] = 1.0  # neurons 0, 1, 3 coincide; 2 is elsewhere
    p.requires_grad_(True)
    d = pairwise_distance(p)
    d.sum().backward()
    assert torch.isfinite(p.grad).all()
    # Analytic: dsum/dp_i = 2 * sum_j (p_i - p_j)/||p_i - p_j|| over j != coincident.
    unit = torch.ones(dims, dtype=torch.float64) / math.sqrt(dims)
    torch.testing.assert_close(p.grad[2], 2 * 3 * unit)
    torch.testing.assert_close(p.grad[0], -2 * unit)


def test_delays_are_distance_over_velocity():
    p = torch.tensor([[0.0, 0.0], [300.0, 400.0]])
    d = delays_from_positions(p, None, velocity=250.0)  # 500 um at 250 um/ms
    torch.testing.assert_close(d, torch.tensor([[0.0, 2.0], [2.0, 0.0]]))


@pytest.mark.parametrize("velocity", [0.0, -1.0])
def test_non_positive_velocity_is_refused(velocity):
    with pytest.raises(ValueError, match="velocity"):
        delays_from_positions(torch.zeros(2, 2), None, velocity)


def test_rounding_is_brian2s_half_up():
    # Brian2: int(d/dt + 0.5); a delay exactly at k + 0.5 steps goes to k + 1.
    d = torch.tensor([0.0, 0.49, 0.5, 1.4999, 1.5, 2.5, 3.5000001], dtype=torch.float64)
    assert delay_steps(d, dt=1.0).tolist() == [0, 0, 1, 1, 2, 3, 4]
    # dt = 0.5 ms: 1.25 ms is 2.5 steps -> 3
    assert delay_steps(torch.tensor([1.25], dtype=torch.float64), dt=0.5).tolist() == [3]


def test_clamp_is_reported_not_silent():
    d = torch.tensor([1.0, 7.0, 12.0])
    with pytest.warns(DelayClampWarning, match="exceed the maximum delay 5"):
        steps = delay_steps(d, dt=1.0, max_delay_steps=5)
    with pytest.warns(DelayClampWarning):
        assert report_clamp(d, 5.0) == 2
    assert steps.tolist() == [1, 5, 5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        delay_steps(d, dt=1.0, max_delay_steps=12)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="same number of dims"):
        pairwise_distance(torch.zeros(3, 2), torch.zeros(3, 3))
