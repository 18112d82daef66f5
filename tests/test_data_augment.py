"""The paper's augmentations (channel shift, same-class blend) on binned batches."""

from __future__ import annotations

import json

import pytest
import torch

from spatialsnn.data import Augment, blend, blend_pairs, channel_shift
from spatialsnn.data.augment import PAPER_BLEND_FRACTION, same_class_partners


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_counts(b=16, t=40, c=60, p=0.05, seed=0, dtype=torch.uint8):
    g = gen(seed)
    return torch.binomial(torch.full((b, t, c), 2.0), torch.full((b, t, c), p), generator=g).to(
        dtype
    )


# --- channel shift -------------------------------------------------------------------


def test_shift_moves_channels_and_drops_the_edges():
    x = torch.zeros(3, 5, 10, dtype=torch.uint8)
    x[:, 2, 4] = 1
    x[:, 3, 9] = 2
    out = channel_shift(x, shifts=torch.tensor([3, -4, 0]))
    assert out[0, 2, 7] == 1 and int(out[0].sum()) == 1  # channel 9 + 3 fell off
    assert out[1, 2, 0] == 1 and out[1, 3, 5] == 2 and int(out[1].sum()) == 3
    assert torch.equal(out[2], x[2])
    assert out.dtype == torch.uint8


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_shift_keeps_dtype_and_matches_dense_slicing(dtype):
    x = random_counts(dtype=dtype)
    shifts = torch.randint(-40, 40, (16,), generator=gen(1))
    out = channel_shift(x, shifts=shifts)
    ref = torch.zeros_like(x)
    for i, s in enumerate(shifts.tolist()):
        if s >= 0:
            ref[i, :, s:] = x[i, :, : 60 - s]
        else:
            ref[i, :, :s] = x[i, :, -s:]
    assert out.dtype == dtype and torch.equal(out, ref)


def test_shift_range_is_the_papers():
    x = torch.zeros(4000, 1, 100)
    x[:, 0, 50] = 1
    for inclusive, high in ((False, 39), (True, 40)):
        out = channel_shift(x, 40, generator=gen(2), inclusive=inclusive)
        moved = out[:, 0].argmax(1) - 50
        assert int(moved.min()) == -40 and int(moved.max()) == high
        assert len(torch.unique(moved)) == high + 41  # every value in the range occurs
    assert torch.equal(channel_shift(x, 0, generator=gen(0)), x)


def test_shift_is_reproducible_from_the_seed():
    x = random_counts()
    a = channel_shift(x, 40, generator=gen(5))
    assert torch.equal(a, channel_shift(x, 40, generator=gen(5)))
    assert not torch.equal(a, channel_shift(x, 40, generator=gen(6)))


# --- blend ---------------------------------------------------------------------------


def test_blend_pairs_meet_half_way():
    a = torch.zeros(1, 100, 50)
    b = torch.zeros(1, 100, 50)
    a[0, 10, 10] = 1
    b[0, 50, 30] = 1
    out = blend_pairs(a, b, keep=1.0, generator=gen())
    assert out[0, 30, 20] == 2 and int(out.sum()) == 2


def test_blend_pairs_truncate_channel_moves_toward_zero():
    a = torch.zeros(1, 10, 50, dtype=torch.uint8)
    b = torch.zeros(1, 10, 50, dtype=torch.uint8)
    a[0, 4, 10] = 1
    b[0, 4, 13] = 1  # half difference 1.5: a moves +1, b moves -1 (the paper's int())
    out = blend_pairs(a, b, keep=1.0, generator=gen())
    assert out[0, 4, 11] == 1 and out[0, 4, 12] == 1 and int(out.sum()) == 2


def test_blend_pairs_keep_probability_and_saturation():
    x = random_counts(b=8, t=50, c=40, p=0.3)
    assert torch.equal(
        blend_pairs(x, x, keep=1.0, generator=gen()), (2 * x.int()).clamp_max(255).to(torch.uint8)
    )
    assert int(blend_pairs(x, x, keep=0.0, generator=gen()).sum()) == 0
    half = blend_pairs(x.float(), x.float(), keep=0.5, generator=gen(3))
    ratio = float(half.sum() / x.float().sum())
    assert 0.9 < ratio < 1.1  # 2 parents x 0.5 each
    big = torch.full((1, 2, 3), 200, dtype=torch.uint8)
    assert int(blend_pairs(big, big, keep=1.0).max()) == 255  # uint8 saturates
    assert int(blend_pairs(big.float(), big.float(), keep=1.0).max()) == 400


def test_empty_partner_moves_nothing():
    a = torch.zeros(1, 20, 30)
    a[0, 5, 7] = 1
    out = blend_pairs(a, torch.zeros_like(a), keep=1.0, generator=gen())
    assert torch.equal(out, a)


