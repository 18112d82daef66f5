"""Time whole training epochs of the paper's SHD configuration on SHD-shaped synthetic data.

What it runs
------------
The training loop of ``spatialsnn train`` (``Trainer._train_epoch``: batch indexing,
the paper's augmentation, forward, loss, backward, Adam) with the configuration of
``models/shd-paper.toml``: 700 inputs, 128 recurrent hidden neurons in 2-D, 20 classes,
dt = 1 ms, T = 1000 steps, batch 256, delays clamped at 1000 steps. No validation split is
held out (``val_fraction = 0``), so an epoch is all 8156 samples: 32 batches.

The data go through the project's data path: a file in the exact SHD layout
(:func:`spatialsnn.data.write_shd_like`, 8156 samples, SHD-like rates) is written once
into a cache folder and read and binned by :func:`spatialsnn.data.load_shd` into the
``SpikeDataset`` the trainer indexes. Writing and reading are timed and reported apart
from the epoch.

What it reports
---------------
- seconds per epoch (every batch run, nothing extrapolated unless ``--batches K`` and
  ``--extrapolate`` are both given; then the extrapolated number is labelled so);
- the split of the epoch into data (indexing, augmentation, conversion), forward,
  loss + backward and optimizer, measured with hooks on the model and the optimizer;
- with ``--profile-batches K`` (default 1), K further batches under ``torch.profiler``
  (not part of the epoch time), forward, backward and optimizer profiled separately: the
  operators' self CPU time (the profiler's own overhead included);
- memory: the resident set size after loading the data, its peak during the epochs
  (``VmHWM`` after resetting it through ``/proc/self/clear_refs``), and the size of
  the binned data set;
- the 1-minute load average before and after (other processes distort timings).

Run from the repository root::

    python benchmarks/shd_epoch.py                          # one full epoch
    python benchmarks/shd_epoch.py --delays long            # delays spread over 0-1000 steps
    python benchmarks/shd_epoch.py --batches 2 --extrapolate  # quick, labelled estimate
    python benchmarks/shd_epoch.py --json out.json

``--delays paper`` (default) starts from the configuration's initial positions (delays
of at most ~3 steps); ``--delays long`` spreads the positions so that the recurrent
delays cover 0 to ~1000 steps, as after long training; the kernels' cost depends on
where in the delay range the arrivals land.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import REPO_ROOT, current_rss_kib, machine_info  # noqa: E402

N_SAMPLES, N_CLASSES, N_CHANNELS = 8156, 20, 700
#: Environment variables that change the measurement; recorded with the result.
ENV_VARS = (
    "THP_MEM_ALLOC_ENABLE",
    "OMP_NUM_THREADS",
    "SPATIALSNN_BACKEND",
    "SPATIALSNN_CPU_BACKWARD_ORDER",
    "MALLOC_ARENA_MAX",
)
CONFIG = REPO_ROOT / "models" / "shd-paper.toml"
GIB = 1024**3


# ----------------------------------------------------------------------------- memory


def vm_hwm_kib() -> int:
    """Peak resident set size of this process since the last :func:`reset_peak`, KiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("VmHWM not found in /proc/self/status")


def reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False where that is refused."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# ----------------------------------------------------------------------------- data


def data_dir(args: argparse.Namespace) -> Path:
    """Cache folder of the synthetic file of these parameters."""
    from spatialsnn.data import default_cache_dir

    base = Path(args.cache_dir) if args.cache_dir else default_cache_dir() / "shd-like"
    return base / f"n{args.samples}-rate{args.rate:g}-seed{args.data_seed}"


