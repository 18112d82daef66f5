"""SHD/SSC readers, the SHD-layout generator and the verified download (no network)."""

from __future__ import annotations

import gzip
import hashlib
import json
import urllib.error
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from spatialsnn.data import (
    DatasetError,
    DatasetUnavailableError,
    SpikeCounts,
    dataset_from_info,
    load_shd,
    load_ssc,
    write_shd_like,
)
from spatialsnn.data import cache as cache_mod
from spatialsnn.data.shd import bin_spikes, read_spike_file


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    """Refuse every non-file URL and point the default cache into the test's directory."""
    real = cache_mod._urlopen

    def guarded(url, timeout):
        if not url.startswith("file:"):
            raise AssertionError(f"a test tried to reach the network: {url}")
        return real(url, timeout)

    monkeypatch.setattr(cache_mod, "_urlopen", guarded)
    monkeypatch.setenv("SPATIALSNN_DATA", str(tmp_path / "default_cache"))
    monkeypatch.delenv("SPATIALSNN_DATA_URL", raising=False)


def write_samples(path, times, units, labels, **attrs):
    """A file in the SHD layout holding exactly the given spikes (times in s)."""
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float16))
        u = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (ti, ui) in enumerate(zip(times, units, strict=True)):
            t[i] = np.asarray(ti, dtype=np.float16)
            u[i] = np.asarray(ui, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        for key, value in attrs.items():
            f.attrs[key] = value
    return Path(path)


def file_spikes(path):
    with h5py.File(path, "r") as f:
        n = sum(len(a) for a in f["spikes/times"][()])
        return n, np.asarray(f["labels"][()], dtype=np.int64)


# --- the generator -------------------------------------------------------------------


def test_generated_file_has_the_official_layout_and_dtypes(tmp_path):
    path = write_shd_like(tmp_path / "g.h5", n_samples=30, n_channels=700, seed=1)
    with h5py.File(path, "r") as f:
        assert h5py.check_vlen_dtype(f["spikes/times"].dtype) == np.float16
        assert h5py.check_vlen_dtype(f["spikes/units"].dtype) == np.uint16
        assert f["labels"].dtype == np.uint16 and f["labels"].shape == (30,)
        assert f["extra/speaker"].shape == (30,)
        assert len(f["extra/keys"]) == 20
        for i in range(30):
            t, u = f["spikes/times"][i], f["spikes/units"][i]
            assert len(t) == len(u) > 0
            assert np.all(np.diff(t.astype(np.float64)) >= 0)  # ascending in time
            assert t.min() >= 0 and t.max() <= 1.0 and u.max() < 700
        assert sorted(np.bincount(f["labels"][()])) == [1] * 10 + [2] * 10  # balanced


def test_generator_is_deterministic_per_seed(tmp_path):
    a = load_shd(path=write_shd_like(tmp_path / "a.h5", n_samples=12, n_channels=40, seed=3))
    b = load_shd(path=write_shd_like(tmp_path / "b.h5", n_samples=12, n_channels=40, seed=3))
    c = load_shd(path=write_shd_like(tmp_path / "c.h5", n_samples=12, n_channels=40, seed=4))
    assert torch.equal(a.x[:], b.x[:]) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x[:], c.x[:])


def _class_profiles(data):
    """Mean channel profile of each class, [class, channel], normalised."""
    counts = data.x[:].double().sum(1)  # [sample, channel]
    prof = torch.stack([counts[data.y == k].mean(0) for k in range(int(data.y.max()) + 1)])
    return prof / prof.norm(dim=1, keepdim=True)


def test_template_seed_shares_classes_between_train_and_test_files(tmp_path):
    kw = dict(n_samples=80, n_classes=4, n_channels=64, duration=0.5)
    train = load_shd(path=write_shd_like(tmp_path / "tr.h5", seed=1, template_seed=7, **kw))
    test = load_shd(path=write_shd_like(tmp_path / "te.h5", seed=2, template_seed=7, **kw))
    other = load_shd(path=write_shd_like(tmp_path / "ot.h5", seed=2, **kw))
    assert not torch.equal(train.x[:], test.x[:])  # different samples
    same = (_class_profiles(train) * _class_profiles(test)).sum(1)  # cosine per class
    assert same.min() > 0.9
    # without a shared template seed, some class's templates are unrelated: a nearest-
    # profile classifier of the test classes by the train profiles fails on at least one
    cos = _class_profiles(other) @ _class_profiles(train).T
    assert not torch.equal(cos.argmax(1), torch.arange(4))
    shared = _class_profiles(test) @ _class_profiles(train).T
    assert torch.equal(shared.argmax(1), torch.arange(4))


