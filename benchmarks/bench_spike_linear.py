"""Event-driven vs dense input projection (``spatialsnn.ops.spike_linear``) by input density.

For SHD's shape (batch ``--batch``, T = 1000, 700 inputs, 128 outputs), random spike counts
at each density: forward plus weight gradient, dense (``x @ w.T``, MKL) against the
event-driven kernel reading uint8 counts and float32 inputs; median of ``--repeats``. The
density where the two meet is what ``spatialsnn.ops.EVENT_DRIVEN_MAX_DENSITY`` should stay
below::

    python benchmarks/bench_spike_linear.py
    python benchmarks/bench_spike_linear.py --densities 0.01 0.05 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_info  # noqa: E402


def time_projection(x: Any, w: Any, event_driven: bool, repeats: int) -> float:
    """Median seconds of forward + weight gradient."""
    import torch

    from spatialsnn import ops

    grad = torch.ones(x.shape[0], x.shape[1], w.shape[0])
    times = []
    for _ in range(repeats + 1):  # the first is a warm-up
        w.grad = None
        t0 = time.perf_counter()
        ops.spike_linear(x, w, event_driven=event_driven).backward(grad)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--densities", type=float, nargs="+",
                   default=[0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3])  # fmt: skip
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="write the result here")
    args = p.parse_args(argv)
    import torch

    g = torch.Generator().manual_seed(0)
    w = (torch.randn(128, 700, generator=g) * 0.05).requires_grad_()
    rows = []
    print("| density | dense s | event-driven (uint8) s | event-driven (float32) s |")
    print("|---:|---:|---:|---:|")
    for density in args.densities:
        x8 = (torch.rand(args.batch, 1000, 700, generator=g) < density).to(torch.uint8)
        xf = x8.float()
        row = {
            "density": density,
            "dense_s": time_projection(xf, w, False, args.repeats),
            "event_uint8_s": time_projection(x8, w, True, args.repeats),
            "event_float_s": time_projection(xf, w, True, args.repeats),
        }
        rows.append(row)
        print(f"| {density:g} | {row['dense_s']:.3f} | {row['event_uint8_s']:.3f} "
              f"| {row['event_float_s']:.3f} |")  # fmt: skip
    result = {
        "command": "python benchmarks/bench_spike_linear.py " + " ".join(sys.argv[1:]),
        "machine": machine_info(),
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "rows": rows,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
