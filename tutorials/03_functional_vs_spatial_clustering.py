# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Functional versus spatial clustering
#
# The paper's central observation is that networks trained with learnable positions
# self-organise: neurons that do the same job end up near each other, and the wiring
# becomes local, modular and economical. This tutorial asks those questions of a trained
# network with `spatialsnn.analysis`:
#
# 1. record the network's activity on test data (an xarray Dataset);
# 2. cluster neurons by *function* (which classes drive them) and by *position*;
# 3. measure whether the two clusterings agree (adjusted Rand index, with a permutation
#    p value), and whether nearby neurons have correlated activity (Mantel test);
# 4. measure the structure of the recurrent weights: modularity, small-worldness,
#    wiring cost.
#
# A control network trained with **no delays** (its positions are never used, hence
# never trained) shows what chance looks like.
#
# Units: positions and lengths in µm, delays in ms, rates in Hz.

# %% [markdown]
# ## Set-up
#
# `SPATIALSNN_TUTORIAL_FAST=1` trains smaller networks for fewer epochs and uses fewer
# permutations and null draws, so the whole tutorial runs in seconds; its numbers are
# then noisy and mostly illustrate the code. Without it, the statistics use 1000
# permutations, and the whole tutorial took about 45 s on the project's 2-core
# development machine.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import xarray as xr

from spatialsnn import analysis
from spatialsnn.analysis import plots
from spatialsnn.train import TrainConfig, train

FAST = os.environ.get("SPATIALSNN_TUTORIAL_FAST") == "1"
N_PERM = 200 if FAST else 1000  # permutations of the null distributions
N_NULL = 5 if FAST else 20  # shuffled networks for the small-world null
torch.manual_seed(0)
out_dir = Path("tutorial-output") / "03-figures"
print("fast mode" if FAST else "full mode")

# %% [markdown]
# ## Two trained networks
#
# Both are trained on the built-in `timing` task (four classes that differ only in the
# interval between two spike volleys). `spatial`: delays = distance / velocity, positions
# learned. `none`: no recurrent delays, positions unused. Everything else is the same.

# %%
base = dict(
    task="timing",
    task_params=dict(n_train=512 if FAST else 1024, n_test=256 if FAST else 512),
    n_hidden=32 if FAST else 48,
    velocity=100.0,
    max_delay=100.0,
    epochs=8 if FAST else 20,
    lr=1e-2 if FAST else 3e-3,
    position_lr=100.0,
    patience=0 if FAST else 6,
    model_kwargs=dict(init_extent=2000.0),
)
models = {}
for condition in ("spatial", "none"):
    result = train(TrainConfig(**base, condition=condition), progress=False)
    models[condition] = result.model  # best epoch, eval mode
    acc = result.history["test_accuracy"][result.best_epoch - 1]
    print(f"{condition:8s} test accuracy {acc:.1%}")

model = models["spatial"]
from spatialsnn.data import make_task  # noqa: E402  (the test split both were evaluated on)

_, test = make_task("timing", seed=0, **base["task_params"])

# %% [markdown]
# ## Activity as an xarray Dataset
#
# `analysis.record` runs the network (in evaluation mode, delays rounded as in Brian2)
# and returns spike counts and rates per sample and neuron, the labels and predictions,
# spike counts in 5 ms bins and the reverse spike-triggered average (hidden spikes in
# the 5 ms after each input spike). Every variable has named dimensions and `units`.

# %%
activity = analysis.record(model, test, time_bin=5.0)
print(activity)
print(f"accuracy {activity.attrs['accuracy']:.1%}, "
      f"mean rate {float(activity['rate'].mean()):.1f} Hz")  # fmt: skip

# %% [markdown]
# ## Functional profiles
#
# A neuron's *tuning* is its mean firing rate for each class (Hz). Its *selectivity*
# compares the preferred class with the mean of the others: 0 for a neuron that fires
# equally for all classes, 1 for one that fires for one class only.

# %%
tuning = analysis.tuning(activity)  # (neuron, class), Hz
sel = analysis.selectivity(tuning)
order = np.lexsort((-sel["selectivity"].values, sel["preferred_class"].values))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), width_ratios=(2, 1), layout="constrained")
img = ax1.imshow(tuning.values[order].T, aspect="auto", cmap="viridis", interpolation="nearest")
ax1.set(xlabel="hidden neuron (sorted by preferred class)", ylabel="class", yticks=range(4))
fig.colorbar(img, ax=ax1, label="rate (Hz)")
ax2.hist(sel["selectivity"].values, bins=15, color="k")
ax2.set(xlabel="selectivity", ylabel="neurons")
plots.show(fig, out_dir / "tuning.png")

# %% [markdown]
# ## Functional clusters, spatial clusters and their agreement
#
# *Functional clusters*: k-means on the tuning profiles, each divided by its norm (so a
# cluster groups neurons driven by the same classes, whatever their overall rate).
# *Spatial clusters*: k-means on the positions. k = number of classes in both.
#
# The adjusted Rand index (ARI) measures how well two partitions agree: 1 for identical
# partitions, about 0 for unrelated ones. Its null distribution comes from shuffling
# which neuron carries which spatial label; the one-sided p value is the fraction of
# shuffles that agree at least as well, `(1 + #null >= observed) / (1 + n_perm)`.