# --- reading and binning -------------------------------------------------------------


def test_reader_preserves_every_spike_and_the_labels(tmp_path):
    path = write_shd_like(
        tmp_path / "g.h5", n_samples=40, n_classes=5, n_channels=64, duration=0.9, seed=0
    )
    n_spikes, labels = file_spikes(path)
    data = load_shd("train", path=path)
    assert data.x.dtype == torch.uint8 and data.x.shape == (40, 1000, 64)
    # kept as events: memory grows with the spikes, not with the bins
    assert isinstance(data.x, SpikeCounts) and data.x.nnz <= n_spikes
    assert data.x.nbytes < 8 * n_spikes + 8 * 41 < data.x.numel()
    assert int(data.x.sum()) == n_spikes  # nothing falls outside the 1 s window
    assert torch.equal(data.y, torch.from_numpy(labels))
    assert data.n_classes == 5 and data.dt == 1.0 and data.name == "shd_train"


def test_two_spikes_of_a_channel_in_one_bin_give_a_count_of_two(tmp_path):
    path = write_samples(
        tmp_path / "s.h5",
        times=[[0.0101, 0.0104, 0.5, 0.5], [0.002]],
        units=[[3, 3, 5, 6], [699]],
        labels=[7, 19],
    )
    data = load_shd(path=path)
    x = data.x
    assert x.shape == (2, 1000, 700)
    assert x[0, 10, 3] == 2 and x[0, 500, 5] == 1 and x[0, 500, 6] == 1
    assert x[1, 2, 699] == 1
    assert int(x.sum()) == 5
    assert data.y.tolist() == [7, 19]


def test_dt_change_pools_bins(tmp_path):
    path = write_shd_like(tmp_path / "g.h5", n_samples=6, n_channels=32, seed=2)
    fine = load_shd(path=path, dt=1.0)
    coarse = load_shd(path=path, dt=2.0)
    assert coarse.n_steps == 500 and coarse.dt == 2.0
    pooled = fine.x[:].view(6, 500, 2, 32).sum(2, dtype=torch.int32)
    assert torch.equal(pooled, coarse.x[:].to(torch.int32))
    assert load_shd(path=path, dt=0.5).n_steps == 2000


def test_window_drops_late_and_negative_spikes(tmp_path):
    # float16 stores 0.0625 exactly (62.5 ms: step 62, outside 62 steps) and 0.0605 as
    # 0.06048 (step 60); 0.05 would become 0.049995 s, i.e. step 49
    path = write_samples(
        tmp_path / "w.h5",
        times=[[-0.001, 0.0, 0.0605, 0.0625, 1.2]],
        units=[[1, 2, 3, 4, 5]],
        labels=[0],
    )
    x, _, meta = read_spike_file(path, dt=1.0, n_steps=62)
    assert x.shape == (1, 62, 700)
    assert x[0, 0, 2] == 1 and x[0, 60, 3] == 1 and int(x.sum()) == 2
    assert meta["n_dropped"] == 3 and meta["n_spikes"] == 5
    assert int(load_shd(path=path, n_steps=1300).x.sum()) == 4  # 1.2 s now inside


def test_counts_saturate_at_255():
    times = np.concatenate([np.full(300, 3.2), [7.0, 7.9]])  # ms
    units = np.concatenate([np.full(300, 4), [1, 1]])
    x, dropped = bin_spikes(times, units, np.array([302]), dt=1.0, n_steps=10, n_channels=8)
    assert dropped == 0 and x[0, 3, 4] == 255 and x[0, 7, 1] == 2
    assert int(x.sum(dtype=torch.int64)) == 257


def test_bin_spikes_matches_a_loop_over_samples():
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 50, 9)
    times = rng.uniform(-5, 105, lengths.sum())
    units = rng.integers(0, 11, lengths.sum())
    x, dropped = bin_spikes(times, units, lengths, dt=2.5, n_steps=40, n_channels=11)
    ref = np.zeros((9, 40, 11), dtype=np.int64)
    sample = np.repeat(np.arange(9), lengths)
    for s, t, u in zip(sample, times, units, strict=True):
        k = int(np.floor(t / 2.5))
        if 0 <= k < 40:
            ref[s, k, u] += 1
    assert np.array_equal(x.numpy(), ref)
    assert dropped == lengths.sum() - ref.sum()


def test_ssc_splits_and_classes(tmp_path):
    for split in ("train", "valid", "test"):
        write_shd_like(tmp_path / f"ssc_{split}.h5", n_samples=8, n_classes=35, n_channels=16)
    valid = load_ssc("valid", path=tmp_path)
    assert valid.n_classes == 35 and valid.info["split"] == "valid" and valid.name == "ssc_valid"
    assert dataset_from_info(valid.info, "test").name == "ssc_test"
    with pytest.raises(ValueError, match="splits"):
        load_shd("valid", path=tmp_path)
    with pytest.raises(ValueError, match="splits"):
        load_ssc("validation", path=tmp_path)