def prepare_data(args: argparse.Namespace) -> tuple[Any, dict[str, float]]:
    """Write the SHD-layout file once (cached), then read and bin it like training does."""
    from spatialsnn.data import load_shd, write_shd_like

    folder = data_dir(args)
    path = folder / "shd_train.h5"
    times = {"write_s": 0.0}
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / ".shd_train.h5.part"
        t0 = time.perf_counter()
        write_shd_like(tmp, n_samples=args.samples, n_classes=N_CLASSES, n_channels=N_CHANNELS,
                       duration=1.0, seed=args.data_seed, rate=args.rate)  # fmt: skip
        os.replace(tmp, path)
        times["write_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    data = load_shd("train", path=folder, dt=1.0)
    times["load_s"] = time.perf_counter() - t0
    return data, times


def input_density(data: Any) -> float:
    """Fraction of (sample, step, channel) bins holding at least one spike."""
    import torch

    if hasattr(data.x, "nnz"):  # SpikeCounts: the events are the non-zero bins
        return data.x.nnz / max(data.x.numel(), 1)
    nz = sum(int(part.count_nonzero()) for part in data.x.split(64))
    return nz / max(data.x.numel(), 1) if torch.is_tensor(data.x) else float("nan")


def dataset_bytes(data: Any) -> int:
    """Bytes the loaded training split holds (events, or the dense uint8 tensor)."""
    if hasattr(data.x, "nbytes") and not hasattr(data.x, "element_size"):
        return int(data.x.nbytes)
    return data.x.numel() * data.x.element_size()


# ----------------------------------------------------------------------------- trainer


def make_trainer(args: argparse.Namespace, data: Any) -> Any:
    """A Trainer with the configuration of models/shd-paper.toml (no validation split)."""
    from spatialsnn.config import TrainConfig
    from spatialsnn.train import Trainer, config_from_file

    cfg = config_from_file(CONFIG)
    cfg.update(epochs=1, val_fraction=0.0, backend=args.backend, seed=args.seed)
    cfg["model_kwargs"] = dict(cfg.get("model_kwargs", {}))
    if args.delays == "long":
        # |p_i - p_j| up to 2*sqrt(2)*extent: delays over 0 .. ~1000 steps
        cfg["model_kwargs"]["init_extent"] = 1000.0 * cfg["velocity"] / (2 * math.sqrt(2))
    if args.batches:
        data = data.subset(slice(0, args.batches * cfg["batch_size"]))
    test = data.subset(slice(0, 1))  # not used by a training epoch
    trainer = Trainer(TrainConfig.from_dict(cfg), data, test, progress=False)
    trainer.model.to(args.device)  # in place: the optimizer keeps the same parameters
    return trainer


class PhaseClock:
    """Splits a training epoch into phases with hooks on the model and the optimizer.

    Data: from the end of the previous optimizer step (or the start) to the forward pass;
    forward: the model's ``forward``; backward: from its end to the optimizer step (the
    loss, ``zero_grad`` and ``loss.backward()``); optimizer: ``optimizer.step()``.
    """

    def __init__(self, model: Any, optimizer: Any) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.spikes = 0.0
        self.samples = 0
        self.mark = time.perf_counter()
        self.handles = [
            model.register_forward_pre_hook(lambda *_: self._tick("data")),
            model.register_forward_hook(self._forward_done),
            optimizer.register_step_pre_hook(lambda *_: self._tick("backward")),
            optimizer.register_step_post_hook(lambda *_: self._tick("optimizer")),
        ]

    def _tick(self, phase: str) -> None:
        now = time.perf_counter()
        self.total[phase] += now - self.mark
        self.mark = now

    def _forward_done(self, module: Any, inputs: Any, out: Any) -> None:
        self._tick("forward")
        self.spikes += float(out.hidden_spikes.detach().sum())  # counted as "bookkeeping"
        self.samples += out.hidden_spikes.shape[0]
        self._tick("bookkeeping")

    def close(self) -> None:
        """Take the tail (after the last optimizer step) and remove the hooks."""
        self._tick("data")
        for h in self.handles:
            h.remove()


def warm_up(trainer: Any) -> float:
    """One forward + backward on a 2-sample, 5-step input (loads the compiled kernels and
    torch's operator machinery, a one-time cost per process); returns its seconds."""
    model = trainer.model
    t0 = time.perf_counter()
    model.train()
    x = trainer.train_data.x[:2, :5].to(model.w_in.device)
    model(x).logits.sum().backward()
    trainer.optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - t0


def timed_epochs(trainer: Any, epochs: int) -> list[dict[str, Any]]:
    """Run ``epochs`` training epochs; time each as a whole and by phase."""
    rows = []
    for _ in range(epochs):
        clock = PhaseClock(trainer.model, trainer.optimizer)
        t0 = time.perf_counter()
        stats = trainer._train_epoch()  # its float(loss) per batch waits for the GPU
        elapsed = time.perf_counter() - t0
        clock.close()
        trainer.epoch += 1
        rows.append({
            "seconds": elapsed,
            "phases_s": dict(clock.total),
            "loss": stats["loss"],
            "hidden_spikes_per_neuron_per_trial": clock.spikes / max(clock.samples, 1)
            / trainer.model.hparams["n_hidden"],
        })  # fmt: skip
    return rows


def _top(prof: Any, k: int) -> list[dict[str, Any]]:
    rows = []
    for ev in sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:k]:
        rows.append({"op": ev.key, "self_s": ev.self_cpu_time_total / 1e6, "calls": ev.count})
    return rows


