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
# # From PyTorch to Brian2
#
# spatialsnn trains networks in a differentiable PyTorch model, the *twin*. A trained
# network is a scientific result only if a conventional simulator reproduces it. This
# tutorial takes a trained model file, builds the same network in
# [Brian2](https://briansimulator.org), where the neurons carry their positions as
# state variables and **Brian2 itself** computes every axonal delay from those
# positions and the conduction velocity, adds our own monitors, runs it, and compares
# the spikes with the twin. Then it perturbs the biology (slower axons, a noisy
# membrane) and shows how the delays and the behaviour change.
#
# Units: time in ms, positions in µm, velocity in µm/ms in the twin and in the file;
# Brian2 objects carry real Brian2 units (`umetre`, `ms`).

# %% [markdown]
# ## Set-up
#
# `SPATIALSNN_TUTORIAL_FAST=1` trains a smaller network for fewer epochs and simulates
# fewer test samples, so the tutorial finishes in seconds; without it, the whole
# tutorial took about 34 s on the project's 2-core development machine. Brian2 runs on
# its default *runtime* device with the `numpy` code-generation target: nothing is
# compiled, which is the quickest start for small networks. Figures appear below their
# cells in Jupyter; `show(fig, path)` also saves each one into
# `tutorial-output/02-figures/` (the way to see them when run as a script).

# %%
import json
import os
from pathlib import Path

import brian2 as b2
import matplotlib.pyplot as plt
import numpy as np
import torch
import xarray as xr

import spatialsnn
from spatialsnn.analysis.plots import show
from spatialsnn.brian2 import delay_expression, network_params, to_brian2
from spatialsnn.data import dataset_from_info
from spatialsnn.train import TrainConfig, train
from spatialsnn.validate import load_data, spike_agreement, validate

FAST = os.environ.get("SPATIALSNN_TUTORIAL_FAST") == "1"
figures = Path("tutorial-output") / "02-figures"  # show() also saves every figure here
N_SAMPLES = 16 if FAST else 64  # test samples simulated in Brian2
torch.manual_seed(0)
b2.seed(0)
b2.prefs.codegen.target = "numpy"
out_dir = Path("tutorial-output")
print("fast mode" if FAST else "full mode", "| brian2", b2.__version__)

# %% [markdown]
# ## A trained model file
#
# We train a spatial network on the built-in `timing` task (four classes that differ
# only in the interval between two spike volleys, see the first tutorial) and write it
# to `tutorial-output/02-timing.nc`. `train` stores the best epoch, the training
# history and the configuration, including where the data came from.