# --- provenance: info round trip -----------------------------------------------------


def test_info_round_trip_with_a_directory(tmp_path):
    write_shd_like(tmp_path / "shd_train.h5", n_samples=10, n_channels=24, seed=0)
    write_shd_like(tmp_path / "shd_test.h5", n_samples=4, n_channels=24, seed=1)
    train = load_shd("train", path=tmp_path, dt=2.0)
    test = load_shd("test", path=tmp_path, dt=2.0)
    info = json.loads(json.dumps(train.info))  # JSON-serialisable
    assert info == {"source": "shd", "split": "train", "dt": 2.0, "n_steps": 500,
                    "n_channels": 24, "path": str(tmp_path.resolve())}  # fmt: skip
    again = dataset_from_info(info, "train")
    assert torch.equal(again.x[:], train.x[:]) and torch.equal(again.y, train.y)
    other = dataset_from_info(info, "test")
    assert torch.equal(other.x[:], test.x[:]) and other.info == test.info


def test_info_round_trip_with_a_file(tmp_path):
    path = write_shd_like(tmp_path / "shd_train.h5", n_samples=5, n_channels=16, seed=0)
    data = load_shd("train", path=path, n_steps=700)
    again = dataset_from_info(data.info, "train")
    assert torch.equal(again.x[:], data.x[:]) and again.n_steps == 700
    with pytest.raises(DatasetError, match="'train' file but the 'test' split"):
        dataset_from_info(data.info, "test")


def test_gzipped_file_in_a_directory_is_decompressed_into_the_cache(tmp_path):
    src = write_shd_like(tmp_path / "plain.h5", n_samples=3, n_channels=8)
    folder = tmp_path / "data"
    folder.mkdir()
    with open(src, "rb") as f_in, gzip.open(folder / "shd_test.h5.gz", "wb") as f_out:
        f_out.write(f_in.read())
    data = load_shd("test", path=folder, cache_dir=tmp_path / "cache")
    assert torch.equal(data.x[:], load_shd(path=src).x[:])
    assert len(list((tmp_path / "cache").rglob("shd_test.h5"))) == 1


# --- malformed files -------------------------------------------------------------------