def profile_batches(trainer: Any, n: int, top: int = 8) -> dict[str, Any]:
    """``n`` more batches of the same loop under torch.profiler, phase by phase."""
    import torch
    import torch.nn.functional as F
    from torch.profiler import ProfilerActivity, profile

    model, opt, data = trainer.model, trainer.optimizer, trainer.train_data
    gen = torch.Generator().manual_seed(12345)
    out: dict[str, Any] = {"batches": n}
    acc: dict[str, list[Any]] = defaultdict(list)
    model.train()
    for _ in range(n):
        idx = torch.randperm(len(data), generator=gen)[: trainer.config.batch_size]
        x, y = data.x[idx], data.y[idx]
        if trainer.augment is not None:
            x = trainer.augment(x, y, generator=gen)
        x, y = x.to(model.w_in.device), y.to(model.w_in.device)
        with profile(activities=[ProfilerActivity.CPU]) as pf:
            res = model(x)
            loss = F.cross_entropy(res.logits, y) + trainer._regularisers(res, len(y))
        opt.zero_grad(set_to_none=True)
        with profile(activities=[ProfilerActivity.CPU]) as pb:
            loss.backward()
        with profile(activities=[ProfilerActivity.CPU]) as po:
            opt.step()
        for name, prof in (("forward", pf), ("backward", pb), ("optimizer", po)):
            acc[name].append(_top(prof, top))
    for name, runs in acc.items():
        merged: dict[str, dict[str, float]] = defaultdict(lambda: {"self_s": 0.0, "calls": 0})
        for run in runs:
            for row in run:
                merged[row["op"]]["self_s"] += row["self_s"] / n
                merged[row["op"]]["calls"] += row["calls"] / n
        out[name] = sorted(({"op": k, **v} for k, v in merged.items()),
                           key=lambda r: -r["self_s"])[:top]  # fmt: skip
    return out


# ----------------------------------------------------------------------------- report


