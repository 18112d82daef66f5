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
# # Positions, distances and delays
#
# In spatialsnn every hidden neuron has a position in space, and the axonal delay of a
# connection is the distance between its two neurons divided by a conduction velocity:
#
# $$d_{ij} = \lVert p_i - p_j \rVert_2 \,/\, v .$$
#
# The positions are parameters of the network. Training moves neurons, which changes the
# delays, which changes when spikes arrive: space becomes time (Mészáros, Knight, Akarca
# & Nowotny 2025, [arXiv:2511.01632](https://arxiv.org/abs/2511.01632)).
#
# This tutorial builds a small network, looks at its positions, distances and delays,
# trains it briefly on a task that needs delays, and watches the neurons move.
#
# Units inside spatialsnn's PyTorch model (the *twin*): time in ms, positions in µm,
# conduction velocity in µm/ms (1 m/s = 1000 µm/ms). Voltages are dimensionless, with
# the firing threshold at 1.

# %% [markdown]
# ## Set-up
#
# `SPATIALSNN_TUTORIAL_FAST=1` in the environment runs this tutorial with a smaller
# network, fewer training samples and fewer epochs, so that it finishes in seconds (the
# test suite uses it). Without it, the tutorial trains the configuration of the model
# shipped with spatialsnn (`models/timing-spatial.toml`); the whole tutorial then took
# about 35 s on the project's 2-core development machine. Every random step is seeded.
#
# Figures appear below their cells in Jupyter; `show(fig, path)` (from
# `spatialsnn.analysis.plots`) also saves each one into `tutorial-output/01-figures/`, so
# that run as a script (also with `MPLBACKEND=Agg`, where nothing can be shown) the
# tutorial leaves its figures as PNG files.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import spatialsnn
from spatialsnn.analysis.plots import show
from spatialsnn.data import make_task
from spatialsnn.train import TrainConfig, Trainer

FAST = os.environ.get("SPATIALSNN_TUTORIAL_FAST") == "1"
figures = Path("tutorial-output") / "01-figures"  # show() also saves every figure here
torch.manual_seed(0)
print("fast mode" if FAST else "full mode", "| spatialsnn", spatialsnn.__version__)

# %% [markdown]
# ## A network in space
#
# `SpatialSNN` is the paper's architecture: input spike sources → one recurrent
# population of leaky integrate-and-fire (LIF) neurons → leaky-integrator outputs (one
# per class). Only the recurrent hidden → hidden connections have delays.
#
# - `dims=2`: the neurons live in a plane.
# - `velocity=100.0` µm/ms (0.1 m/s, a slow unmyelinated axon).
# - `init_extent=2000.0` µm: initial positions are drawn uniformly from a square of
#   ±2 mm, so the initial delays range up to about 2·√2·2000 / 100 ≈ 57 ms.
# - `max_delay=100.0` ms: longer delays would be clamped (with a warning).

# %%
model = spatialsnn.SpatialSNN(
    n_in=16,
    n_hidden=32 if FAST else 48,
    n_out=4,
    dims=2,
    velocity=100.0,
    init_extent=2000.0,
    max_delay=100.0,
    seed=0,
)
print(model)
print("positions:", tuple(model.positions.shape), "(neuron, space), coordinates", model.space)
print(model.positions[:3])

# %% [markdown]
# ## Distances, delays and delay steps
#
# `spatialsnn.pairwise_distance` gives the matrix of distances in µm, and
# `model.delays()` the recurrent delays in ms. Both are `[post, pre]` matrices, like
# the recurrent weight matrix `model.w_rec`: row *i* holds the synapses *onto* neuron
# *i*. The diagonal is 0: a self-connection has no length.
#
# The simulation runs in time steps of `dt = 1` ms, so a delay has to be rounded to a
# whole number of steps. spatialsnn rounds exactly as the Brian2 simulator does,
# `k = int(d/dt + 0.5)` (half steps round up); `model.delay_steps()` returns these
# integers.

# %%
with torch.no_grad():
    distance = spatialsnn.pairwise_distance(model.positions)  # µm
    delay = model.delays()  # ms
    steps = model.delay_steps()  # whole time steps of dt

print("distance (µm) of neuron 0's first inputs:", distance[0, :4].numpy().round(1))
print("delay (ms), = distance / 100 µm/ms:      ", delay[0, :4].numpy().round(2))
print("delay in steps of dt = 1 ms:              ", steps[0, :4].numpy())
assert torch.allclose(delay, distance / model.velocity)
print(f"delays range from {delay.max():.1f} ms down to 0 (the diagonal)")

