"""Compare the four conditions of the paper on the delay-requiring synthetic task.

Trains ``none``, ``free``, ``spatial`` and ``spatial+cost`` networks on the
``timing`` task (classes differ only in the interval between two spike volleys)
for several seeds, writes every model file to ``--out-dir`` (the input of
``analysis/``), and prints a Markdown table of test accuracy at the epoch of best
validation accuracy (mean ± sd over seeds) with machine information.

Run (about 15 min on 2 cores)::

    python benchmarks/conditions.py --seeds 0 1 2 --jobs 2 --out-dir models/conditions

``--paper`` trains the paper's neuron model (no refractory period, no rate
regulariser), which loses the task at finer simulation steps (benchmarks/transfer.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

#: Shared training configuration of the comparison (see spatialsnn.train.TrainConfig).
BASE = dict(
    task="timing",
    task_params=dict(n_train=1024, n_test=512),
    n_hidden=48,
    epochs=40,
    batch_size=32,
    lr=3e-3,
    position_lr=100.0,
    delay_lr=1.0,
    max_delay=100.0,
    patience=8,
    model_kwargs=dict(init_extent=2000.0),
)
# Everything else (refractory period 2 ms, rate range 0-50 spikes/s) is TrainConfig's
# default. ``--paper`` trains the paper's neuron model instead (no refractory period, no
# rate regulariser): the models of spatialsnn 0.1 (20 epochs, patience 6).
PAPER = dict(refractory=0.0, rate_reg=0.0, epochs=20, patience=6)
CONDITIONS = ("none", "free", "spatial", "spatial+cost")


def _run(args: tuple[str, int, str, dict]) -> dict:
    condition, seed, out_dir, extra = args
    import torch

    from spatialsnn.train import train

    torch.set_num_threads(1)
    start = time.perf_counter()
    out = Path(out_dir) / f"{condition.replace('+', '_')}-seed{seed}.nc"
    result = train({**BASE, **extra, "condition": condition, "seed": seed}, out, progress=False)
    best = result.best_epoch - 1
    h = result.history
    return {
        "condition": condition,
        "seed": seed,
        "test_accuracy": h["test_accuracy"][best],
        "val_accuracy": h["val_accuracy"][best],
        "best_epoch": result.best_epoch,
        "epochs": len(h["test_accuracy"]),
        "hidden_rate_hz": h["hidden_rate_hz"][best],
        "hidden_rate_max_hz": h["hidden_rate_max_hz"][best],
        "seconds": time.perf_counter() - start,
        "path": str(out),
    }


def _machine() -> str:
    import torch

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}, "
        f"torch {torch.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out-dir", default="models/conditions")
    parser.add_argument("--json", help="write the per-run results here")
    parser.add_argument("--paper", action="store_true", help="the paper's neuron model")
    args = parser.parse_args()
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    extra = PAPER if args.paper else {}
    tasks = [(c, s, args.out_dir, extra) for c in args.conditions for s in args.seeds]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(_run, tasks))
    if args.json:
        config = {**BASE, **extra}
        Path(args.json).write_text(json.dumps({"config": config, "runs": rows}, indent=2))
    print(f"Machine: {_machine()}\n")
    print("| condition | test accuracy (mean ± sd) | per seed | best epoch | rate (spikes/s) "
          "| busiest neuron (spikes/s) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for c in args.conditions:
        r = [row for row in rows if row["condition"] == c]
        acc = [row["test_accuracy"] for row in r]
        sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
        print(
            f"| {c} | {statistics.mean(acc):.3f} ± {sd:.3f} | "
            + ", ".join(f"{a:.3f}" for a in acc)
            + f" | {', '.join(str(row['best_epoch']) for row in r)} | "
            + f"{statistics.mean(row['hidden_rate_hz'] for row in r):.1f} | "
            + f"{max(row['hidden_rate_max_hz'] for row in r):.0f} |"
        )
    total = sum(row["seconds"] for row in rows)
    print(f"\n{len(rows)} runs, {total / 60:.1f} min of training in total.")


if __name__ == "__main__":
    main()
