"""Synthetic temporal tasks, generated deterministically from a seed.

``timing``
    Two volleys: every channel of the first half fires once near a random onset,
    every channel of the second half once, an interval later. The spike pattern
    inside each volley is the same for all classes; classes differ *only* in the
    interval between the volleys (``min_interval`` to ``max_interval`` ms, longer
    than the membrane time constant). Spike counts are identical across classes
    and the onset hides absolute time, so neither rates nor absolute times solve
    it: the network must compare spike times tens of ms apart, which is what
    axonal delays do (the built-in default task).
``randman``
    Random manifolds (Zenke & Vogels 2021): each class is a smooth random
    d-dimensional manifold in spike-time space; each channel spikes once.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from spatialsnn.data.dataset import SpikeDataset

__all__ = ["TASKS", "make_task"]

TASKS = ("timing", "randman")

_DEFAULTS: dict[str, dict[str, Any]] = {
    "timing": dict(n_channels=16, n_classes=4, n_steps=100, min_interval=15, max_interval=60,
                   spread=8, jitter=1, noise=0.002, n_train=1024, n_test=256),
    "randman": dict(n_channels=20, n_classes=4, n_steps=100, manifold_dim=1, smoothness=1.0,
                    n_train=1024, n_test=256),
}  # fmt: skip


def check_params(name: str, params: dict[str, Any]) -> None:
    """Refuse task parameters that cannot make a task (``ValueError``, one message).

    Parameters
    ----------
    name : {"timing", "randman"}
        The task.
    params : dict
        Its parameters; missing ones take the defaults.
    """
    p = {**_DEFAULTS[name], **params}
    if p["n_classes"] < 2 or p["n_channels"] < 1 + (name == "timing"):
        least = 2 if name == "timing" else 1
        raise ValueError(f"the {name} task needs n_classes >= 2 and n_channels >= {least}")
    if name == "timing":
        if p["min_interval"] > p["max_interval"]:
            raise ValueError(
                f"min_interval ({p['min_interval']}) must be <= max_interval ({p['max_interval']})"
            )
        if p["spread"] < 1:
            raise ValueError(f"spread must be >= 1 step, got {p['spread']}")
        span = p["max_interval"] + p["spread"] + p["jitter"]
        if span >= p["n_steps"]:
            raise ValueError(
                f"max_interval + spread + jitter ({span}) must be < n_steps ({p['n_steps']})"
            )
        if not p["noise"] < 1:
            raise ValueError(f"noise is a probability per bin, < 1; got {p['noise']}")


def _timing(seed: int, p: dict[str, Any], split: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    c, k, n_t = p["n_channels"], p["n_classes"], p["n_steps"]
    lo, hi, spread = p["min_interval"], p["max_interval"], p["spread"]
    check_params("timing", p)
    span = hi + spread + p["jitter"]
    intervals = torch.linspace(lo, hi, k).round().long()  # class -> interval in steps
    # within-volley pattern, shared by all classes
    pattern = torch.randint(0, spread, (c,), generator=torch.Generator().manual_seed(seed))
    second = (torch.arange(c) >= c // 2).long()
    g = torch.Generator().manual_seed(seed * 1000 + (1 if split == "train" else 2))
    y = torch.randint(0, k, (n,), generator=g)
    onset = torch.randint(0, n_t - span, (n, 1), generator=g)
    jitter = torch.randint(-p["jitter"], p["jitter"] + 1, (n, c), generator=g)
    times = (onset + pattern + second * intervals[y][:, None] + jitter).clamp(0, n_t - 1)
    x = (torch.rand(n, n_t, c, generator=g) < p["noise"]).to(torch.int32)
    x.scatter_add_(1, times[:, None, :], torch.ones(n, 1, c, dtype=torch.int32))
    return x.clamp_max(255).to(torch.uint8), y


def _randman(seed: int, p: dict[str, Any], split: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    c, k, n_t, d = p["n_channels"], p["n_classes"], p["n_steps"], p["manifold_dim"]
    n_modes = 3
    gm = torch.Generator().manual_seed(seed)
    # per class, channel and manifold dim: a random smooth 1-D function on [0, 1]
    amp = torch.rand(k, c, d, n_modes, generator=gm) / (
        torch.arange(1, n_modes + 1) ** p["smoothness"]
    )
    freq = torch.rand(k, c, d, n_modes, generator=gm) * torch.arange(1, n_modes + 1)
    phase = torch.rand(k, c, d, n_modes, generator=gm)
    g = torch.Generator().manual_seed(seed * 1000 + (1 if split == "train" else 2))
    y = torch.randint(0, k, (n,), generator=g)
    u = torch.rand(n, 1, d, 1, generator=g)
    f = (amp[y] * torch.sin(2 * math.pi * (freq[y] * u + phase[y]))).sum(-1).prod(-1)  # [n, c]
    f = (f - f.amin(1, keepdim=True)) / (f.amax(1, keepdim=True) - f.amin(1, keepdim=True) + 1e-9)
    times = (f * (n_t - 1) * 0.9).round().long()
    x = torch.zeros(n, n_t, c, dtype=torch.uint8)
    x.scatter_(1, times[:, None, :], 1)
    return x, y


_GENERATORS = {"timing": _timing, "randman": _randman}


def make_task(
    name: str = "timing", *, seed: int = 0, dt: float = 1.0, **params: Any
) -> tuple[SpikeDataset, SpikeDataset]:
    """Generate the train and test split of a synthetic task.

    Parameters
    ----------
    name : {"timing", "randman"}
        The task (see the module docstring).
    seed : int
        Seed of the task (class templates) and of its samples; the same seed always
        gives the same data.
    dt : float
        Bin width in ms (one step of the network).
    **params
        Task parameters overriding the defaults: ``n_channels``, ``n_classes``,
        ``n_steps``, ``n_train``, ``n_test``, and per task ``min_interval``,
        ``max_interval``, ``spread``, ``jitter``, ``noise`` (timing: range of the
        class intervals between the volleys, spread of the spike pattern inside a
        volley, per-spike jitter, all in steps; background spike probability per
        bin) or ``manifold_dim``, ``smoothness`` (randman).

    Returns
    -------
    train, test : SpikeDataset
        Their ``info`` holds everything needed to regenerate them.
    """
    if name not in _GENERATORS:
        raise ValueError(f"unknown task {name!r}; choose one of {TASKS}")
    unknown = set(params) - set(_DEFAULTS[name])
    if unknown:
        raise ValueError(f"unknown parameters for task {name!r}: {sorted(unknown)}")
    p = {**_DEFAULTS[name], **params}
    info = {"source": "synthetic", "task": name, "seed": int(seed), "dt": float(dt), **p}
    out = []
    for split in ("train", "test"):
        x, y = _GENERATORS[name](int(seed), p, split, int(p[f"n_{split}"]))
        out.append(
            SpikeDataset(x, y, float(dt), int(p["n_classes"]), name, {**info, "split": split})
        )
    return out[0], out[1]
