"""Synthetic temporal tasks and the SpikeDataset container."""

from __future__ import annotations

import json

import pytest
import torch

from spatialsnn.data import SpikeDataset, dataset_from_info, make_task

SMALL = {"n_train": 64, "n_test": 32}


@pytest.mark.parametrize("task", ["timing", "randman"])
def test_same_seed_same_data_other_seed_other_data(task):
    a_train, a_test = make_task(task, seed=3, **SMALL)
    b_train, b_test = make_task(task, seed=3, **SMALL)
    c_train, _ = make_task(task, seed=4, **SMALL)
    assert torch.equal(a_train.x, b_train.x) and torch.equal(a_train.y, b_train.y)
    assert torch.equal(a_test.x, b_test.x) and torch.equal(a_test.y, b_test.y)
    assert not torch.equal(a_train.x, c_train.x)
    assert not torch.equal(a_train.x[:32], a_test.x)  # the splits are different draws


@pytest.mark.parametrize("task", ["timing", "randman"])
def test_shapes_labels_and_info(task):
    train, test = make_task(task, seed=0, dt=0.5, n_channels=12, n_classes=3, **SMALL)
    assert train.x.shape == (64, 100, 12) and test.x.shape == (32, 100, 12)
    assert train.x.dtype == torch.uint8 and train.y.dtype == torch.int64
    assert set(train.y.tolist()) == {0, 1, 2} and train.n_classes == 3 and train.dt == 0.5
    info = json.loads(json.dumps(train.info))
    assert info["source"] == "synthetic" and info["task"] == task and info["split"] == "train"
    again = dataset_from_info(info, "test")
    assert torch.equal(again.x, test.x) and torch.equal(again.y, test.y)


def test_timing_has_no_rate_information():
    # without background noise every channel fires exactly once in every sample, so
    # per-channel spike counts are identical across classes
    train, _ = make_task("timing", seed=1, noise=0.0, **SMALL)
    assert bool((train.x.sum(1) == 1).all())
    # with the default noise, class-conditional mean counts agree up to the noise
    train, _ = make_task("timing", seed=1, n_train=2048, n_test=8)
    counts = train.x.sum(1, dtype=torch.float32)  # [n, channels]
    means = torch.stack([counts[train.y == k].mean(0) for k in range(4)])
    assert float((means - means.mean(0)).abs().max()) < 0.1  # noise alone: ~0.2 per channel


def test_timing_classes_differ_only_in_the_interval():
    train, _ = make_task("timing", seed=2, noise=0.0, jitter=0, **SMALL)
    first_spike = train.x.argmax(1).float()  # [n, channels], the one spike per channel
    c = first_spike.shape[1]
    gap = first_spike[:, c // 2 :].mean(1) - first_spike[:, : c // 2].mean(1)
    intervals = torch.linspace(15, 60, 4).round()
    offset = gap - intervals[train.y]
    assert torch.allclose(offset, offset[0].expand_as(offset))  # shared pattern, class interval
    # the within-volley pattern (relative to the sample's onset) is the same for all classes
    rel = first_spike[:, : c // 2] - first_spike[:, : c // 2].min(1, keepdim=True).values
    assert bool((rel == rel[0]).all())


def test_randman_one_spike_per_channel():
    for dim in (1, 2):
        train, test = make_task("randman", seed=0, manifold_dim=dim, **SMALL)
        assert bool((train.x.sum(1) == 1).all()) and bool((test.x.sum(1) == 1).all())


def test_make_task_refuses_bad_arguments():
    with pytest.raises(ValueError, match="unknown task"):
        make_task("nope")
    with pytest.raises(ValueError, match="unknown parameters"):
        make_task("timing", manifold_dim=2)
    with pytest.raises(ValueError, match="must be < n_steps"):
        make_task("timing", n_steps=50)


def test_dataset_from_info_refuses_unknown_source_and_split():
    with pytest.raises(ValueError, match="cannot recreate"):
        dataset_from_info({"source": "elsewhere"}, "train")
    train, _ = make_task("timing", seed=0, **SMALL)
    with pytest.raises(ValueError, match="split"):
        dataset_from_info(train.info, "valid")


# --- SpikeDataset ----------------------------------------------------------------------


def test_spike_dataset_validates_and_converts():
    y = torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="samples, time, channels"):
        SpikeDataset(torch.zeros(2, 3), y, 1.0, 2)
    with pytest.raises(ValueError, match=r"y must be \[2\]"):
        SpikeDataset(torch.zeros(2, 3, 4), torch.zeros(3), 1.0, 2)
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        SpikeDataset(torch.full((2, 3, 4), 300), y, 1.0, 2)
    data = SpikeDataset(torch.ones(2, 3, 4, dtype=torch.int32), y.int(), 1.0, 2)
    assert data.x.dtype == torch.uint8 and data.y.dtype == torch.int64
    assert (len(data), data.n_steps, data.n_channels) == (2, 3, 4)
    x0, y0 = data[0]
    assert x0.dtype == torch.float32 and x0.shape == (3, 4) and int(y0) == 0


def test_batches_cover_every_sample_once_and_shuffle_reproducibly():
    train, _ = make_task("timing", seed=0, n_train=50, n_test=8)
    seen = torch.cat([y for _, y in train.batches(16)])
    assert torch.equal(seen, train.y)
    sizes = [len(y) for _, y in train.batches(16, drop_last=True)]
    assert sizes == [16, 16, 16]
    a = [y for _, y in train.batches(16, shuffle=True, generator=torch.Generator().manual_seed(1))]
    b = [y for _, y in train.batches(16, shuffle=True, generator=torch.Generator().manual_seed(1))]
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    assert sorted(torch.cat(a).tolist()) == sorted(train.y.tolist())
    with pytest.raises(ValueError):
        next(train.batches(0))


def test_subset_keeps_metadata():
    train, _ = make_task("timing", seed=0, **SMALL)
    sub = train.subset(torch.tensor([3, 1]))
    assert torch.equal(sub.x, train.x[[3, 1]]) and torch.equal(sub.y, train.y[[3, 1]])
    assert sub.info == train.info and sub.info is not train.info
    assert (sub.dt, sub.n_classes, sub.name) == (train.dt, train.n_classes, train.name)
