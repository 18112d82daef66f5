"""Which training recipe makes the learned function survive finer simulation steps?

Trains the shipped model's configuration (timing task, spatial condition, 48 neurons,
seed 0) under several recipes (refractory period, rate regulariser, more epochs,
training across sub-steps) and evaluates each trained twin on the full test split at
1, 0.5, 0.1 and 0.025 ms (``SpatialSNN.forward(substeps=k)``, float64, delays rounded
to each grid). The twin at a fine step is what Brian2 simulates there, spike for spike
(``spatialsnn validate --dt``, tests/test_brian2.py); benchmarks/transfer.py measures
the chosen recipe in Brian2 itself. Prints a Markdown table: test accuracy (%) and mean
/ busiest-neuron hidden rate (spikes/s) per step.

Run (about 12 min on 2 cores, all recipes)::

    python benchmarks/transfer_recipes.py --markdown benchmarks/results/transfer_recipes.md

``--recipes NAME ...`` runs a subset; ``--seed`` another initialisation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import run_header, write_results  # noqa: E402

#: The shipped model's configuration (models/timing-spatial.toml) before this study.
BASE = dict(
    task="timing", data_seed=0, condition="spatial", n_hidden=48, dims=2, velocity=100.0,
    max_delay=100.0, epochs=20, batch_size=32, lr=3e-3, position_lr=100.0, patience=6,
    task_params={"n_train": 1024, "n_test": 512}, model_kwargs={"init_extent": 2000.0},
)  # fmt: skip
PAPER = dict(refractory=0.0, rate_reg=0.0)
RATE = dict(refractory=2.0, rate_reg=1e-5, rate_range=[0.0, 50.0])
LONG = dict(epochs=40, patience=8)
#: name -> (description, overrides of BASE); each states its refractory period and rate term.
RECIPES = {
    "paper": ("no refractory period, no rate term (the paper's neurons)", PAPER),
    "ref2": ("refractory 2 ms", {**PAPER, "refractory": 2.0}),
    "ref2-rate": ("refractory 2 ms + rate 0-50 spikes/s", RATE),
    "ref2-rate-sub": ("refractory 2 ms + rate + substeps 1,2,4",
                      {**RATE, "train_substeps": [1, 2, 4]}),
    "ref1-sub": ("refractory 1 ms + substeps 1,2,4,10",
                 {**PAPER, "refractory": 1.0, "train_substeps": [1, 2, 4, 10]}),
    "ref2-rate-long": ("refractory 2 ms + rate, 40 epochs", {**RATE, **LONG}),
    "ref2-rate-sub-long": ("refractory 2 ms + rate + substeps 1,2,4, 40 epochs",
                           {**RATE, **LONG, "train_substeps": [1, 2, 4]}),
    "ref2-rate-sub10-long": ("refractory 2 ms + rate + substeps 1,4,10, 40 epochs",
                             {**RATE, **LONG, "train_substeps": [1, 4, 10]}),
}  # fmt: skip
SUBSTEPS = (1, 2, 10, 40)  # 1, 0.5, 0.1, 0.025 ms


def run(name: str, seed: int) -> dict:
    """Train one recipe and evaluate it at every step."""
    import torch

    from spatialsnn.train import TrainConfig, load_datasets, train

    cfg = TrainConfig.from_dict({**BASE, **RECIPES[name][1], "seed": seed})
    start = time.perf_counter()
    result = train(cfg, progress=False)
    row = {"recipe": name, "seed": seed, "config": cfg.to_dict(),
           "train_s": time.perf_counter() - start, "best_epoch": result.best_epoch}  # fmt: skip
    _, test = load_datasets(cfg)
    model = result.model.double().eval()
    for k in SUBSTEPS:
        correct, counts = 0, torch.zeros(model.hparams["n_hidden"], dtype=torch.float64)
        with torch.no_grad():
            for x, y in test.batches(128):
                out = model(x.double(), substeps=k)
                correct += int((out.logits.argmax(1) == y).sum())
                counts += out.hidden_spikes.sum((0, 1))
        rates = counts / len(test) / (test.x.shape[1] * model.dt * 1e-3)
        row[f"{model.dt / k:g}"] = {"accuracy": correct / len(test),
                                   "rate_mean_hz": float(rates.mean()),
                                   "rate_max_hz": float(rates.max())}  # fmt: skip
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def markdown(rows: list[dict], header: dict) -> str:
    """The table of accuracies and rates per recipe and step."""
    steps = [f"{1 / k:g}" for k in SUBSTEPS]
    lines = [
        f"Machine: {header['machine']['cpu_model']}, {header['machine']['usable_cores']} cores; "
        f"commit {header['commit']}; {header['date']}. Twin in float64 on the full test "
        "split (512 samples); accuracy in %, rates in spikes/s (mean; busiest neuron) at "
        "the finest step. `drop`: accuracy at 1 ms minus the worst finer step, pp.",
        "",
        "| recipe | seed | best epoch | " + " | ".join(f"{s} ms" for s in steps)
        + " | drop (pp) | rate @1 ms | rate @0.025 ms | train (s) |",
        "|---|---|---|" + "---|" * len(steps) + "---|---|---|---|",
    ]  # fmt: skip
    for r in rows:
        acc = [100 * r[s]["accuracy"] for s in steps]
        fine = r[steps[-1]]
        lines.append(
            f"| `{r['recipe']}`: {RECIPES[r['recipe']][0]} | {r['seed']} | {r['best_epoch']} | "
            + " | ".join(f"{a:.1f}" for a in acc)
            + f" | {acc[0] - min(acc[1:]):.1f} | {r['1']['rate_mean_hz']:.0f}; "
            f"{r['1']['rate_max_hz']:.0f} | {fine['rate_mean_hz']:.0f}; {fine['rate_max_hz']:.0f}"
            f" | {r['train_s']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the recipes and print (and optionally record) the table."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    header = run_header("transfer_recipes.py")
    rows = [run(name, args.seed) for name in args.recipes]
    table = markdown(rows, header)
    print(table)
    write_results(header, table, rows, args.markdown, args.json)


if __name__ == "__main__":
    main()
