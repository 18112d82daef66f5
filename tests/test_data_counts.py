"""SpikeCounts: events that index like the dense count tensor they stand for."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spatialsnn.data import Augment, SpikeCounts, SpikeDataset
from spatialsnn.data.shd import bin_spikes


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_counts(n=12, t=30, c=9, density=0.1, seed=0) -> torch.Tensor:
    g = gen(seed)
    hot = torch.rand(n, t, c, generator=g) < density
    counts = torch.randint(1, 4, (n, t, c), generator=g)
    counts[0, 0, 0] = 255 if density > 0 else 0
    return (hot * counts).to(torch.uint8)


def test_dense_round_trip_and_sizes():
    x = random_counts()
    x[5] = 0  # an empty sample
    counts = SpikeCounts.from_dense(x)
    assert counts.shape == x.shape and len(counts) == 12 and counts.numel() == x.numel()
    assert counts.nnz == int(x.count_nonzero())
    assert torch.equal(counts.to_dense(), x)
    assert np.array_equal(counts.numpy(), x.numpy())
    assert int(counts.sum()) == int(x.sum(dtype=torch.int64))
    assert int(counts.max()) == int(x.max())
    assert counts.nbytes < x.numel()  # 10 % dense: 7 bytes per event against 1 per bin
    assert "12 samples x 30 steps x 9 channels" in repr(counts)


@pytest.mark.parametrize(
    "index",
    [
        3,
        -1,
        np.int64(2),
        torch.tensor(4),
        slice(2, 9, 3),
        slice(None),
        [0, 0, 11],
        torch.tensor([7, 1, 7]),
        np.array([2, 5]),
        torch.arange(12) % 3 == 0,
        (3, 4),
        (slice(1, 4), slice(None), 2),
        (torch.tensor([1, 2]), 5, slice(None, 3)),
        ...,
    ],
    ids=repr,
)
def test_indexing_gives_what_the_dense_tensor_gives(index):
    x = random_counts()
    got, want = SpikeCounts.from_dense(x)[index], x[index]
    assert got.dtype == torch.uint8 and torch.equal(got, want)


def test_select_and_concat_keep_the_events():
    x = random_counts(seed=1)
    counts = SpikeCounts.from_dense(x)
    part = counts.select(torch.tensor([9, 2, 2]))
    assert isinstance(part, SpikeCounts) and torch.equal(part.to_dense(), x[[9, 2, 2]])
    both = SpikeCounts.concat([counts.select(slice(0, 5)), counts.select(slice(5, None))])
    assert torch.equal(both.to_dense(), x)
    with pytest.raises(ValueError, match="same number of steps"):
        SpikeCounts.concat([counts, SpikeCounts.from_dense(random_counts(t=4))])


def test_from_spikes_equals_dense_binning_including_saturation_and_the_window():
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 60, 9)
    times = rng.uniform(-5, 105, lengths.sum())
    units = rng.integers(0, 11, lengths.sum())
    extra_t, extra_u = np.full(300, 7.2), np.full(300, 4)  # a 10th sample: 300 spikes in a bin
    times, units = np.concatenate([times, extra_t]), np.concatenate([units, extra_u])
    lengths = np.append(lengths, 300)
    kw = dict(dt=2.5, n_steps=40, n_channels=11)
    dense, dropped = bin_spikes(times, units, lengths, **kw)
    counts, dropped_too = SpikeCounts.from_spikes(times, units, lengths, **kw)
    assert dropped_too == dropped > 0
    assert torch.equal(counts.to_dense(), dense) and int(counts.max()) == 255


def test_bad_construction_is_refused():
    with pytest.raises(ValueError, match="must lie in"):
        SpikeCounts.from_dense(torch.full((1, 2, 2), 256))
    with pytest.raises(ValueError, match="samples, time, channels"):
        SpikeCounts.from_dense(torch.zeros(2, 2))
    z = torch.zeros(0, dtype=torch.int64)
    with pytest.raises(ValueError, match="offsets"):
        SpikeCounts(torch.zeros(2, dtype=torch.int64), z, z, z, (2, 3, 4))


def test_dataset_of_events_behaves_like_the_dense_one():
    x, y = random_counts(seed=2), torch.arange(12) % 3
    dense, events = SpikeDataset(x, y, 1.0, 3), SpikeDataset(SpikeCounts.from_dense(x), y, 1.0, 3)
    assert len(events) == 12 and events.n_steps == 30 and events.n_channels == 9
    assert events.total_spikes() == dense.total_spikes() == int(x.sum(dtype=torch.int64))
    sub = events.subset(torch.tensor([4, 0]))
    assert isinstance(sub.x, SpikeCounts) and torch.equal(sub.x[:], x[[4, 0]])
    for (xa, ya), (xb, yb) in zip(
        dense.batches(5, shuffle=True, generator=gen(3)),
        events.batches(5, shuffle=True, generator=gen(3)),
        strict=True,
    ):
        assert xb.dtype == torch.float32 and torch.equal(xa, xb) and torch.equal(ya, yb)


@pytest.mark.parametrize(
    "aug",
    [
        Augment(),
        Augment(blend=1.0),
        Augment(shift=0),
        Augment(blend=0.0),
        Augment(shift=0, blend=0),
    ],
    ids=repr,
)
def test_augmenting_a_batch_of_events_equals_augmenting_the_dense_batch(aug):
    x, labels = random_counts(n=40, t=25, c=50, density=0.05, seed=3), torch.arange(40) % 3
    counts = SpikeCounts.from_dense(x)
    index = torch.randperm(40, generator=gen(4))[:24]
    want = aug(x[index], labels[index], generator=gen(5))
    got = aug.batch(counts, index, labels[index], generator=gen(5))
    assert got.dtype == torch.uint8 and torch.equal(got, want)