def render(r: dict[str, Any]) -> str:
    """The result as Markdown."""
    m = r["machine"]
    lines = [
        f"Command: `{r['command']}`",
        "",
        f"- {m['cpu_model']}, {m['usable_cores']} usable cores, torch {r['torch']} with "
        f"{r['threads']} threads; {m['date_utc']}; spatialsnn {m['git_commit']}"
        + (f"; environment {r['env']}" if r.get("env") else ""),
        f"- 1-minute load average {r['load_before']:.2f} before, {r['load_after']:.2f} after",
        f"- data: {r['samples_in_epoch']} samples, input density {100 * r['input_density']:.2f}% "
        f"of bins; file written in {r['data']['write_s']:.1f} s (0: cached), read and binned "
        f"in {r['data']['load_s']:.1f} s; delays: {r['delays']}; warm-up (kernel loading, "
        f"once per process, not in the epoch) {r['warm_up_s']:.1f} s",
    ]
    for k, e in enumerate(r["epochs"]):
        ph = e["phases_s"]
        split = ", ".join(f"{p} {ph.get(p, 0.0):.1f}" for p in
                          ("data", "forward", "backward", "optimizer", "bookkeeping"))  # fmt: skip
        lines.append(
            f"- epoch {k + 1}: **{e['seconds']:.1f} s** ({r['batches_timed']} of "
            f"{r['batches_per_epoch']} batches; {split} s); hidden spikes per neuron and "
            f"trial {e['hidden_spikes_per_neuron_per_trial']:.1f}"
        )
    if r.get("extrapolated_epoch_s") is not None:
        lines.append(
            f"- EXTRAPOLATED from {r['batches_timed']} batches: "
            f"{r['extrapolated_epoch_s']:.1f} s per epoch"
        )
    mem = r["memory"]
    lines.append(
        f"- memory: data set {mem['dataset_gib']:.2f} GiB; RSS after loading "
        f"{mem['rss_after_load_gib']:.2f} GiB; peak RSS during the epochs "
        f"{mem['peak_rss_gib']:.2f} GiB ({mem['peak_above_load_gib']:.2f} GiB above the "
        "loaded data)"
        + ("" if mem["peak_reset"] else " (peak could not be reset: includes loading)")
    )
    prof = r.get("profile")
    if prof:
        lines += ["", f"Profiled ({prof['batches']} extra batch(es), self CPU s per batch):", ""]
        for phase in ("forward", "backward", "optimizer"):
            ops = "; ".join(f"`{o['op']}` {o['self_s']:.3f}" for o in prof[phase][:6])
            lines.append(f"- {phase}: {ops}")
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", default="auto")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--epochs", type=int, default=1, help="epochs to time (default 1)")
    p.add_argument("--batches", type=int, help="time only the first K batches of an epoch")
    p.add_argument(
        "--extrapolate",
        action="store_true",
        help="with --batches: also report a (labelled) per-epoch extrapolation",
    )
    p.add_argument("--delays", choices=["paper", "long"], default="paper")
    p.add_argument("--samples", type=int, default=N_SAMPLES)
    p.add_argument("--rate", type=float, default=12.5, help="mean spike rate per channel, Hz")
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--seed", type=int, default=0, help="seed of the model and the epoch")
    p.add_argument("--cache-dir", help="folder of the synthetic data (default: data cache)")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--profile-batches", type=int, default=1)
    p.add_argument("--json", help="write the result here")
    p.add_argument("--markdown", help="write the Markdown summary here")
    args = p.parse_args(argv)
    if args.extrapolate and not args.batches:
        p.error("--extrapolate needs --batches")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse(argv)
    load_before = os.getloadavg()[0]
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from spatialsnn import ops

    data, data_times = prepare_data(args)
    density = input_density(data)
    trainer = make_trainer(args, data)
    warm_s = warm_up(trainer)
    rss_load = current_rss_kib()
    reset = reset_peak()
    epochs = timed_epochs(trainer, args.epochs)
    peak = vm_hwm_kib()
    prof = profile_batches(trainer, args.profile_batches) if args.profile_batches else None
    n_batches = math.ceil(len(trainer.train_data) / trainer.config.batch_size)
    full = math.ceil(args.samples / trainer.config.batch_size)
    result = {
        "command": "python benchmarks/shd_epoch.py "
        + " ".join(sys.argv[1:] if argv is None else argv),  # fmt: skip
        "machine": machine_info(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "env": {k: os.environ.get(k) for k in ENV_VARS if os.environ.get(k) is not None},
        "backend": ops.resolve_backend(args.backend, args.device),
        "device": args.device,
        "delays": args.delays,
        "samples_in_epoch": len(trainer.train_data),
        "batches_timed": n_batches,
        "batches_per_epoch": full,
        "input_density": density,
        "data": data_times,
        "warm_up_s": warm_s,
        "epochs": epochs,
        "extrapolated_epoch_s": epochs[0]["seconds"] * full / n_batches
        if args.extrapolate
        else None,
        "memory": {
            "dataset_gib": dataset_bytes(data) / GIB,
            "rss_after_load_gib": rss_load / 1024**2,
            "peak_rss_gib": peak / 1024**2,
            "peak_above_load_gib": (peak - rss_load) / 1024**2,
            "peak_reset": reset,
        },
        "profile": prof,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
    text = render(result)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