def test_malformed_files_give_one_clear_error(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file")
    with pytest.raises(DatasetError, match="not a readable HDF5 file"):
        load_shd(path=junk)
    with h5py.File(tmp_path / "nolabels.h5", "w") as f:
        f.create_dataset("spikes/times", (0,), dtype=h5py.vlen_dtype(np.float16))
        f.create_dataset("spikes/units", (0,), dtype=h5py.vlen_dtype(np.uint16))
    with pytest.raises(DatasetError, match="lacks labels"):
        load_shd(path=tmp_path / "nolabels.h5")
    bad_units = write_samples(tmp_path / "u.h5", [[0.1]], [[700]], [0])
    with pytest.raises(DatasetError, match="outside"):
        load_shd(path=bad_units)
    with h5py.File(tmp_path / "len.h5", "w") as f:
        t = f.create_dataset("spikes/times", (1,), dtype=h5py.vlen_dtype(np.float16))
        u = f.create_dataset("spikes/units", (1,), dtype=h5py.vlen_dtype(np.uint16))
        t[0] = np.array([0.1, 0.2], dtype=np.float16)
        u[0] = np.array([1], dtype=np.uint16)
        f.create_dataset("labels", data=np.array([0], dtype=np.uint16))
    with pytest.raises(DatasetError, match="sample 0 has 2 spike times but 1 channel ids"):
        load_shd(path=tmp_path / "len.h5")
    bad_label = write_samples(tmp_path / "l.h5", [[0.1]], [[1]], [20])
    with pytest.raises(DatasetError, match="labels range"):
        load_shd(path=bad_label)
    with pytest.raises(DatasetUnavailableError, match="neither shd_test.h5"):
        load_shd("test", path=tmp_path)


# --- download ------------------------------------------------------------------------


def serve(tmp_path, name="shd_train.h5", *, md5=None, truncate=False, corrupt=False, list_it=True):
    """A local 'server' directory with <name>.gz and md5sums.txt; returns (url, data)."""
    server = tmp_path / "server"
    server.mkdir(exist_ok=True)
    src = write_shd_like(tmp_path / "source.h5", n_samples=6, n_channels=20, seed=5)
    blob = gzip.compress(src.read_bytes())
    if truncate:
        blob = blob[: len(blob) // 2]
    if corrupt:
        blob = blob[:40] + bytes(255 - b for b in blob[40:80]) + blob[80:]
    (server / (name + ".gz")).write_bytes(blob)
    digest = md5 or hashlib.md5(blob).hexdigest()
    listed = f"{digest}  {name}.gz\n" if list_it else ""
    (server / "md5sums.txt").write_text(f"0123456789abcdef0123456789abcdef  other.gz\n{listed}")
    return server.as_uri(), load_shd(path=src)


def test_download_verifies_and_caches(tmp_path, monkeypatch):
    url, expected = serve(tmp_path)
    cache = tmp_path / "cache"
    data = load_shd("train", cache_dir=cache, base_url=url, progress=False)
    assert torch.equal(data.x[:], expected.x[:]) and torch.equal(data.y, expected.y)
    assert data.info["path"] is None
    assert sorted(p.name for p in cache.iterdir()) == ["shd_train.h5"]  # no temp files left

    def offline(url, timeout):
        raise AssertionError("the cached file should have been used")

    monkeypatch.setattr(cache_mod, "_urlopen", offline)
    assert torch.equal(load_shd("train", cache_dir=cache, base_url=url).x[:], expected.x[:])


def test_download_uses_the_environment(tmp_path, monkeypatch):
    url, expected = serve(tmp_path)
    monkeypatch.setenv("SPATIALSNN_DATA_URL", url)
    monkeypatch.setenv("SPATIALSNN_DATA", str(tmp_path / "envcache"))
    data = load_shd("train", progress=False)
    assert torch.equal(data.x[:], expected.x[:])
    assert (tmp_path / "envcache" / "shd_train.h5").is_file()
    assert torch.equal(dataset_from_info(data.info, "train").x[:], expected.x[:])


def test_checksum_mismatch_leaves_no_file(tmp_path):
    url, _ = serve(tmp_path, md5="0" * 32)
    cache = tmp_path / "cache"
    with pytest.raises(DatasetUnavailableError, match="checksum mismatch") as err:
        load_shd("train", cache_dir=cache, base_url=url, progress=False)
    assert list(cache.iterdir()) == []
    assert "by hand" in str(err.value)


@pytest.mark.parametrize("damage", ["truncate", "corrupt"])
def test_broken_archive_leaves_no_file(tmp_path, damage):
    url, _ = serve(tmp_path, **{damage: True})  # the checksum list matches the damaged file
    cache = tmp_path / "cache"
    with pytest.raises(DatasetUnavailableError, match="decompress"):
        load_shd("train", cache_dir=cache, base_url=url, progress=False)
    assert list(cache.iterdir()) == []


def test_unlisted_file_is_refused(tmp_path):
    url, _ = serve(tmp_path, list_it=False)
    with pytest.raises(DatasetUnavailableError, match="not listed"):
        load_shd("train", cache_dir=tmp_path / "cache", base_url=url)
    assert list((tmp_path / "cache").iterdir()) == []


def test_offline_gives_one_clear_error_with_instructions(tmp_path, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(cache_mod, "_urlopen", offline)
    cache = tmp_path / "cache"
    with pytest.raises(DatasetUnavailableError) as err:
        load_shd("test", cache_dir=cache)
    message = str(err.value)
    assert "https://zenkelab.org/datasets/shd_test.h5.gz" in message
    assert "cannot reach the server" in message
    assert str(cache) in message and "path=" in message and "gunzip" in message
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no urllib trace
    assert isinstance(err.value, OSError)  # the command line reports OSErrors as one line
    assert list(cache.iterdir()) == []


def test_connection_dropped_mid_download(tmp_path, monkeypatch):
    url, _ = serve(tmp_path)
    real = cache_mod._urlopen

    class Dropping:
        def __init__(self, inner):
            self.inner = inner

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.inner.close()

        @property
        def headers(self):
            return self.inner.headers

        def read(self, n):
            raise ConnectionResetError(104, "Connection reset by peer")

    def flaky(u, timeout):
        response = real(u, timeout)
        return response if u.endswith("md5sums.txt") else Dropping(response)

    monkeypatch.setattr(cache_mod, "_urlopen", flaky)
    with pytest.raises(DatasetUnavailableError, match="Connection reset"):
        load_shd("train", cache_dir=tmp_path / "cache", base_url=url)
    assert list((tmp_path / "cache").iterdir()) == []


def test_no_download_when_disabled(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="download=False"):
        load_shd("train", cache_dir=tmp_path / "cache", download=False)


def test_missing_user_path(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="no such file or directory"):
        load_shd(path=tmp_path / "nowhere.h5")
