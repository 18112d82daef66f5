"""Does the trained function survive a finer simulation step? Accuracy vs Brian2's dt.

For every model file given, simulates the full test split of its recorded data in
Brian2 (``cpp_standalone`` by default, float64; delays computed by Brian2 from the
positions) at each step of ``--dts`` through :func:`spatialsnn.validate.validate`, which
also runs the twin at that step (spike-for-spike check) and at the training step.
Prints, per model and per condition (mean ± sd over seeds), Brian2's test accuracy at
each step next to the twin's at the training step, the mean and busiest-neuron hidden
rate (spikes/s), and whether twin and Brian2 were identical spike for spike.

Run (the shipped models, about 25 min on 2 cores)::

    python benchmarks/transfer.py models/timing-spatial.nc models/conditions/*.nc \\
        --markdown benchmarks/results/transfer.md --json benchmarks/results/transfer.json

``--device runtime`` is slower per sample but needs no compiler; ``--samples N`` takes
the first N test samples (quick looks only: the recorded tables use the full split).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import run_header, write_results  # noqa: E402

DTS = (1.0, 0.5, 0.1, 0.025)


def measure(path: Path, dts, device: str, samples: int | None, jobs: int) -> dict:
    """Validate one model at every step; return its row."""
    import math

    from spatialsnn.io import load
    from spatialsnn.validate import validate_file

    model = load(path)
    row = {"model": str(path), "config": model.config(), "train_dt": model.dt, "steps": {}}
    for dt in dts:
        ratio = round(model.dt / dt)
        if ratio < 1 or not math.isclose(ratio * dt, model.dt, rel_tol=1e-9):
            continue  # not a divisor of the training step
        start = time.perf_counter()
        s = validate_file(path, samples=samples, device=device, dt=dt, jobs=jobs).summary
        row["n_samples"] = s["data"]["n_samples"]
        acc, agree = s["accuracy"], s["agreement"]
        row["steps"][f"{dt:g}"] = {
            "dt_ms": dt,
            "accuracy_brian2": acc["brian2"],
            "accuracy_twin": acc["twin"],
            "accuracy_twin_train_dt": acc.get("twin_train_dt", acc["twin"]),
            "identical_fraction": agree["identical_fraction"],
            "rate_mean_hz": s["rates"]["brian2"]["mean_hz"],
            "rate_max_hz": s["rates"]["brian2"]["max_hz"],
            "passed": s["passed"],
            "failures": s["failures"],
            "seconds": time.perf_counter() - start,
        }
        print(
            f"{path}  dt {dt:g} ms: brian2 {100 * acc['brian2']:.1f} %, identical "
            f"{100 * agree['identical_fraction']:.1f} %, rate "
            f"{s['rates']['brian2']['mean_hz']:.1f} Hz (max {s['rates']['brian2']['max_hz']:.0f})",
            file=sys.stderr,
            flush=True,
        )
    return row


def measure_twin(path: Path, dts, samples: int | None) -> dict:
    """The twin alone at every step (``forward(substeps=k)``, float64): a cheap look.

    At every step the twin is what Brian2 simulates, spike for spike (the Brian2 rows
    of this script check that for each model they run); without Brian2 this is much
    faster but is not itself the check.
    """
    import math

    import torch

    from spatialsnn.io import load, open_model_dataset
    from spatialsnn.validate import load_data

    model = load(path).double().eval()
    with open_model_dataset(path) as ds:
        tc = json.loads(ds.attrs.get("training_config", "{}"))
    data = load_data(None, training_config=tc, n_in=model.hparams["n_in"], dt=model.dt,
                     samples=samples)  # fmt: skip
    x, y = torch.from_numpy(data.x.astype("float64")), torch.from_numpy(data.y)
    row = {"model": str(path), "config": model.config(), "train_dt": model.dt,
           "n_samples": len(x), "steps": {}, "twin_only": True}  # fmt: skip
    for dt in dts:
        k = round(model.dt / dt)
        if k < 1 or not math.isclose(k * dt, model.dt, rel_tol=1e-9):
            continue
        correct, counts = 0, torch.zeros(model.hparams["n_hidden"], dtype=torch.float64)
        with torch.no_grad():
            for i in range(0, len(x), 64):
                out = model(x[i : i + 64], substeps=k)
                correct += int((out.logits.argmax(1) == y[i : i + 64]).sum())
                counts += out.hidden_spikes.sum((0, 1))
        rates = counts / len(x) / (x.shape[1] * model.dt * 1e-3)
        acc = correct / len(x)
        row["steps"][f"{dt:g}"] = {
            "dt_ms": dt, "accuracy_brian2": None, "accuracy_twin": acc,
            "accuracy_twin_train_dt": None, "identical_fraction": None,
            "rate_mean_hz": float(rates.mean()), "rate_max_hz": float(rates.max()),
        }  # fmt: skip
    ref = row["steps"][f"{model.dt:g}"]["accuracy_twin"]
    for step in row["steps"].values():
        step["accuracy_twin_train_dt"] = ref
        step["accuracy_brian2"] = step["accuracy_twin"]  # the table's column: see docstring
    return row


def _group(path: str) -> str:
    """``models/conditions/spatial_cost-seed1.nc`` -> ``spatial_cost``; others: the stem."""
    return re.sub(r"-seed\d+$", "", Path(path).stem)


def _mean_sd(values: list[float], scale: float = 100.0, fmt: str = ".1f") -> str:
    values = [scale * v for v in values]
    if len(values) == 1:
        return format(values[0], fmt)
    return f"{statistics.mean(values):{fmt}} ± {statistics.stdev(values):{fmt}}"


def markdown(rows: list[dict], dts, header: dict) -> str:
    """The per-group table (mean ± sd over seeds) and the per-model table."""
    cols = [f"{dt:g}" for dt in dts]
    twin_only = any(r.get("twin_only") for r in rows)
    lines = [
        f"Machine: {header['machine']['cpu_model']}, {header['machine']['usable_cores']} cores; "
        f"commit {header['commit']}; Brian2 device {header['device']}, float64; "
        f"{header['date']}.",
        "",
        f"Test accuracy (%) of {'the twin' if twin_only else 'Brian2'} at each simulation step; "
        "`twin@train` is the twin at the",
        "training step (the reference of `spatialsnn validate`'s transfer criterion); rates",
        "are the hidden firing rates at the finest step, spikes/s (mean over neurons;",
        "busiest neuron). `identical`: samples with twin and Brian2 spike for spike equal,",
        "over all steps.",
        "",
        "| models | n | twin@train | "
        + " | ".join(f"{c} ms" for c in cols)
        + " | drop at finest (pp) | rate (Hz) | busiest (Hz) | identical |",
        "|---|---|---|" + "---|" * len(cols) + "---|---|---|---|",
    ]
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(_group(r["model"]), []).append(r)
    for name, rs in groups.items():
        finest = [r["steps"][max(r["steps"], key=lambda k: -float(k))] for r in rs]
        ref = [r["steps"][f"{r['train_dt']:g}"]["accuracy_twin_train_dt"] for r in rs]
        accs = []
        for c in cols:
            got = [r["steps"][c]["accuracy_brian2"] for r in rs if c in r["steps"]]
            accs.append(_mean_sd(got) if got else "–")
        drop = [a - f["accuracy_brian2"] for a, f in zip(ref, finest, strict=True)]
        ident = [s["identical_fraction"] for r in rs for s in r["steps"].values()]
        ident_text = "twin only" if None in ident else f"{100 * min(ident):.1f} % min"
        lines.append(
            f"| {name} | {len(rs)} | {_mean_sd(ref)} | "
            + " | ".join(accs)
            + f" | {_mean_sd(drop)} | {_mean_sd([f['rate_mean_hz'] for f in finest], 1)} "
            f"| {max(f['rate_max_hz'] for f in finest):.0f} | {ident_text} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure the models given and print (and optionally record) the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help="model files (.nc)")
    parser.add_argument("--dts", type=float, nargs="+", default=list(DTS), metavar="MS")
    parser.add_argument("--device", default="cpp_standalone",
                        choices=("runtime", "cpp_standalone", "cuda_standalone"))  # fmt: skip
    parser.add_argument("--samples", type=int, help="first N test samples (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel Brian2 binaries")
    parser.add_argument("--twin-only", action="store_true",
                        help="the twin at each step, no Brian2 (a quick look)")  # fmt: skip
    parser.add_argument("--markdown", type=Path, help="write the table here too")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    args = parser.parse_args()
    header = {**run_header("transfer.py"), "device": args.device}
    if args.twin_only:
        header["device"] = "none (twin only)"
        rows = [measure_twin(p, args.dts, args.samples) for p in args.models]
    else:
        rows = [measure(p, args.dts, args.device, args.samples, args.jobs) for p in args.models]
    table = markdown(rows, args.dts, header)
    print(table)
    write_results(header, table, rows, args.markdown, args.json)


if __name__ == "__main__":
    main()
