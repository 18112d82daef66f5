"""Validation throughput: Brian2 runtime vs cpp_standalone on an SHD-sized network.

Network: 700 inputs -> 128 recurrent LIF (2-D positions, distance delays up to ~30 ms)
-> 20 outputs, dt = 1 ms, T = 1000 steps; random weights that give recurrent spiking;
Poisson input at SHD-like rates (several spikes per bin and channel occur). Every
configuration runs ``spatialsnn.validate.validate`` in float64 and reports the Brian2
build time (objects, code generation, compilation) separately from the run time, the
twin's time, and whether all samples were spike-for-spike identical.

Usage::

    python benchmarks/bench_validate.py                    # all configurations
    python benchmarks/bench_validate.py --samples 64 --configs standalone-b1-j2
    python benchmarks/bench_validate.py --json benchmarks/results/validate.json

Results are recorded in docs/benchmarks-validate.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

#: name -> (device, runtime target, network copies per run, samples per copy and run,
#: jobs, default number of samples)
CONFIGS = {
    "runtime-numpy-b16-j1": ("runtime", "numpy", 16, 1, 1, 32),
    "runtime-numpy-b16-j2": ("runtime", "numpy", 16, 1, 2, 64),
    "standalone-b1-s1-j2": ("cpp_standalone", "numpy", 1, 1, 2, 64),
    "standalone-b1-s32-j1": ("cpp_standalone", "numpy", 1, 32, 1, 128),
    "standalone-b1-s32-j2": ("cpp_standalone", "numpy", 1, 32, 2, 256),
    "standalone-b4-s8-j2": ("cpp_standalone", "numpy", 4, 8, 2, 256),
    # needs a GPU and brian2cuda (benchmarks/gpu_validate.sh); not in the default list
    "cuda-b16-s32-j1": ("cuda_standalone", "numpy", 16, 32, 1, 1024),
}


def shd_sized_model(seed: int = 0):
    """700 -> 128 -> 20, positions spread over 1 mm at 100 µm/ms (delays 0..~30 steps)."""
    from spatialsnn import SpatialSNN

    model = SpatialSNN(
        700,
        128,
        20,
        2,
        velocity=100.0,
        init_extent=1000.0,
        seed=seed,
        w_in_mean=0.02,
        w_in_std=0.04,
        w_rec_std=0.12,
        w_out_std=0.1,
    )
    return model.double().eval()


def machine() -> dict:
    """What the numbers were measured on."""
    import brian2

    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "brian2": brian2.__version__,
        "numpy": np.__version__,
    }
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        info["cpu"] = names[0] if names else info["cpu"]
    except OSError:
        pass
    if hasattr(os, "getloadavg"):
        info["loadavg_before"] = [round(v, 2) for v in os.getloadavg()]
    return info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs",
        nargs="+",
        choices=tuple(CONFIGS),
        default=[c for c in CONFIGS if not c.startswith("cuda")],
    )
    parser.add_argument(
        "--samples", type=int, help="samples per configuration (default: per config)"
    )
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=15.0, help="input rate per channel, Hz")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)

    from spatialsnn.validate import ValidationData, random_counts, validate

    torch.set_num_threads(max(1, (os.cpu_count() or 1)))
    model = shd_sized_model(args.seed)
    info = machine()
    rows = []
    print(f"# machine: {json.dumps(info)}", flush=True)
    for name in args.configs:
        device, target, batch, per_run, jobs, default_n = CONFIGS[name]
        n = args.samples or default_n
        x = random_counts(n, args.steps, 700, rate_hz=args.rate, dt=1.0, seed=args.seed + 1)
        data = ValidationData(x, None, 1.0, "poisson", {}, np.arange(n))
        with tempfile.TemporaryDirectory() as tmp:
            t0, c0 = time.perf_counter(), os.times()
            try:
                result = validate(
                    model,
                    data,
                    device=device,
                    target=target,
                    batch=batch,
                    samples_per_run=per_run,
                    jobs=jobs,
                    build_dir=Path(tmp) / "project",
                )
            except (ImportError, RuntimeError) as err:  # e.g. no brian2cuda, no GPU
                print(json.dumps({"config": name, "error": str(err)[-300:]}), flush=True)
                continue
            wall, c1 = time.perf_counter() - t0, os.times()
        # CPU seconds of this process and its finished children (workers, binaries,
        # compiler): with wall_s it shows how much of the machine the run actually got.
        cpu = sum(c1[k] - c0[k] for k in range(4))
        s = result.summary
        t, a = s["timing"], s["agreement"]
        row = {
            "config": name,
            "device": device,
            "batch": batch,
            "samples_per_run": per_run,
            "jobs": jobs,
            "samples": n,
            "steps": args.steps,
            "build_s": round(t["brian2_build_s"], 2),
            "run_s": round(t["brian2_run_s"], 2),
            "brian2_samples_per_s": round(n / t["brian2_run_s"], 2),
            "twin_s": round(t["twin_s"], 2),
            "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1),
            "identical": f"{a['identical_samples']}/{n}",
            "hidden_rate_hz": round(a["n_spikes_brian2"] / n / 128 / (args.steps / 1000), 1),
            "max_count": s["data"]["max_count"],
            "delay_steps_max": s["delays"]["hidden_hidden"]["steps_max"],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    if hasattr(os, "getloadavg"):
        info["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    header = [
        "config",
        "samples",
        "build_s",
        "run_s",
        "brian2_samples_per_s",
        "twin_s",
        "wall_s",
        "cpu_s",
        "identical",
        "hidden_rate_hz",
    ]
    print("\n| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row[h]) for h in header) + " |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps({"machine": info, "rows": rows, "argv": sys.argv[1:]}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