# %%
k = tuning.sizes["class"]
functional = analysis.functional_clusters(tuning, k, seed=0)
spatial = analysis.spatial_clusters(analysis.connectivity(model)["position"], k, seed=0)
agree = analysis.agreement(functional, spatial, n_perm=N_PERM, seed=0)
print(agree)
print(f"\nARI = {float(agree['ari']):.3f} (null mean {float(agree['ari_null_mean']):.3f}), "
      f"p = {float(agree['ari_p']):.4f} with {N_PERM} permutations")  # fmt: skip

# %% [markdown]
# A second, cluster-free view: do nearby neurons fire together? The Mantel test
# correlates, over all pairs of neurons, their distance (µm) with the correlation of
# their spike counts across samples; its null permutes the neurons. A negative `r`
# means that nearby neurons are functionally more similar.

# %%
conn = analysis.connectivity(model)
similarity = analysis.functional_similarity(activity)  # (post, pre), in [-1, 1]
mantel = analysis.mantel(conn["distance"], similarity, n_perm=N_PERM, seed=0)
print(f"Mantel r = {float(mantel['r']):.3f}, two-sided p = {float(mantel['p']):.4f}")

# %% [markdown]
# ## Structure of the recurrent weights
#
# - **Modularity** Q (Louvain on the symmetrised |W|, several seeds): how strongly the
#   network splits into communities with dense internal connections.
# - **Small-worldness** σ = (C/C_null)·(E/E_null): weighted clustering C and global
#   efficiency E (≈ 1/path length) relative to networks whose weights were shuffled;
#   σ > 1 means more clustered than chance at comparable efficiency.
# - **Wiring cost** Σ |w_ij|·d_ij (µm) and **wiring efficiency** in [0, 1] (1: the
#   strongest synapses are the shortest possible).
#
# `conn` holds the weights and geometry as an xarray Dataset with dims `(post, pre)`.

# %%
w = conn["weight"]
mod = analysis.modularity(w, seeds=5 if FAST else 10)
sw = analysis.small_world(w, n_null=N_NULL, seed=0)
print(f"modularity Q = {float(mod['q_mean']):.3f} ± {float(mod['q_sd']):.3f} "
      f"({int(mod['n_communities'][0])} communities)")  # fmt: skip
print(f"clustering ratio {float(sw['clustering_ratio']):.3f}, efficiency ratio "
      f"{float(sw['efficiency_ratio']):.3f}, sigma {float(sw['sigma']):.3f}")  # fmt: skip
print(f"wiring cost {analysis.wiring_cost(w, conn['length']):.3g} µm, "
      f"wiring efficiency {analysis.wiring_efficiency(w, conn['length']):.3f}")  # fmt: skip

# %% [markdown]
# ## Everything at once, for both networks
#
# `analysis.analyze` runs all of the above (plus input maps and, optionally, pruning
# curves) and returns one Dataset of metrics, together with the recorded activity. It
# is what `spatialsnn analyze model.nc` writes. We run it on both networks and stack
# the scalar metrics along a new `condition` dimension, so xarray can show them side by
# side.

# %%
results = {}
for condition, m in models.items():
    results[condition] = analysis.analyze(
        m,
        test,
        n_perm=N_PERM,
        n_null=N_NULL,
        seeds=5 if FAST else 10,
        prune_fractions=None,
        seed=0,
    )
names = ["accuracy", "ari", "ari_p", "mantel_r", "mantel_p", "modularity_q_mean", "sigma",
         "wiring_cost", "wiring_efficiency"]  # fmt: skip
table = xr.concat(
    [results[c][0][names] for c in models], dim=xr.DataArray(list(models), dims="condition")
)
print(table.to_dataframe().T.to_string(float_format=lambda v: f"{v:.3g}"))

# %% [markdown]
# How to read it: the control's positions were never trained, so its spatial clusters
# are arbitrary and its ARI should be near 0 with a large p value. A clearly positive
# ARI with a small p value for the spatial network means that its functional groups are
# also spatial groups. With the small fast-mode networks the numbers are noisy; the
# analysis page of the user guide (`docs/analysis.md`) reports this comparison over
# three seeds per condition.

# %% [markdown]
# ## Figures
#
# `spatialsnn.analysis.plots` draws the standard figures of one model. Each is a
# standalone matplotlib figure that explains itself (axes with units, a legend for every
# colour and line, a paragraph under the plot); `plots.show` displays it here and saves
# it into `tutorial-output/03-figures/`. `spatialsnn analyze model.nc --plots DIR` writes
# the same figures; docs/analysis.md has a caption for each.
#
# The spike raster needs spike trains of a few samples: `analysis.spike_rasters`
# simulates one sample per class in the twin and (if Brian2 is installed) in Brian2,
# so that the figure shows whether the two agree spike for spike.

# %%
metrics, _ = results["spatial"]
rasters = analysis.spike_rasters(model, test)
print(rasters)
plots.show(plots.raster_figure(rasters, metrics), out_dir / "raster.png")

# %%
plots.show(plots.positions_figure(metrics, conn), out_dir / "positions.png")

# %%
plots.show(plots.distributions_figure(metrics), out_dir / "distributions.png")
plots.show(plots.input_map_figure(metrics), out_dir / "input_map.png")

# %% [markdown]
# ## Summary
#
# - `analysis.record` → activity as xarray; `tuning`, `functional_clusters`,
#   `spatial_clusters`, `agreement` (ARI, AMI, permutation p) and `mantel` ask whether
#   function lines up with space.
# - `modularity`, `small_world`, `wiring_cost`, `wiring_efficiency` describe the
#   recurrent graph; `analyze` collects everything in one Dataset.
# - Always compare with a control: here the network without delays.
