"""Analysis metrics on planted structure with known answers (issue 6)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
import xarray as xr

from spatialsnn import analysis as A
from spatialsnn.model import SNNOutput


# ----------------------------------------------------------------- helpers
def planted_modules(n_mod=4, size=12, seed=0):
    rng = np.random.default_rng(seed)
    n = n_mod * size
    truth = np.repeat(np.arange(n_mod), size)
    same = truth[:, None] == truth[None, :]
    p = np.where(same, 0.8, 0.03)
    w = (rng.random((n, n)) < p) * rng.uniform(0.5, 1.0, (n, n))
    w *= rng.choice([-1, 1], size=(n, n))  # signs must not matter
    np.fill_diagonal(w, 0)
    return w, truth


def planted_activity(truth, n_classes, rng, n_per_class=10):
    """Neurons of group k fire 20 Hz for class k and 2 Hz otherwise (plus noise)."""
    labels = np.repeat(np.arange(n_classes), n_per_class)
    rate = np.where(truth[None, :] == labels[:, None], 20.0, 2.0)
    rate = rate + rng.normal(0, 1.0, rate.shape).clip(-1.5, None)
    return xr.Dataset(
        {
            "rate": (("sample", "neuron"), rate),
            "count": (("sample", "neuron"), rate * 0.1),
            "label": ("sample", labels),
        },
        coords={
            "sample": np.arange(len(labels)),
            "neuron": np.arange(truth.size),
            "class": np.arange(n_classes),
        },
    )


def blobs(truth, rng, spread=30.0, sep=500.0):
    centres = np.array([[0, 0], [sep, 0], [0, sep], [sep, sep]], float)
    return centres[truth] + rng.normal(0, spread, (truth.size, 2))


# ----------------------------------------------------------------- modularity
def test_planted_modules_give_high_q_and_are_recovered():
    w, truth = planted_modules()
    mod = A.modularity(w, seeds=5)
    assert mod["q_mean"] > 0.5
    assert mod["q"].dims == ("seed",) and mod["community"].dims == ("neuron",)
    assert A.adjusted_rand(mod["community"], truth) > 0.9


def test_random_graph_has_low_q_and_seeded_runs_are_identical():
    rng = np.random.default_rng(1)
    w = rng.random((48, 48))
    assert A.modularity(w, seeds=3)["q_mean"] < 0.1
    xr.testing.assert_identical(A.modularity(w, seeds=[3, 4]), A.modularity(w, seeds=[3, 4]))


def test_threshold_keeps_the_top_percent():
    w = np.arange(16.0).reshape(4, 4) - 8  # |w| off-diagonal, signs mixed
    kept = A.threshold(w, 75, binary=True)
    assert kept.sum() == 3 and np.all(np.diag(kept) == 0)
    a = np.abs(w)
    np.fill_diagonal(a, -1)
    assert set(a[kept > 0]) == set(np.sort(a[a >= 0].ravel())[-3:])


# ----------------------------------------------------- clustering, efficiency, sigma
def test_clustering_and_efficiency_hand_examples():
    triangle = np.ones((3, 3)) - np.eye(3)
    np.testing.assert_allclose(A.clustering_coefficient(triangle), 1.0)
    star = np.zeros((4, 4))
    star[0, 1:] = star[1:, 0] = 1
    np.testing.assert_allclose(A.clustering_coefficient(star), 0.0)
    path = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], float)  # distances 1, 1, 2
    assert A.global_efficiency(path) == pytest.approx((1 + 1 + 0.5) * 2 / 6)


def test_small_world_sigma_direction():
    # ring lattice (k = 16) with 5 % rewired shortcuts vs a random graph of equal density
    lattice = nx.to_numpy_array(nx.watts_strogatz_graph(80, 16, 0.05, seed=2))
    random = nx.to_numpy_array(nx.gnm_random_graph(80, int(lattice.sum() / 2), seed=2))
    sw = A.small_world(lattice, n_null=10, seed=0)
    rnd = A.small_world(random, n_null=10, seed=0)
    assert float(sw["sigma"]) > 2.0 and float(sw["clustering_ratio"]) > 2.0
    assert 0.85 < float(rnd["sigma"]) < 1.15
    # the null of a symmetric binary graph is G(n, m): same number of edges, symmetric
    null = A.null_shuffle(lattice, np.random.default_rng(0))
    assert null.sum() == lattice.sum() and np.array_equal(null, null.T)
    xr.testing.assert_identical(
        A.small_world(lattice, n_null=3, seed=5), A.small_world(lattice, n_null=3, seed=5)
    )


# ---------------------------------------------------------------------- wiring
def test_wiring_cost_and_efficiency_hand_example():
    w = np.array([[0.0, 2.0], [-1.0, 0.0]])
    d = np.array([[0.0, 3.0], [4.0, 0.0]])
    assert A.wiring_cost(w, d) == pytest.approx(2 * 3 + 1 * 4)
    # sorted |w| = 0,0,1,2 and d = 0,0,3,4: min pairs reversed = 1*0 + 2*0 = 0,
    # max = 1*3 + 2*4 = 11; efficiency = 1 - (10 - 0) / 11
    assert A.wiring_efficiency(w, d) == pytest.approx(1 - 10 / 11)
    assert A.wiring_efficiency(
        np.array([[0, 2.0], [1.0, 0]]), np.array([[0, 3.0], [4.0, 0]])
    ) == pytest.approx(1 - (6 + 4) / 11)


# ------------------------------------------------------------- cluster agreement
def test_ari_ami_known_values():
    a = np.array([0, 0, 1, 1, 2, 2])
    assert A.adjusted_rand(a, [5, 5, 7, 7, 9, 9]) == 1.0
    assert A.adjusted_mutual_info(a, [5, 5, 7, 7, 9, 9]) == pytest.approx(1.0)
    # AMI is 0 in expectation over random relabellings (the EMI correction)
    rng = np.random.default_rng(0)
    b = np.repeat(np.arange(4), 10)
    c = np.repeat(np.arange(3), [10, 10, 20])
    null = [A.adjusted_mutual_info(b, rng.permutation(c)) for _ in range(300)]
    assert abs(np.mean(null)) < 0.01


def test_ari_ami_match_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    for _ in range(10):
        a, b = rng.integers(0, 4, 40), rng.integers(0, 3, 40)
        assert A.adjusted_rand(a, b) == pytest.approx(metrics.adjusted_rand_score(a, b))
        assert A.adjusted_mutual_info(a, b) == pytest.approx(
            metrics.adjusted_mutual_info_score(a, b), abs=1e-10
        )


def test_aligned_functional_and_spatial_clusters_agree_significantly():
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(4), 10)
    act = planted_activity(truth, 4, rng)
    prof = A.tuning(act)
    assert prof.dims == ("neuron", "class") and prof.attrs["units"] == "Hz"
    sel = A.selectivity(prof)
    np.testing.assert_array_equal(sel["preferred_class"], truth)
    assert float(sel["selectivity"].min()) > 0.6
    fc = A.functional_clusters(prof, seed=0)
    sc = A.spatial_clusters(blobs(truth, rng), 4, seed=0)
    agree = A.agreement(fc, sc, n_perm=200, seed=0)
    assert float(agree["ari"]) > 0.95 and float(agree["ami"]) > 0.95
    assert float(agree["ari_p"]) < 0.05 and float(agree["ami_p"]) < 0.05
    # the same positions given to shuffled neurons: no agreement, not significant
    shuffled = A.spatial_clusters(blobs(rng.permutation(truth), rng), 4, seed=0)
    null = A.agreement(fc, shuffled, n_perm=200, seed=0)
    assert abs(float(null["ari"])) < 0.15 and abs(float(null["ami"])) < 0.15
    assert float(null["ari_p"]) > 0.05 and float(null["ami_p"]) > 0.05


def test_mantel_detects_planted_distance_similarity_relation():
    rng = np.random.default_rng(1)
    pos = rng.uniform(0, 1000, (30, 2))
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    sim = np.exp(-dist / 300) + rng.normal(0, 0.05, dist.shape)
    res = A.mantel(dist, sim, n_perm=200, seed=0)
    assert float(res["r"]) < -0.5 and float(res["p"]) < 0.05
    p = rng.permutation(30)
    res0 = A.mantel(dist, sim[np.ix_(p, p)], n_perm=200, seed=0)
    assert abs(float(res0["r"])) < 0.2 and float(res0["p"]) > 0.05


def test_kmeans_is_seeded():
    x = np.random.default_rng(0).normal(size=(40, 3))
    np.testing.assert_array_equal(A.kmeans(x, 3, seed=4), A.kmeans(x, 3, seed=4))


# ---------------------------------------------------------------- tonotopy
def test_position_r2_planted_linear_map_and_shuffled():
    rng = np.random.default_rng(0)
    w_in = rng.normal(size=(80, 30))
    pos = w_in @ rng.normal(size=(30, 2)) * 50 + rng.normal(0, 5, (80, 2))
    r2 = A.position_r2(w_in, pos, seed=0, n_perm=20)
    assert float(r2["r2_mean"]) > 0.9 and float(r2["p"]) < 0.1
    shuffled = A.position_r2(w_in, pos[rng.permutation(80)], seed=0)
    assert float(shuffled["r2_mean"]) <= 0.05


def test_preferred_positions_hand_example():
    pos = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 20.0]])
    w = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0]])  # (neuron, channel)
    pref = A.preferred_positions(w, pos, center=False)
    np.testing.assert_allclose(pref.values, [[5.0, 0.0], [0.0, 20.0]])
    assert pref.dims == ("channel", "space") and pref.attrs["units"] == "um"


# ------------------------------------------------------------- record (stub model)
class _Stub(torch.nn.Module):
    """Fixed hidden spikes, so the recorded quantities have hand-computed answers."""

    def __init__(self, spikes):
        super().__init__()
        self.hparams = {"dt": 1.0}
        self.w_in = torch.nn.Parameter(torch.zeros(2, 2))
        self.w_rec = torch.nn.Parameter(torch.zeros(2, 2))
        self.spikes = spikes

    def forward(self, x):
        b = x.shape[0]
        s = self.spikes[:b]
        return SNNOutput(torch.tensor([[0.0, 1.0]]).repeat(b, 1), s, torch.zeros(b, 1, 2), 1.0)


def test_record_counts_bins_and_reverse_sta():
    t = 20
    spikes = torch.zeros(1, t, 2)
    spikes[0, 4, 1] = spikes[0, 10, 1] = spikes[0, 3, 0] = 1  # input spike at t=2 on channel 0
    x = torch.zeros(1, t, 2)
    x[0, 2, 0] = 1
    act = A.record(_Stub(spikes), (x, torch.tensor([1])), time_bin=5.0, rsta_window=5.0)
    np.testing.assert_array_equal(act["count"].values, [[1, 2]])
    np.testing.assert_allclose(act["rate"].values, [[50.0, 100.0]])  # per 20 ms
    assert act["binned_count"].dims == ("sample", "time", "neuron")
    np.testing.assert_array_equal(act["binned_count"].values[0, :, 1], [1, 0, 1, 0])
    # channel 0 spike at t=2: within (2, 7] neuron 0 fires once (t=3), neuron 1 once (t=4)
    np.testing.assert_allclose(act["rsta"].sel(channel=0).values, [1 / 5, 1 / 5])
    np.testing.assert_allclose(act["rsta"].sel(channel=1).values, [0, 0])
    assert act.attrs["accuracy"] == 1.0 and act["rate"].attrs["units"] == "Hz"


# ----------------------------------------------------------------- pruning
def test_prune_mask_hand_example():
    w = np.array([[0.5, -3.0, 1.0], [2.0, 0.0, -0.1], [4.0, 0.2, 0.3]])
    length = np.arange(9.0).reshape(3, 3)
    by_len = A.prune_mask(w, length, 3 / 9, "length")
    np.testing.assert_array_equal(by_len, length >= 6)
    by_mag = A.prune_mask(w, length, 3 / 9, "magnitude")
    np.testing.assert_array_equal(by_mag, np.isin(np.abs(w), [0.0, 0.1, 0.2]))
    assert not A.prune_mask(w, length, 0.0, "length").any()


def test_prune_changes_exactly_the_chosen_synapses_and_curve_starts_unpruned():
    import spatialsnn

    model = spatialsnn.SpatialSNN(n_in=6, n_hidden=10, n_out=3, seed=0, w_rec_std=0.3)
    before = model.w_rec.detach().clone()
    length = A.synapse_length(model).numpy()
    pruned = A.prune(model, 0.3, "length")
    mask = torch.from_numpy(A.prune_mask(before, length, 0.3, "length"))
    assert mask.sum() == 30
    assert torch.all(pruned.w_rec[mask] == 0)
    assert torch.equal(pruned.w_rec[~mask], before[~mask])
    assert torch.equal(model.w_rec, before)  # original untouched
    removed_lengths = length[mask.numpy()]
    assert removed_lengths.min() >= length[~mask.numpy()].max()
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(12, 30, 6, generator=g) < 0.1).to(torch.uint8)
    y = torch.randint(0, 3, (12,), generator=g)
    curve = A.pruning_curve(model, (x, y), fractions=(0.0, 1.0))
    base = A.accuracy(model, (x, y))
    np.testing.assert_allclose(curve["accuracy"].sel(fraction=0.0).values, base)
    np.testing.assert_allclose(curve["weight_removed"].sel(fraction=1.0).values, 1.0)


# ------------------------------------------------------------ connectivity, analyze
def test_connectivity_dims_units_and_analyze_is_seeded():
    import spatialsnn

    model = spatialsnn.SpatialSNN(n_in=6, n_hidden=12, n_out=3, seed=1, w_rec_std=0.3)
    conn = A.connectivity(model)
    assert conn["weight"].dims == ("post", "pre")
    assert conn["distance"].attrs["units"] == "um" and conn["delay"].attrs["units"] == "ms"
    np.testing.assert_allclose(
        conn["delay"].values * model.velocity, conn["distance"].values, rtol=1e-5, atol=1e-6
    )
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(9, 25, 6, generator=g) < 0.2).to(torch.uint8)
    y = torch.arange(9) % 3
    kw = dict(seeds=2, n_perm=20, n_null=2, prune_fractions=(0.0, 0.5))
    m1, act = A.analyze(model, (x, y), **kw)
    m2, _ = A.analyze(model, (x, y), **kw)
    xr.testing.assert_identical(m1, m2)
    assert set(A.SCALARS) <= set(m1.data_vars)
    assert float(m1["accuracy"]) == pytest.approx(A.accuracy(model, (x, y)))
    assert m1["tuning"].dims == ("neuron", "class")
    assert act["binned_count"].sizes["time"] == 5


def test_analyze_reports_mean_and_busiest_rates_in_spikes_per_second():
    import spatialsnn

    model = spatialsnn.SpatialSNN(n_in=6, n_hidden=12, n_out=3, seed=1, w_in_mean=0.6)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(9, 25, 6, generator=g) < 0.2).to(torch.uint8)
    y = torch.arange(9) % 3
    m, act = A.analyze(model, (x, y), seeds=1, n_perm=5, n_null=1, prune_fractions=None)
    per_neuron = act["count"].mean("sample") / 0.025  # 25 steps of 1 ms per trial
    assert float(per_neuron.max()) > float(per_neuron.mean()) > 0
    assert float(m["mean_rate"]) == pytest.approx(float(per_neuron.mean()))
    assert float(m["max_rate"]) == pytest.approx(float(per_neuron.max()))
    assert m["max_rate"].attrs["units"] == "Hz"
