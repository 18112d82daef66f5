"""delayed_linear: the compiled kernel against a dense dilated-convolution baseline.

The baseline is the approach of DCLS-Delays (Hammouamri, Khalfaoui-Hassani & Masquelier
2023): every synapse gets a kernel of length ``max_delay`` along time that is zero except
around its delay (here the two linear-interpolation taps, so it computes exactly
``delayed_linear``'s interpolate mode), and the projection is one ``conv1d`` over time.
Its time and memory grow linearly with the maximum delay; the kernel's do not, since it
propagates only the input spikes. The baseline runs in torch's default configuration
(oneDNN convolutions on CPU), which is what a DCLS user gets. Its backward is very slow for
kernels of ~1000 taps (198 s instead of 1.4 s at D = 250, for T = 200, batch 2), so the
driver stops it after ``--baseline-timeout`` seconds and reports a bound. ``--no-mkldnn``
switches oneDNN off: torch's native path is faster at D <= 250 but unfolds the input
(im2col), which took 5.8 GiB at D = 250 and was killed for lack of memory at D = 1000.

Input: SHD's shape (700 channels; 128 outputs), batch 8, T = 1000 steps, input spikes in
1.5% of channel-steps (SHD's density), delays uniform in [0, D]; forward + backward
with gradients w.r.t. weights and delays (the input is data). Each measurement runs in a
fresh process (see ``bench_kernels.py``, which runs this file's workers side by side with
the recurrent benchmark)::

    python benchmarks/bench_delayed_linear.py                 # D in {64, 250, 1000}
    python benchmarks/bench_delayed_linear.py --max-delays 250 --reference
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _worker import MemoryProbe, import_spatialsnn, sync, torch_facts  # noqa: E402

BATCH, STEPS, N_PRE, N_POST, RATE = 8, 1000, 700, 128, 0.015
#: Maximum delays (steps) of the default run.
LINEAR_DELAYS = (64, 250, 1000)


def config(quick: bool = False) -> dict[str, Any]:
    """Problem size (``quick``: a small one for smoke runs)."""
    if quick:
        return {"batch": 2, "steps": 200, "n_pre": 100, "n_post": 32, "rate": RATE}
    return {"batch": BATCH, "steps": STEPS, "n_pre": N_PRE, "n_post": N_POST, "rate": RATE}


def dense_conv_delayed_linear(x: Any, weight: Any, delay: Any, max_delay: int) -> Any:
    """DCLS-style baseline: ``y[b, t, i] = sum_j sum_k K[i, j, k] x[b, t - k, j]``.

    Parameters
    ----------
    x : Tensor of shape (batch, time, n_pre)
    weight, delay : Tensor of shape (n_post, n_pre)
        Delays in steps, in ``[0, max_delay]``.
    max_delay : int
        The kernel has ``max_delay + 2`` taps.

    Returns
    -------
    Tensor of shape (batch, time, n_post)
        Differentiable w.r.t. ``weight`` and ``delay`` through the dense kernel.
    """
    import torch
    import torch.nn.functional as F

    taps = max_delay + 2
    k = torch.arange(taps, dtype=x.dtype, device=x.device)
    kernel = weight[..., None] * torch.relu(1 - (k - delay[..., None]).abs())
    xt = F.pad(x.transpose(1, 2), (taps - 1, 0))
    return F.conv1d(xt, kernel.flip(-1)).transpose(1, 2)


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """Time one implementation at one maximum delay, in this process."""
    torch = import_spatialsnn()
    from spatialsnn import ops

    cfg = config(args.quick)
    d = args.max_delay
    device = args.device
    gen = torch.Generator().manual_seed(args.seed)
    shape = (cfg["batch"], cfg["steps"], cfg["n_pre"])
    x = (torch.rand(shape, generator=gen) < cfg["rate"]).float().to(device)
    w = torch.randn(cfg["n_post"], cfg["n_pre"], generator=gen) / math.sqrt(
        cfg["n_pre"] * cfg["rate"]
    )
    w = w.to(device).requires_grad_()
    delay = (torch.rand(cfg["n_post"], cfg["n_pre"], generator=gen) * d).to(device).requires_grad_()
    probe = torch.randn(cfg["batch"], cfg["steps"], cfg["n_post"], generator=gen).to(device)
    backend = {"kernel": device, "reference": "reference"}.get(args.impl)
    if args.impl == "dense-conv" and args.no_mkldnn:
        torch.backends.mkldnn.enabled = False

    def project(inp: Any) -> Any:
        if args.impl == "dense-conv":
            return dense_conv_delayed_linear(inp, w, delay, d)
        return ops.delayed_linear(inp, w, delay, "interpolate", max_delay=d, backend=backend)

    (project(x[:, :2]) * probe[:, :2]).sum().backward()  # warm-up: loads kernels
    mem = MemoryProbe(device)
    mem.start()
    times, fwd, cpu = [], [], []
    y = None
    for _ in range(args.repeats):
        w.grad = delay.grad = None
        y = None
        sync(device)
        c0 = time.process_time()
        t0 = time.perf_counter()
        y = project(x)
        sync(device)
        t1 = time.perf_counter()
        (y * probe).sum().backward()
        sync(device)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        fwd.append(t1 - t0)
    assert y is not None
    return {
        "time_s": statistics.median(times),
        "cpu_s": statistics.median(cpu),
        "forward_s": statistics.median(fwd),
        "times_s": times,
        "peak_mib": mem.peak_mib(),
        "output_norm": float(y.detach().double().norm()),
        "grad_w_norm": float(w.grad.double().norm()),
        "grad_d_norm": float(delay.grad.double().norm()),
        **torch_facts(device),
    }


def main(argv: list[str] | None = None) -> int:
    """Worker, or a stand-alone run of this benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", default="kernel", choices=["kernel", "dense-conv", "reference"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--max-delay", type=int, default=250)
    parser.add_argument("--max-delays", type=int, nargs="+", default=list(LINEAR_DELAYS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-mkldnn", action="store_true", help="dense conv: oneDNN off")
    parser.add_argument("--reference", action="store_true", help="also time 'reference'")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    # the driver (and its report) is bench_kernels.py's; run it as a program, not a module
    driver = Path(__file__).resolve().parent / "bench_kernels.py"
    return subprocess.call(
        [
            sys.executable,
            str(driver),
            "--no-recurrent",
            "--device",
            args.device,
            "--repeats",
            str(args.repeats),
            "--seed",
            str(args.seed),
            *(["--quick"] if args.quick else []),
            *(["--linear-reference"] if args.reference else []),
            "--linear-delays",
            *map(str, args.max_delays),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
