"""The standard figures explain themselves; spike rasters, outliers, dense cores, show()."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

import spatialsnn
from spatialsnn.analysis import analyze, connectivity, one_per_class, spike_rasters
from spatialsnn.data import make_task

pytest.importorskip("matplotlib")  # the plot extra, part of the test extra

from spatialsnn.analysis import plots  # noqa: E402
from spatialsnn.analysis.plots.positions import dense_core, outliers  # noqa: E402

TASK = dict(n_channels=8, n_classes=3, n_steps=40, min_interval=5, max_interval=20)
#: Abbreviations a figure may use only together with what they stand for.
SPELLED_OUT = {
    "ARI": "Adjusted Rand index",
    "R²": "ridge regression",
    "|w|": "w = synaptic weight",
}


@pytest.fixture(scope="module")
def analysed():
    model = spatialsnn.SpatialSNN(n_in=8, n_hidden=16, n_out=3, seed=0, w_rec_std=0.3,
                                  w_in_mean=1.0, w_in_std=0.5, velocity=20.0)  # fmt: skip
    model.eval()
    _, test = make_task("timing", seed=0, n_train=4, n_test=12, **TASK)
    metrics, _ = analyze(model, test, n_perm=20, prune_fractions=None)
    return model, test, metrics


def _texts(fig) -> str:
    """Every piece of text drawn in a figure (titles, labels, ticks, legends, captions)."""
    from matplotlib.text import Text

    text = " ".join(t.get_text() for t in fig.findobj(Text) if t.get_text())
    return " ".join(text.split())  # wrapped lines joined again


def _check_spelled_out(fig) -> str:
    text = _texts(fig)
    for short, meaning in SPELLED_OUT.items():
        if short in text:
            assert meaning in text, f"{short!r} used without {meaning!r}:\n{text}"
    return text


# ---------------------------------------------------------------- spike rasters


def test_one_per_class_takes_the_first_sample_of_each_class():
    assert one_per_class([2, 0, 2, 1, 0, 1], n=4) == [1, 3, 0]
    assert one_per_class([2, 0, 2, 1, 0, 1], n=2) == [1, 3]


def test_spike_rasters_twin_only(analysed):
    model, test, _ = analysed
    r = spike_rasters(model, test, brian2=False)
    assert "brian2" not in r and r.attrs["simulators"] == "twin"
    assert list(r["sample"].values) == one_per_class(test.y.numpy())
    assert r["twin"].dims == ("sample", "time", "neuron") and r["twin"].dtype == bool
    assert r["time"].values[0] == 0.0 and np.allclose(np.diff(r["time"].values), model.dt)
    np.testing.assert_array_equal(r["input"].values, test.x[list(r["sample"].values)].numpy())
    # the same spikes as the model itself (eval mode: delays rounded)
    with torch.no_grad():
        out = model(test.x[list(r["sample"].values)].float())
    assert out.hidden_spikes.sum() > 0
    np.testing.assert_array_equal(r["twin"].values, out.hidden_spikes.numpy() > 0.5)


@pytest.mark.brian2
def test_spike_rasters_brian2_reproduces_the_twin(analysed):
    model, test, _ = analysed
    r = spike_rasters(model, test, samples=[0, 5])
    assert r.attrs["simulators"] == "twin, brian2"
    assert r["twin"].values.any()
    np.testing.assert_array_equal(r["brian2"].values, r["twin"].values)


# ---------------------------------------------------------------- geometry helpers


def test_outliers_flags_the_few_far_neurons_of_a_blob():
    rng = np.random.default_rng(0)
    blob = rng.normal(0.0, 50.0, size=(40, 2))
    far = np.array([[3000.0, 0.0], [0.0, -4000.0]])
    flagged = outliers(np.concatenate([blob, far]))
    assert flagged[-2:].all() and not flagged[:-2].any()
    assert not outliers(rng.uniform(-2000, 2000, size=(40, 2))).any()  # no blob: no outlier


def test_dense_core_boxes_the_blob_and_only_when_there_is_one():
    rng = np.random.default_rng(1)
    blob = rng.normal([1000.0, -500.0], 30.0, size=(20, 2))
    spread = rng.uniform(-3000, 3000, size=(28, 2))
    lower, upper = dense_core(np.concatenate([blob, spread]))
    inside = ((blob >= lower) & (blob <= upper)).all(1)
    assert inside.mean() >= 0.9
    assert (upper - lower).max() < 600.0
    assert dense_core(rng.uniform(-3000, 3000, size=(48, 2))) is None


def test_population_rate_in_spikes_per_second():
    spikes = np.zeros((12, 2), dtype=bool)
    spikes[0:5, 0] = True  # neuron 0 fires every 1-ms step of the first 5-ms bin
    spikes[10, 1] = True  # one spike in the last, 2-ms bin
    edges, rate = plots.population_rate(spikes, dt=1.0, bin_ms=5.0)
    np.testing.assert_allclose(edges, [0, 5, 10, 12])
    # 5 spikes / (2 neurons * 5 ms) = 500 spikes/s; 1 / (2 * 2 ms) = 250 spikes/s
    np.testing.assert_allclose(rate, [500.0, 0.0, 250.0])


# ---------------------------------------------------------------- figures


def test_raster_figure_labels_simulators_panels_and_clusters(analysed):
    model, test, metrics = analysed
    r = spike_rasters(model, test, brian2=False)
    r["brian2"] = r["twin"].copy()
    r["brian2"][1, 3, 0] = ~r["brian2"][1, 3, 0]  # one spike differs in sample 2 of 3
    fig = plots.raster_figure(r, metrics)
    text = _check_spelled_out(fig)
    assert "identical spike trains in 2 of 3 samples" in text
    for label in ("PyTorch twin", "Brian2", "input spike", "boundary between clusters",
                  "time (ms)", "input channel", "spikes/s", "spatial cluster"):  # fmt: skip
        assert label in text, label
    n_panels = len([ax for ax in fig.axes if ax.get_visible()])
    assert n_panels == 3 * r.sizes["sample"]  # input, hidden, rate per sample


def test_raster_figure_without_brian2_says_so(analysed):
    model, test, metrics = analysed
    text = _texts(plots.raster_figure(spike_rasters(model, test, brian2=False), metrics))
    assert "Brian2 not run" in text and "Install the brian2 extra" in text


def test_positions_figure_explains_colours_arrows_and_ari(analysed):
    model, _, metrics = analysed
    text = _check_spelled_out(plots.positions_figure(metrics, connectivity(model)))
    for label in ("functional cluster", "excitatory synapse", "inhibitory synapse", "x (µm)",
                  "y (µm)", "ms of delay", "Adjusted Rand index (ARI)"):  # fmt: skip
        assert label in text, label


def test_positions_figure_rings_outliers_and_magnifies_a_core(analysed):
    model, _, metrics = analysed
    conn = connectivity(model)
    rng = np.random.default_rng(2)
    pos = rng.normal(0.0, 20.0, size=(16, 2))
    pos[:2] = [[3000.0, 3000.0], [-3500.0, 2000.0]]
    conn = conn.assign(position=(("neuron", "space"), pos))
    fig = plots.positions_figure(metrics, conn)
    text = _texts(fig)
    assert "outlier (2)" in text and "magnified ×" in text
    # The zoom label sits inside the inset, so it cannot run into the axes' title.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    (label,) = [t for t in fig.findobj(Text) if t.get_text().startswith("magnified ×")]
    inset = label.axes
    assert inset is not None and inset is not fig.axes[0]
    box, frame = label.get_window_extent(renderer), inset.get_window_extent(renderer)
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1


@pytest.mark.parametrize("kind", ["spatial", "free", "none"])
def test_distributions_is_one_panel_that_names_its_axes(analysed, kind):
    _, _, metrics = analysed
    m = metrics.copy()
    m.attrs["delays"] = kind
    fig = plots.distributions_figure(m)
    text = _check_spelled_out(fig)
    main = [ax for ax in fig.axes if ax.get_xlabel()]
    assert len(main) == 1
    if kind == "spatial":  # distance below, delay above: one histogram, two scales
        assert "distance between the two neurons (µm)" in text and "delay (ms)" in text
    elif kind == "free":
        assert "learned delay (ms)" in text and "distance" not in main[0].get_xlabel()
    else:
        assert "every recurrent delay is 0 ms" in text


def test_input_map_explains_itself(analysed):
    _, _, metrics = analysed
    text = _check_spelled_out(plots.input_map_figure(metrics))
    assert f"{float(metrics['position_r2']):.2f}" in text
    for label in ("input channel", "hidden neuron", "preferred position", "no better than"):
        assert label in text, label


# ---------------------------------------------------------------- show()


def test_show_saves_and_closes_a_pyplot_figure_without_a_display(tmp_path, recwarn):
    import matplotlib

    plt = plots.pyplot()
    before = matplotlib.get_backend()
    matplotlib.use("Agg")
    try:
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        written = plots.show(fig, tmp_path / "f" / "line.png")
        assert written.stat().st_size > 1000
        assert not plt.fignum_exists(fig.number)  # closed: no second display, no leak
        assert not [w for w in recwarn if "non-interactive" in str(w.message)]
    finally:
        matplotlib.use(before)


def test_show_saves_a_standalone_figure(tmp_path, analysed):
    _, _, metrics = analysed
    path = plots.show(plots.distributions_figure(metrics), tmp_path / "d.png")
    assert path.stat().st_size > 1000
    assert plots.show(plots.distributions_figure(metrics)) is None  # nothing to write


def test_plot_all_writes_the_four_files(tmp_path, analysed):
    model, test, metrics = analysed
    rasters = spike_rasters(model, test, brian2=False)
    paths = plots.plot_all(metrics, connectivity(model), rasters, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ["distributions.png", "input_map.png", "positions.png", "raster.png"]
    assert len(plots.plot_all(metrics, connectivity(model), None, tmp_path / "b")) == 3
    assert isinstance(rasters, xr.Dataset)