# %%
config = TrainConfig(
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
model_path = out_dir / "02-timing.nc"
result = train(config, model_path, progress=False)
print(f"test accuracy {result.history['test_accuracy'][result.best_epoch - 1]:.1%}, "
      f"written to {model_path}")  # fmt: skip

# %% [markdown]
# The file is netCDF4, readable with plain xarray (no spatialsnn needed): positions per
# population, weights per projection as `(pre, post)` matrices, neuron parameters, all
# with `units`. The training configuration is a JSON string attribute.

# %%
with xr.open_dataset(model_path, engine="h5netcdf") as ds:
    print(ds["position_hidden"])
    print("velocity:", float(ds["velocity"]), ds["velocity"].attrs["units"])
    training_config = json.loads(ds.attrs["training_config"])
print("data recorded in the file:", training_config["data"])

# %% [markdown]
# ## Load the twin and the test data
#
# `spatialsnn.load` returns the network in training mode; `eval()` switches to the
# evaluation mode, in which delays are rounded to whole steps exactly as Brian2 rounds
# them. We compare in float64: two float32 simulations of a recurrent network can
# already diverge after a single spike that lands within rounding error of the
# threshold. The test split is regenerated from the provenance stored in the file.

# %%
twin = spatialsnn.load(model_path, dtype=torch.float64).eval()
test = dataset_from_info(training_config["data"], split="test")
x = test.x[:N_SAMPLES].numpy().astype(np.int64)  # spike counts [sample, step, channel]
labels = test.y[:N_SAMPLES].numpy()
with torch.no_grad():
    twin_out = twin(torch.from_numpy(x).double())
twin_raster = twin_out.hidden_spikes.numpy() > 0.5  # [sample, step, neuron]
twin_pred = twin_out.logits.argmax(1).numpy()
print(f"{len(x)} samples of {x.shape[1]} steps; twin accuracy {np.mean(twin_pred == labels):.1%}")

# %% [markdown]
# ## Build the network in Brian2
#
# `to_brian2` creates ordinary Brian2 objects: a `NeuronGroup` `hidden` (LIF neurons,
# `dv/dt = (I - v)/tau_mem`, `dI/dt = -I/tau_syn`, `method='exact'`, threshold
# `v >= 1`, reset `v = 0`) with position variables `x, y`; a `NeuronGroup` `output` of
# leaky integrators; the input as a `SpikeGeneratorGroup`; and `Synapses` with
# `on_pre='I_post += w'`. The recurrent synapses' delays are set **by Brian2** from the
# expression `sqrt((x_pre - x_post)**2 + (y_pre - y_post)**2) / velocity`.
#
# `n_copies` places independent copies of the network side by side, one per sample,
# so all samples run in one Brian2 run (copy *b* owns hidden neurons
# `b*n_hidden ... (b+1)*n_hidden - 1`).

# %%
net = to_brian2(twin, counts=x, n_copies=len(x))
n_hidden = twin.hparams["n_hidden"]
print("hidden positions:", net.hidden.x[:3], net.hidden.y[:3])
print("recurrent delay:", delay_expression(twin.space), "with velocity =",
      net.namespace["velocity"])  # fmt: skip

# Brian2's delays (copy 0) next to the twin's, synapse by synapse.
pre, post = net.synapse_index["hidden_hidden"]  # synapse order of copy 0
brian2_delay = np.asarray(net.hidden_hidden.delay[: len(pre)] / b2.ms)
with torch.no_grad():
    twin_delay = twin.delays().numpy()[post, pre]  # the twin's matrix is [post, pre]
print(f"largest |Brian2 delay - twin delay| = {np.abs(brian2_delay - twin_delay).max():.1e} ms")

# %% [markdown]
# ## Our own monitors
#
# The network already records the hidden spikes (`net.hidden_spikes`) and the output
# membrane (`net.output_voltage`). Anything else is a normal Brian2 monitor added to
# `net.network`: here the membrane potential `v` and synaptic current `I` of three
# hidden neurons of the first copy, and the population rate of all hidden neurons.

# %%
watched = [0, 1, 2]
state = b2.StateMonitor(net.hidden, ["v", "I"], record=watched)
rate = b2.PopulationRateMonitor(net.hidden)
net.network.add(state, rate)
net.run()  # x.shape[1] steps of dt = 1 ms
brian2_raster = net.hidden_spike_raster()  # bool [copy, step, neuron]
brian2_pred = net.logits().argmax(1)
print(f"Brian2 ran {net.n_steps} steps of {net.dt} ms; {len(net.hidden_spikes.i)} hidden spikes")

# %% [markdown]
# ## Twin and Brian2, side by side
#
# Identical spike trains are the goal: same neuron, same time step, every spike.

# %%
identical = (brian2_raster == twin_raster).all(axis=(1, 2))
print(f"identical hidden spike trains: {identical.sum()} / {len(identical)} samples")
print(f"hidden spikes: twin {twin_raster.sum()}, Brian2 {brian2_raster.sum()}")
print(f"accuracy: twin {np.mean(twin_pred == labels):.1%}, "
      f"Brian2 {np.mean(brian2_pred == labels):.1%}")  # fmt: skip

fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True, layout="constrained")
t_ms = state.t / b2.ms
for k, neuron in enumerate(watched):
    axes[0].plot(t_ms, state.v[k], label=f"neuron {neuron}")
    spikes = np.flatnonzero(twin_raster[0, :, neuron])
    axes[0].plot(spikes, np.full(len(spikes), 1.05 + 0.05 * k), "v", color=f"C{k}", ms=5)
axes[0].axhline(1.0, color="grey", ls=":", lw=0.8)
axes[0].set(ylabel="v (threshold 1)", title="Brian2 membrane; triangles: twin spike times")
axes[0].legend(fontsize=8)
s, n = np.nonzero(twin_raster[0])
axes[1].plot(s, n, "o", mfc="none", color="tab:blue", ms=6, label="twin")
sb, nb = np.nonzero(brian2_raster[0])
axes[1].plot(sb, nb, ".", color="tab:red", ms=3, label="Brian2")
axes[1].set(xlabel="time (ms)", ylabel="hidden neuron", title=f"sample 0 (class {labels[0]})")
axes[1].legend(fontsize=8, loc="upper right")
show(fig, figures / "twin-vs-brian2-spikes.png")

# %% [markdown]
# ## The same check with `validate`
#
# `spatialsnn.validate.validate` is what the command `spatialsnn validate model.nc`
# runs: the same samples through both simulators, with per-sample statistics and pass
# criteria (at least 99 % identical spike trains in float64, accuracies within 0.5
# percentage points). `load_data(None, ...)` uses the data recorded in the file.

# %%
data = load_data(
    None, training_config=training_config, n_in=twin.hparams["n_in"], dt=twin.dt, samples=N_SAMPLES
)
report = validate(twin, data)
print(report.format_table())

# %% [markdown]
# ## Perturbation 1: slower axons
#
# Brian2 computes the delays from the positions and the velocity, so changing the
# velocity in the Brian2 network changes every delay. Here the axons conduct at half
# the trained speed (50 µm/ms instead of 100): every recurrent delay doubles. The
# weights and positions stay the same. `network_params` gives the flat parameter
# dictionary that `to_brian2` builds from; we edit it and build again. The longest
# delays now exceed the model's clamp `max_delay` (100 ms), which both simulators would
# apply, so we raise it as well to see the pure effect of the velocity.

# %%
params = network_params(twin)