# Brian2's rounding: 2.4 ms -> 2 steps, 2.5 ms -> 3 steps, 2.6 ms -> 3 steps.
print(spatialsnn.delay_steps(torch.tensor([2.4, 2.5, 2.6]), dt=1.0))

# %% [markdown]
# The delays are a differentiable function of the positions. This is what lets gradient
# descent move neurons: a loss that depends on when spikes arrive has a gradient with
# respect to every neuron's position. As an illustration, take the gradient of the *mean
# delay*: it points each neuron away from the others, and a step against it (what
# gradient descent takes) shortens the delays.

# %%
mean_delay = model.delays().mean()
mean_delay.backward()
print(f"mean delay {mean_delay.item():.2f} ms")
print("d(mean delay)/d(position) of neuron 0 (ms per µm):", model.positions.grad[0].numpy())
model.zero_grad()

# %% [markdown]
# Where the neurons are, and how their delays are distributed:

# %%
pos0 = model.positions.detach().numpy().copy()
off_diagonal = ~np.eye(len(pos0), dtype=bool)
delay0 = delay.numpy()[off_diagonal]

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
ax1.scatter(pos0[:, 0], pos0[:, 1], c="tab:blue", edgecolor="k")
ax1.set(xlabel="x (µm)", ylabel="y (µm)", title="initial positions", aspect="equal")
ax2.hist(delay0, bins=30, color="tab:blue")
ax2.set(xlabel="recurrent delay (ms)", ylabel="synapses", title="initial delays")
show(fig, figures / "initial-positions-and-delays.png")

# %% [markdown]
# ## A task that needs delays
#
# The built-in synthetic `timing` task has 16 input channels and 4 classes. Every sample
# contains two volleys of spikes: channels 0–7 fire once near a random onset, channels
# 8–15 fire once an *interval* later. The four classes differ only in that interval
# (15, 30, 45 or 60 ms). The spike counts are the same for every class and the random
# onset hides absolute time, so the network has to compare spike times tens of ms
# apart, longer than its membrane time constant (20 ms). Delays are one way to do it.

# %%
task_params = dict(n_train=512 if FAST else 1024, n_test=256 if FAST else 512)
train_data, test_data = make_task("timing", seed=0, **task_params)
print(f"{len(train_data)} training and {len(test_data)} test samples, {train_data.n_steps} "
      f"steps of {train_data.dt} ms, {train_data.n_channels} channels")  # fmt: skip

fig, axes = plt.subplots(1, 4, figsize=(12, 3), sharey=True, layout="constrained")
for label, ax in enumerate(axes):
    k = int(torch.nonzero(test_data.y == label)[0])
    t, channel = torch.nonzero(test_data.x[k], as_tuple=True)
    ax.plot(t, channel, "|", color="k")
    ax.set(title=f"class {label}", xlabel="time (ms)", xlim=(0, test_data.n_steps))
axes[0].set_ylabel("input channel")
show(fig, figures / "task-inputs.png")

# %% [markdown]
# ## Training
#
# A `TrainConfig` holds everything that defines a run. The values below are those of the
# shipped model (`models/timing-spatial.toml`): Adam on the weights (learning rate
# `lr`) and a separate Adam on the positions, with `position_lr` in µm per step
# (100 µm = 1 ms of delay at this velocity). During training the delays are
# *interpolated* between neighbouring steps, so their gradient is exact; for evaluation
# they are rounded as Brian2 rounds them. The neurons have a 2 ms refractory period and
# a rate regulariser keeps them below 50 spikes/s: without these the network learns to
# rely on the 1 ms grid and loses the task when simulated at a finer step (see the
# training guide, "Training for transfer"). The fast mode uses a smaller network and a
# larger weight learning rate so that a few epochs suffice.
#
# `Trainer` builds its network from the configuration's seed: the same initial positions
# as the network above (its input weights are scaled to the data's spike rate). We keep
# a copy of its positions and delays before calling `fit()`.

# %%
config = TrainConfig(
    task="timing",
    task_params=task_params,
    data_seed=0,
    seed=0,
    condition="spatial",
    n_hidden=32 if FAST else 48,
    dims=2,
    velocity=100.0,
    max_delay=100.0,
    epochs=8 if FAST else 40,
    batch_size=32,
    lr=1e-2 if FAST else 3e-3,
    position_lr=100.0,
    patience=0 if FAST else 8,
    refractory=2.0,  # ms (the default)
    rate_reg=1e-5,  # keep hidden rates within rate_range (the default, 0-50 spikes/s)
    model_kwargs=dict(init_extent=2000.0),
)
trainer = Trainer(config, progress=False)
with torch.no_grad():
    positions_before = trainer.model.positions.detach().clone().numpy()
    delays_before = trainer.model.delays().numpy()
