"""Measure this machine's floors for the SHD training step: memory bandwidth, FMA rate, and
the cost of touching freshly allocated memory; then the floor of each kernel of one batch.

Measured (torch, float32, all of torch's threads unless ``--threads``):

- memory bandwidth: ``dst.copy_(src)`` of 1 GiB between two tensors allocated and touched
  before timing (bytes read + bytes written per second), median of ``--repeats``;
- FMA rate: ``torch.mm`` of 2048 x 2048 matrices (MKL), multiply-adds per second, median
  (smaller products do not reach the rate: 9 G/s at 512, 39 G/s at 2048 on two cores);
- first touch: ``torch.zeros`` of 256 MiB (a fresh allocation: the kernel maps and zeroes
  every page on first touch) against ``fill_`` of an already touched tensor, per GiB.

Then, for one batch of the paper's SHD configuration (``--batch`` 256, T = 1000, 700 inputs,
128 hidden, input density ``--density``, hidden spike rate ``--rate`` per neuron and step,
interpolated delays), the work of each kernel in multiply-adds and in bytes that must cross
memory at least once, and the floor ``max(FMAs / rate, bytes / bandwidth)``::

    python benchmarks/machine_floor.py
    python benchmarks/machine_floor.py --threads 1 --json out.json
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

GIB = 1024**3


def _median_time(fn: Any, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bandwidth(repeats: int) -> float:
    """Bytes per second of a 1 GiB copy between touched tensors (read + write)."""
    import torch

    src = torch.ones(GIB // 4)
    dst = torch.zeros(GIB // 4)
    return 2 * GIB / _median_time(lambda: dst.copy_(src), repeats)


def fma_rate(repeats: int, size: int = 2048) -> float:
    """Multiply-adds per second of a large float32 matrix product."""
    import torch

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(size, size, generator=g), torch.randn(size, size, generator=g)
    out = torch.empty(size, size)
    return size**3 / _median_time(lambda: torch.mm(a, b, out=out), repeats)


def first_touch(repeats: int) -> dict[str, float]:
    """Seconds per GiB: a fresh ``torch.zeros`` against refilling a touched tensor."""
    import torch

    n = 256 * 1024**2 // 4
    fresh = _median_time(lambda: torch.zeros(n), repeats) * 4
    kept = torch.zeros(n)
    refill = _median_time(lambda: kept.fill_(0), repeats) * 4
    return {"fresh_s_per_gib": fresh, "refill_s_per_gib": refill}


def batch_work(batch: int, density: float, rate: float) -> dict[str, dict[str, float]]:
    """Multiply-adds and bytes of the kernels of one SHD batch (float32, interpolation)."""
    t, n_in, n, f = 1000, 700, 128, 4
    rows = batch * t
    nnz, spikes = rows * n_in * density, rows * n * rate
    tensor = rows * n * f  # one [B, T, N] float32 tensor
    return {
        # event-driven input projection: forward and weight gradient
        "input projection (fwd + w grad)": {
            "fma": 2 * nnz * n,
            "bytes": 2 * rows * n_in + 2 * tensor,  # x (uint8) twice, drive out, its grad in
        },
        # recurrent forward: two arrivals per spike and synapse; drive in, z and u out
        "recurrent forward": {"fma": 2 * spikes * n, "bytes": 3 * tensor},
        # recurrent backward: two taps per synapse, step and batch element (the dense
        # adjoint), plus two reads per spike and synapse; dL/dz, z, u in, dL/d drive out
        "recurrent backward": {"fma": 2 * t * batch * n * n + 2 * spikes * n, "bytes": 4 * tensor},
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--density", type=float, default=0.0097, help="input entries non-zero")
    p.add_argument("--rate", type=float, default=0.045, help="hidden spikes per neuron-step")
    p.add_argument("--json", help="write the result here")
    args = p.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    bw, fma = bandwidth(args.repeats), fma_rate(args.repeats)
    touch = first_touch(args.repeats)
    work = batch_work(args.batch, args.density, args.rate)
    floors = {
        name: {**w, "floor_s": max(w["fma"] / fma, w["bytes"] / bw)} for name, w in work.items()
    }
    result = {
        "command": "python benchmarks/machine_floor.py " + " ".join(sys.argv[1:]),
        "machine": machine_info(),
        "threads": torch.get_num_threads(),
        "bandwidth_gb_s": bw / 1e9,
        "fma_per_s": fma,
        "first_touch": touch,
        "batch": floors,
    }
    print(f"threads {result['threads']}: memory bandwidth {bw / 1e9:.1f} GB/s (copy, read + "
          f"write); FMA rate {fma / 1e9:.1f} G/s (torch.mm 2048^3, float32)")  # fmt: skip
    print(f"first touch of fresh memory {touch['fresh_s_per_gib']:.3f} s/GiB, refill of "
          f"touched memory {touch['refill_s_per_gib']:.3f} s/GiB")  # fmt: skip
    for name, f in floors.items():
        print(f"{name}: {f['fma'] / 1e9:.2f} G FMA, {f['bytes'] / 1e6:.0f} MB -> floor "
              f"{f['floor_s']:.3f} s")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