def run_brian2(params, counts):
    """Build, run and return (network, hidden raster, predictions) for the given params."""
    network = to_brian2(params, counts=counts, n_copies=len(counts))
    network.run()
    return network, network.hidden_spike_raster(), network.logits().argmax(1)


slow = dict(params, velocity=params["velocity"] / 2, max_delay=2 * params["max_delay"])
slow_net, slow_raster, slow_pred = run_brian2(slow, x)
slow_delay = np.asarray(slow_net.hidden_hidden.delay[: len(pre)] / b2.ms)
print(f"mean recurrent delay: {brian2_delay.mean():.1f} ms at {params['velocity']:g} µm/ms, "
      f"{slow_delay.mean():.1f} ms at {slow['velocity']:g} µm/ms")  # fmt: skip


def agreement(raster):
    """Mean spike agreement with the twin (1: identical; spikes paired within 1 ms)."""
    return np.mean(
        [spike_agreement(a, 1.0, b, 1.0, 1.0) for a, b in zip(raster, twin_raster, strict=True)]
    )


print(f"accuracy: trained velocity {np.mean(brian2_pred == labels):.1%}, "
      f"half velocity {np.mean(slow_pred == labels):.1%}")  # fmt: skip
print(f"spike agreement with the twin: {agreement(brian2_raster):.3f} -> "
      f"{agreement(slow_raster):.3f}")  # fmt: skip

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
bins = np.linspace(0, slow_delay.max(), 40)
ax.hist(brian2_delay, bins=bins, alpha=0.6, label=f"{params['velocity']:g} µm/ms (trained)")
ax.hist(slow_delay, bins=bins, alpha=0.6, label=f"{slow['velocity']:g} µm/ms")
ax.set(xlabel="recurrent delay computed by Brian2 (ms)", ylabel="synapses")
ax.legend()
show(fig, figures / "slower-conduction.png")

# %% [markdown]
# The perturbation changes the *model*, not the export: a twin built with the same
# slower velocity (same weights and positions) reproduces the perturbed Brian2
# network spike for spike again.

# %%
slow_twin = spatialsnn.SpatialSNN(
    **dict(twin.config(), velocity=slow["velocity"], max_delay=slow["max_delay"])
)
slow_twin.load_state_dict(twin.state_dict())
slow_twin = slow_twin.double().eval()
with torch.no_grad():
    slow_twin_raster = slow_twin(torch.from_numpy(x).double()).hidden_spikes.numpy() > 0.5
same = (slow_twin_raster == slow_raster).all(axis=(1, 2))
print(f"slow twin vs slow Brian2: identical in {same.sum()} / {len(same)} samples")

# %% [markdown]
# ## Perturbation 2: a noisy membrane
#
# Real membranes are noisy. We add Gaussian noise to `v` of every hidden neuron once
# per time step, `v += sigma * randn()`, with Brian2's `run_regularly` (a code block
# executed on a clock), and see how quickly the trained computation degrades. The
# noise amplitude `sigma` is in units of the threshold (1). The twin has no noise, so
# spike agreement measures how far the noisy network drifts from it.

# %%
sigmas = [0.0, 0.05, 0.2] if FAST else [0.0, 0.02, 0.05, 0.1, 0.2, 0.4]
noisy_accuracy, noisy_agreement = [], []
for sigma in sigmas:
    noisy = to_brian2(params, counts=x, n_copies=len(x))
    if sigma > 0:
        # after the state update, before the threshold: the noise can cause or cancel spikes
        kick = noisy.hidden.run_regularly(f"v += {sigma} * randn()", when="after_groups")
        noisy.network.add(kick)
    noisy.run()
    noisy_accuracy.append(np.mean(noisy.logits().argmax(1) == labels))
    noisy_agreement.append(agreement(noisy.hidden_spike_raster()))
    print(f"sigma {sigma:4.2f}: accuracy {noisy_accuracy[-1]:6.1%}, "
          f"spike agreement with the twin {noisy_agreement[-1]:.3f}")  # fmt: skip

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot(sigmas, noisy_accuracy, "o-", label="accuracy")
ax.plot(sigmas, noisy_agreement, "s-", label="spike agreement with the twin")
ax.axhline(0.25, color="grey", ls=":", label="chance")
ax.set(xlabel="membrane noise sigma per step (threshold = 1)", ylim=(0, 1.05))
ax.legend()
show(fig, figures / "membrane-noise.png")

# %% [markdown]
# ## Summary
#
# - `to_brian2(model)` builds plain Brian2 objects; positions are state variables and
#   Brian2 computes each delay from them (`sqrt(...) / velocity`).
# - Add any Brian2 monitor to `net.network`; `net.hidden_spike_raster()` and
#   `net.logits()` give what the twin gives.
# - In float64 the twin and Brian2 agree spike for spike; `validate` (and the command
#   `spatialsnn validate model.nc`) checks it with explicit criteria.
# - Perturbations are ordinary Brian2 edits: a slower velocity stretches every delay,
#   membrane noise is one `run_regularly` line.
#
# For many samples, compiled C++ (`cpp_standalone`) or the GPU (brian2cuda), see the
# Brian2 page of the user guide (`docs/brian2.md` in the repository).