print("same initial positions as the network above:", np.allclose(positions_before, pos0))
result = trainer.fit()
trained = result.model  # the epoch with the best validation accuracy, in eval mode
history = result.history
best = result.best_epoch - 1
print(f"best epoch {result.best_epoch}: test accuracy {history['test_accuracy'][best]:.1%} "
      f"(chance 25 %), {sum(history['epoch_seconds']):.1f} s of training")  # fmt: skip

# %%
epochs = np.arange(1, len(history["test_accuracy"]) + 1)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
ax1.plot(epochs, history["train_accuracy"], label="train")
ax1.plot(epochs, history["test_accuracy"], label="test")
ax1.axhline(0.25, color="grey", ls=":", label="chance")
ax1.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1))
ax1.legend()
ax2.plot(epochs, history["hidden_rate_hz"], color="k", label="mean")
ax2.plot(epochs, history["hidden_rate_max_hz"], color="k", ls="--", label="busiest neuron")
ax2.set(xlabel="epoch", ylabel="hidden firing rate (spikes/s)")
ax2.legend()
show(fig, figures / "training-history.png")

# %% [markdown]
# ## Watching the neurons move
#
# The arrows go from each neuron's initial position to its position after training.

# %%
with torch.no_grad():
    positions_after = trained.positions.detach().numpy()
    delays_after = trained.delays().numpy()
moved = np.linalg.norm(positions_after - positions_before, axis=1)
print(f"neurons moved by {moved.mean():.0f} µm on average (at most {moved.max():.0f} µm), "
      f"i.e. {moved.mean() / config.velocity:.1f} ms of conduction time")  # fmt: skip

fig, ax = plt.subplots(figsize=(6, 6), layout="constrained")
ax.scatter(*positions_before.T, c="lightgrey", edgecolor="grey", label="before")
ax.scatter(*positions_after.T, c="tab:red", edgecolor="k", label="after", zorder=3)
for p, q in zip(positions_before, positions_after, strict=True):
    ax.annotate("", xy=q, xytext=p, arrowprops=dict(arrowstyle="->", color="grey", lw=0.8))
ax.set(xlabel="x (µm)", ylabel="y (µm)", title="positions before and after training")
ax.set_aspect("equal")
ax.legend()
show(fig, figures / "positions-before-after.png")

# %% [markdown]
# Every synapse's delay changed with its two neurons. Points off the diagonal on the
# left are synapses whose delay training changed; the histograms on the right compare
# the whole distribution. How much structure appears depends on the training length;
# the full mode trains long enough for the network to solve the task.

# %%
before, after = delays_before[off_diagonal], delays_after[off_diagonal]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
ax1.plot(before, after, ".", ms=2, alpha=0.5)
top = max(before.max(), after.max())
ax1.plot([0, top], [0, top], color="grey", lw=0.8)
ax1.set(xlabel="delay before (ms)", ylabel="delay after (ms)", aspect="equal")
bins = np.linspace(0, top, 31)
ax2.hist(before, bins=bins, alpha=0.5, label="before")
ax2.hist(after, bins=bins, alpha=0.5, label="after")
ax2.set(xlabel="recurrent delay (ms)", ylabel="synapses")
ax2.legend()
show(fig, figures / "delays-before-after.png")
print(f"mean delay {before.mean():.1f} ms -> {after.mean():.1f} ms; "
      f"median change {np.median(np.abs(after - before)):.2f} ms per synapse")  # fmt: skip
print("delays clamped to max_delay in the last epoch:", int(history["clamped_delays"][-1]))

# %% [markdown]
# ## Saving the network
#
# `spatialsnn.save` writes the trained network to a self-describing netCDF file, with
# positions in µm, the velocity in µm/ms, the training history and configuration; the
# next tutorial loads such a file into Brian2. The file goes into `tutorial-output/` in
# the current directory.

# %%
out_dir = Path("tutorial-output")
path = spatialsnn.save(
    trained, out_dir / "01-timing.nc", history=history, training_config=trainer.training_config()
)
again = spatialsnn.load(path)
assert torch.equal(again.positions, trained.positions)
print("wrote", path)

# %% [markdown]
# ## Summary
#
# - Positions (µm) → distances (µm) → delays (ms) = distance / velocity → whole steps,
#   rounded as Brian2 rounds.
# - Delays are differentiable in the positions, so training moves neurons.
# - On a task that needs delays, the trained network's neurons have moved, and its delay
#   distribution has changed with them.
#
# Next: the tutorial *From PyTorch to Brian2* runs a trained network in Brian2.