def test_blend_keeps_the_class():
    # class k lives in times [10k, 10k + 5) and channels [20k, 20k + 5): a blend of two
    # samples of one class moves each by at most half the box (2 bins), so it stays
    # within 2 of that box; a blend with another class would land 5 or more away
    b, n_classes = 64, 4
    y = torch.arange(b) % n_classes
    g = gen(4)
    x = torch.zeros(b, 60, 100)
    for i in range(b):
        k = int(y[i])
        box = torch.rand(5, 5, generator=g) < 0.4
        x[i, 10 * k : 10 * k + 5, 20 * k : 20 * k + 5] = box.float()
    out = blend(x, y, prob=1.0, keep=1.0, generator=gen(5))
    assert not torch.equal(out, x)
    for i in range(b):
        k = int(y[i])
        t0, c0 = max(10 * k - 2, 0), max(20 * k - 2, 0)
        inside = out[i, t0 : 10 * k + 7, c0 : 20 * k + 7].sum()
        assert float(inside) == float(out[i].sum()) > 0


def test_blend_probability_zero_and_one():
    x, y = random_counts(), torch.arange(16) % 3
    assert torch.equal(blend(x, y, prob=0.0, generator=gen()), x)
    changed = (blend(x, y, prob=1.0, generator=gen()) != x).flatten(1).any(1)
    assert changed.float().mean() > 0.8  # nearly all replaced (a self-blend may coincide)


def test_same_class_partners():
    y = torch.tensor([0, 1, 0, 2, 1, 0])
    p = same_class_partners(y, generator=gen())
    assert torch.equal(y[p], y)
    pool = torch.tensor([2, 2, 1, 0])
    q = same_class_partners(y, generator=gen(), pool=pool)
    assert torch.equal(pool[q], y)
    with pytest.raises(ValueError, match="class 2 has no sample"):
        same_class_partners(y, pool=torch.tensor([0, 1]))
    # uniform over the class: partners of class 0 hit each of its 3 members
    many = same_class_partners(
        torch.zeros(3000, dtype=torch.long), generator=gen(), pool=torch.tensor([0, 1, 0, 0])
    )
    counts = torch.bincount(many, minlength=4)
    assert counts[1] == 0 and counts[[0, 2, 3]].min() > 900


def test_non_count_input_is_refused():
    with pytest.raises(ValueError, match="spike counts"):
        channel_shift(torch.full((1, 2, 3), 0.5), 4, generator=gen())
    with pytest.raises(ValueError, match="batch, time, channels"):
        channel_shift(torch.zeros(2, 3), 4)


# --- the combined augmentation -------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_augment_reproducible_and_sane(dtype):
    x, y = random_counts(b=32, dtype=dtype), torch.arange(32) % 4
    aug = Augment()
    a = aug(x, y, generator=gen(7))
    assert torch.equal(a, aug(x, y, generator=gen(7)))
    assert not torch.equal(a, aug(x, y, generator=gen(8)))
    assert a.dtype == dtype and a.shape == x.shape and bool((a >= 0).all())
    assert 0.5 < float(a.float().sum() / x.float().sum()) < 1.1


def test_augment_config_round_trip():
    assert Augment().to_config() == {
        "shift": 40,
        "shift_inclusive": False,
        "blend": PAPER_BLEND_FRACTION,
        "blend_keep": 0.5,
    }
    aug = Augment.from_config({"shift": 10, "blend": 0.25})
    assert Augment.from_config(json.loads(json.dumps(aug.to_config()))) == aug
    assert Augment.from_config(None) == Augment()
    assert "shift=10" in repr(aug)
    with pytest.raises(ValueError, match="unknown augmentation options: jitter"):
        Augment.from_config({"jitter": 1})
    with pytest.raises(ValueError):
        Augment(shift=-1)
    with pytest.raises(ValueError):
        Augment(blend=1.5)


def test_disabled_augment_returns_an_equal_copy():
    x, y = random_counts(), torch.zeros(16, dtype=torch.long)
    out = Augment(shift=0, blend=0.0)(x, y, generator=gen())
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()


def test_augment_shift_only_equals_channel_shift():
    x, y = random_counts(), torch.zeros(16, dtype=torch.long)
    out = Augment(blend=0.0)(x, y, generator=gen(9))
    assert torch.equal(out, channel_shift(x, 40, generator=gen(9)))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_batch_of_a_source_equals_augmenting_the_indexed_batch(dtype):
    source, labels = random_counts(b=40, dtype=dtype), torch.arange(40) % 3
    index = torch.randperm(40, generator=gen(4))[:24]
    for aug in (Augment(), Augment(blend=1.0), Augment(shift=0), Augment(blend=0.0)):
        want = aug(source[index], labels[index], generator=gen(5))
        got = aug.batch(source, index, labels[index], generator=gen(5))
        assert torch.equal(got, want) and got.dtype == dtype
