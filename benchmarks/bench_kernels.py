"""Benchmark the compiled delay kernels against the PyTorch backends, side by side.

What it measures
----------------
1. The recurrent LIF layer (:func:`spatialsnn.ops.lif_recurrent`, interpolate mode):
   wall time of one forward + backward pass and its peak memory, for the compiled kernel
   (``cpu``, or ``cuda`` with ``--device cuda``), ``reference`` and ``autograd``, over
   T in {250, 1000}, hidden N in {128, 512}, max delay D in {64, 1000}, plus the
   acceptance point T=500, N=256, batch 16, D=250. Batch 16 for N <= 256 and batch 4
   for N = 512 (the reference backend needs ~4 minutes per pass at T=1000, N=512, batch 4
   on two cores; batch 16 would not fit the run into ~20 minutes). ``autograd`` is only
   run where its estimated memory fits into 70% of the available memory; elsewhere the
   estimate is reported.
2. :func:`spatialsnn.ops.delayed_linear` (SHD's input shape: 700 channels, spikes at
   1.5% of channel-steps) against a dense dilated-convolution baseline written in
   ``bench_delayed_linear.py`` (DCLS-Delays' approach: a kernel of length max_delay per
   synapse and ``conv1d``), for D in {64, 250, 1000}.
3. With ``--shd-epoch`` (used by ``gpu_check.sh``): one training epoch of the paper's SHD
   configuration on random data of SHD's shape (8156 samples, 700 inputs, 128 hidden,
   20 outputs, T = 1000, batch 256, delays up to 1000 steps) with the kernel backend.

How it measures
---------------
Every measurement runs in a fresh subprocess (this file with ``--worker``, one JSON line
on stdout): it builds seeded inputs, runs one untimed warm-up pass on a 2-step input
(which loads the extension and torch's operator machinery), reads its RSS, then times
``--repeats`` passes (median reported; the slow PyTorch backends run once). Peak memory is
``ru_maxrss`` minus the RSS before the first timed pass (CPU), or
``torch.cuda.max_memory_allocated`` (CUDA). Where several backends ran, the spike
rasters are compared (number of differing spikes, first step where they differ) and the
gradients' relative L2 differences are reported. In float32, a membrane potential within
rounding error of the threshold can flip a spike in one backend and not another, after
which the runs diverge; that is reported, not treated as a failure (the tests, in float64,
are the correctness check). The script exits with status 1 if a worker fails.

How to run
----------
From the repository root (the first use compiles the CPU kernel, about a minute)::

    python benchmarks/bench_kernels.py --markdown out.md --json out.json
    python benchmarks/bench_kernels.py --quick                    # a 1-minute smoke run
    python benchmarks/bench_kernels.py --device cuda --shd-epoch  # on a GPU machine
    git worktree add --detach /tmp/before <commit>                # before / after, one run
    python benchmarks/bench_kernels.py --baseline-tree /tmp/before --markdown ab.md

Results of the default run are recorded in ``docs/benchmarks-kernels.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kernels_report import render  # noqa: E402  (benchmarks/ is not a package)
from _machine import machine_info, meminfo_kib  # noqa: E402
from _worker import MemoryProbe, import_spatialsnn, sync, torch_facts  # noqa: E402
from bench_delayed_linear import LINEAR_DELAYS  # noqa: E402
from bench_delayed_linear import config as linear_config  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
MIB = 1024**2
GIB = 1024**3

#: (T, batch, N, D) of the recurrent grid; the acceptance point is listed first.
ACCEPTANCE = (500, 16, 256, 250)
RECURRENT_SIZES = (
    ACCEPTANCE,
    (250, 16, 128, 64),
    (250, 16, 128, 1000),
    (1000, 16, 128, 64),
    (1000, 16, 128, 1000),
    (250, 4, 512, 64),
    (250, 4, 512, 1000),
    (1000, 4, 512, 64),
    (1000, 4, 512, 1000),
)
QUICK_SIZES = ((200, 8, 64, 50), (200, 4, 128, 300))
#: The memory budget of ``autograd``: this fraction of MemAvailable (or of free GPU memory).
MEM_FRACTION = 0.7


def sha(t: Any) -> str:
    """SHA-256 of a tensor's bytes."""
    return hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


# ----------------------------------------------------------------------------- recurrent worker


def autograd_bytes(t: int, b: int, n: int, d: int) -> int:
    """Estimated memory the autograd backend keeps: ~4 float32 [B, N, N] tensors per step
    plus the delay history [B, D + 2, N] (measured 9.1 GiB at 500:16:256:250, estimate 9.7).
    """
    return t * b * (4 * n * n + (d + 2) * n) * 4


def recurrent_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Time forward+backward of one backend at one size, in this process."""
    torch = import_spatialsnn()
    from spatialsnn import ops
    from spatialsnn.dynamics import lif_coefficients

    t_steps, batch, n, d = args.size
    device = args.device
    coef = lif_coefficients(1.0, 20.0, 5.0)
    gen = torch.Generator().manual_seed(args.seed)
    drive = (torch.rand(batch, t_steps, n, generator=gen) * 0.6).to(device).requires_grad_()
    w = (torch.randn(n, n, generator=gen) * (0.5 / math.sqrt(n))).to(device).requires_grad_()
    delay = (torch.rand(n, n, generator=gen) * d).to(device).requires_grad_()
    probe = torch.randn(batch, t_steps, n, generator=gen).to(device)

    def layer(x: Any) -> Any:
        return ops.lif_recurrent(
            x,
            w,
            delay,
            alpha=coef.alpha,
            beta=coef.beta,
            gamma=coef.gamma,
            mode="interpolate",
            max_delay=d,
            backend=args.backend,
        )

    tiny = drive.detach()[:, :2].clone().requires_grad_()
    (layer(tiny) * probe[:, :2]).sum().backward()
    for leaf in (drive, w, delay):
        leaf.grad = None
    del tiny
    mem = MemoryProbe(device)
    mem.start()
    fwd, total, cpu = [], [], []
    z = None
    for _ in range(args.repeats):
        for leaf in (drive, w, delay):
            leaf.grad = None
        z = None
        sync(device)
        c0 = time.process_time()
        t0 = time.perf_counter()
        z = layer(drive)
        sync(device)
        t1 = time.perf_counter()
        (z * probe).sum().backward()
        sync(device)
        t2 = time.perf_counter()
        cpu.append(time.process_time() - c0)
        fwd.append(t1 - t0)
        total.append(t2 - t0)
    assert z is not None
    result = {
        "time_s": statistics.median(total),
        "cpu_s": statistics.median(cpu),
        "forward_s": statistics.median(fwd),
        "times_s": total,
        "peak_mib": mem.peak_mib(),
        "spike_rate": float(z.detach().float().mean()),
        "spike_count": int(z.detach().sum()),
        "spike_sha256": sha(z.to(torch.uint8)),
        **torch_facts(device),
    }
    if args.dump:
        grads = {k: v.grad.cpu() for k, v in (("drive", drive), ("w", w), ("d", delay))}
        torch.save({"grads": grads, "z": z.detach().to(torch.uint8).cpu()}, args.dump)
    return result


# ----------------------------------------------------------------------------- SHD epoch


def li_exp_mean_weights(steps: int, alpha: float, beta: float, gamma: float) -> Any:
    """Weights ``g[s]`` with ``exp_mean(V_LI) = sum_s g[s] * c[s]`` for input currents ``c``.

    The LI output neuron (``v = alpha*v + gamma*i; i = beta*i + c[t]``) is linear, so its
    voltage is ``v[t] = sum_{s<t} h[t-s] c[s]`` with ``h[m] = gamma * sum_q alpha^(m-1-q)
    beta^q``, and the readout ``(1/T) sum_t exp(-t/T) v[t]`` is one weighted sum over time.
    """
    import torch

    t = torch.arange(steps, dtype=torch.float64)
    h = torch.zeros(steps, dtype=torch.float64)
    for m in range(1, steps):
        q = torch.arange(m, dtype=torch.float64)
        h[m] = gamma * (alpha ** (m - 1 - q) * beta**q).sum()
    decay = torch.exp(-t / steps) / steps
    lag = t[None, :] - t[:, None]  # [s, t] -> t - s
    kernel = torch.where(lag > 0, h[lag.clamp(min=0).long()], torch.zeros(()))
    return (kernel * decay[None, :]).sum(1).float()


def shd_epoch_worker(args: argparse.Namespace) -> dict[str, Any]:
    """One epoch of the paper's SHD configuration on random data of SHD's shape."""
    torch = import_spatialsnn()
    from spatialsnn import ops
    from spatialsnn.dynamics import lif_coefficients

    n_samples, n_in, n_hid, n_out, t_steps, batch, d = 8156, 700, 128, 20, 1000, 256, 1000
    device = torch.device(args.device)
    coef = lif_coefficients(1.0, 20.0, 5.0)
    gen = torch.Generator().manual_seed(args.seed)
    # input weights that make the hidden layer fire in ~2.6% of neuron-steps
    w_in = (torch.randn(n_hid, n_in, generator=gen) * 2.0 / math.sqrt(n_in * 0.01)).to(device)
    w_rec = (torch.randn(n_hid, n_hid, generator=gen) * 0.3 / math.sqrt(n_hid)).to(device)
    delay = (torch.rand(n_hid, n_hid, generator=gen) * d).to(device)
    w_out = (torch.randn(n_out, n_hid, generator=gen) / math.sqrt(n_hid)).to(device)
    params = [p.requires_grad_() for p in (w_in, w_rec, delay, w_out)]
    opt = torch.optim.Adam(params, lr=1e-3)
    readout = li_exp_mean_weights(t_steps, coef.alpha, coef.beta, coef.gamma).to(device)

    def step(x: Any, y: Any) -> tuple[float, float]:
        drive = x @ w_in.T
        z = ops.lif_recurrent(
            drive,
            w_rec,
            delay,
            alpha=coef.alpha,
            beta=coef.beta,
            gamma=coef.gamma,
            mode="interpolate",
            max_delay=d,
            backend=args.backend,
        )
        out = torch.einsum("bsk,s->bk", z @ w_out.T, readout)  # LI output, exp_mean readout
        loss = torch.nn.functional.cross_entropy(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            delay.clamp_(0, d)
        return float(loss), float(z.detach().mean())

    xg = torch.Generator(device=device).manual_seed(args.seed)
    n_batches = math.ceil(n_samples / batch)
    todo = min(n_batches, args.batches or n_batches)
    rates = []
    sync(args.device)
    start = time.perf_counter()
    for b in range(todo):
        size = min(batch, n_samples - b * batch)
        x = (torch.rand(size, t_steps, n_in, device=device, generator=xg) < 0.01).float()
        y = torch.randint(0, n_out, (size,), device=device, generator=xg)
        rates.append(step(x, y)[1])
    sync(args.device)
    elapsed = time.perf_counter() - start
    return {
        "batches_timed": todo,
        "batches_per_epoch": n_batches,
        "time_s": elapsed,
        "epoch_s": elapsed * n_batches / todo,
        "hidden_spike_rate": statistics.mean(rates),
        **torch_facts(args.device),
    }


# ----------------------------------------------------------------------------- driver


def spawn(argv: list[str], timeout: float, script: Path | None = None) -> dict[str, Any]:
    """Run a worker in a fresh interpreter; return its JSON (or an error record)."""
    cmd = [sys.executable, str(script or Path(__file__).resolve()), *argv]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        return {"error": f"exit status {proc.returncode}", "stderr_tail": tail}
    try:
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return {"error": "worker printed no JSON", "stdout_tail": proc.stdout[-2000:]}
    out["worker_wall_s"] = time.perf_counter() - t0
    return out


def log(msg: str) -> None:
    """Progress on stderr."""
    print(msg, file=sys.stderr, flush=True)


def memory_budget_bytes(device: str) -> float:
    """What ``autograd`` may use: a fraction of MemAvailable (or of free GPU memory)."""
    if device == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info()
        return MEM_FRACTION * free
    return MEM_FRACTION * (meminfo_kib("MemAvailable") or 0) * 1024


def rel_l2(a: Any, b: Any) -> float:
    """``|a - b| / |b|`` (L2)."""
    denom = float(b.double().norm()) or 1.0
    return float((a.double() - b.double()).norm()) / denom


def baseline_commit(tree: Path) -> str | None:
    """The commit checked out in ``tree`` (None where it is not a git checkout)."""
    proc = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short=12", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    commit = proc.stdout.strip() if proc.returncode == 0 else ""
    return commit or None


def merge_rounds(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from several workers' rounds: medians over all their timed passes."""
    ok = [r for r in results if "error" not in r]
    if len(ok) < len(results):
        return next(r for r in results if "error" in r)
    merged = dict(ok[0])
    merged["times_s"] = [t for r in ok for t in r["times_s"]]
    merged["time_s"] = statistics.median(merged["times_s"])
    merged["cpu_s"] = statistics.median(r["cpu_s"] for r in ok)
    merged["forward_s"] = statistics.median(r["forward_s"] for r in ok)
    merged["peak_mib"] = max(r["peak_mib"] for r in ok)
    merged["rounds"] = len(ok)
    return merged


def kernel_before_and_after(
    args: argparse.Namespace, argv: list[str], dumps: dict[str, str], tmp: Path, label: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The kernel of this checkout and of ``--baseline-tree``, in alternating workers.

    ``--ab-rounds`` rounds, the order swapped every round (after, before; before, after; ...),
    so that a drift of the machine's speed falls on both alike.
    """
    script = Path(args.baseline_tree).resolve() / "benchmarks" / "bench_kernels.py"
    dumps["before"] = str(tmp / f"{label.replace(':', '_')}_before.pt")
    before_argv = argv[: argv.index("--dump")] + ["--dump", dumps["before"]]
    after, before = [], []
    for rnd in range(args.ab_rounds):
        order = [("after", None), ("before", script)]
        for name, path in order if rnd % 2 == 0 else order[::-1]:
            res = spawn(before_argv if name == "before" else argv, args.worker_timeout, path)
            (before if name == "before" else after).append(res)
    res_after, res_before = merge_rounds(after), merge_rounds(before)
    if "error" in res_before:
        log(f"[{label}] before: FAILED {res_before}")
        dumps.pop("before")
    else:
        log(f"[{label}] before ({args.baseline_tree}): {res_before['time_s']:.3f} s")
    return res_after, res_before


def run_recurrent(args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    """The recurrent grid: every backend at every size, in subprocesses."""
    import torch

    kernel = args.device
    rows = []
    for size in args.sizes:
        label = ":".join(map(str, size))
        row: dict[str, Any] = {"size": size, "label": label, "acceptance": size == ACCEPTANCE}
        estimate = autograd_bytes(*size)
        budget = memory_budget_bytes(args.device)
        row["autograd_estimate_gib"] = estimate / GIB
        row["autograd_budget_gib"] = budget / GIB
        dumps = {}
        for backend in (kernel, "reference", "autograd"):
            if backend not in args.backends and backend != kernel:
                row[backend] = {"not_run": True, "skipped": True}
                continue
            if backend == "autograd" and estimate > budget:
                row[backend] = {"not_run": True}
                log(f"[{label}] autograd: not run (estimated {estimate / GIB:.1f} GiB)")
                continue
            repeats = args.repeats if backend == kernel else 1
            dumps[backend] = str(tmp / f"{label.replace(':', '_')}_{backend}.pt")
            argv = [
                "--worker",
                "recurrent",
                "--backend",
                backend,
                "--device",
                args.device,
                "--size",
                label,
                "--repeats",
                str(repeats),
                "--seed",
                str(args.seed),
                "--dump",
                dumps[backend],
            ]
            log(f"[{label}] {backend}: running ...")
            if backend == kernel and args.baseline_tree:
                res, row["before"] = kernel_before_and_after(args, argv, dumps, tmp, label)
            else:
                res = spawn(argv, args.worker_timeout)
            row[backend] = res
            if "error" in res:
                log(f"[{label}] {backend}: FAILED {res}")
                dumps.pop(backend)
                continue
            log(
                f"[{label}] {backend}: {res['time_s']:.3f} s, {res['peak_mib']:.0f} MiB, "
                f"spike rate {res['spike_rate']:.4f}"
            )
        ok = [b for b in (kernel, "before", "reference", "autograd") if "time_s" in row.get(b, {})]
        if "before" in ok:
            for other in (b for b in ok if b in ("reference", "autograd")):
                row[f"before_time_ratio_{other}"] = row[other]["time_s"] / row["before"]["time_s"]
                if row["before"]["peak_mib"] >= 1:
                    row[f"before_mem_ratio_{other}"] = (
                        row[other]["peak_mib"] / row["before"]["peak_mib"]
                    )
        if kernel in ok:
            for other in ok[1:]:
                row[f"time_ratio_{other}"] = row[other]["time_s"] / row[kernel]["time_s"]
                if row[kernel]["peak_mib"] >= 1:
                    row[f"mem_ratio_{other}"] = row[other]["peak_mib"] / row[kernel]["peak_mib"]
            base = torch.load(dumps[kernel])
            for other in ok[1:]:
                dump = torch.load(dumps[other])
                differ = base["z"] != dump["z"]
                row[f"spikes_differing_{other}"] = int(differ.sum())
                if differ.any():
                    row[f"first_differing_step_{other}"] = int(
                        differ.any(dim=0).any(dim=-1).nonzero()[0, 0]
                    )
                row[f"grad_rel_err_{other}"] = max(
                    rel_l2(base["grads"][k], dump["grads"][k]) for k in base["grads"]
                )
        rows.append(row)
    return rows


def run_linear(args: argparse.Namespace) -> list[dict[str, Any]]:
    """delayed_linear: kernel vs dense conv (and reference if asked) at each max delay."""
    script = HERE / "bench_delayed_linear.py"
    impls = ["kernel", "dense-conv"] + (["reference"] if args.linear_reference else [])
    rows = []
    for d in args.linear_delays:
        row: dict[str, Any] = {"max_delay": d}
        for impl in impls:
            argv = [
                "--worker",
                "--impl",
                impl,
                "--device",
                args.device,
                "--max-delay",
                str(d),
                "--seed",
                str(args.seed),
                "--repeats",
                str(args.repeats if impl == "kernel" else 1),
                *(["--quick"] if args.quick else []),
            ]
            log(f"[delayed_linear D={d}] {impl}: running ...")
            limit = args.baseline_timeout if impl == "dense-conv" else args.worker_timeout
            res = spawn(argv, limit, script=script)
            if res.get("error", "").startswith("timed out"):
                res = {"timed_out_s": limit, "error": res["error"]}
            row[impl] = res
            if "error" in res:
                log(f"[delayed_linear D={d}] {impl}: FAILED {res}")
            else:
                took = f"{res['time_s']:.3f} s, {res['peak_mib']:.0f} MiB"
                log(f"[delayed_linear D={d}] {impl}: {took}")
        k, c = row["kernel"], row["dense-conv"]
        # The dense kernel, its gradient and one intermediate of the same size, at least:
        cfg = linear_config(args.quick)
        row["dense_conv_floor_mib"] = 3 * cfg["n_post"] * cfg["n_pre"] * (d + 2) * 4 / MIB
        if "time_s" in k and "time_s" in c:
            row["time_ratio"] = c["time_s"] / k["time_s"]
            row["mem_ratio"] = c["peak_mib"] / max(k["peak_mib"], 1.0)
            row["output_rel_err"] = abs(k["output_norm"] - c["output_norm"]) / c["output_norm"]
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Entry point (driver or worker)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", choices=["recurrent", "shd-epoch"], help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="cpu", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    parser.add_argument("--batches", type=int, help="SHD epoch: time only this many batches")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=3, help="timed passes of the kernel")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sizes", nargs="+", help="recurrent sizes T:B:N:D (default: the grid)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--no-recurrent", action="store_true")
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["reference", "autograd"],
        help="PyTorch backends to compare the kernel with (default: reference autograd)",
    )
    parser.add_argument(
        "--baseline-tree",
        help="another checkout (e.g. `git worktree add /tmp/before <commit>`) whose kernel is "
        "timed beside this one's, in alternating workers, and reported in the same tables",
    )
    parser.add_argument(
        "--ab-rounds", type=int, default=3, help="alternating rounds with --baseline-tree"
    )
    parser.add_argument("--no-linear", action="store_true")
    parser.add_argument("--linear-reference", action="store_true", help="also time reference")
    parser.add_argument("--linear-delays", type=int, nargs="+", help="delayed_linear max delays")
    parser.add_argument("--shd-epoch", action="store_true", help="also time one SHD epoch")
    parser.add_argument("--worker-timeout", type=float, default=1800.0)
    parser.add_argument(
        "--baseline-timeout",
        type=float,
        default=300.0,
        help="give up on a dense-conv measurement after this many seconds (reported as a bound)",
    )
    parser.add_argument("--markdown", help="write the Markdown report here")
    parser.add_argument("--render", help="only print the Markdown of a saved --json report")
    parser.add_argument("--json", help="write the raw results here")
    args = parser.parse_args(argv)

    if args.worker == "recurrent":
        args.size = tuple(int(v) for v in args.size.split(":"))
        print(json.dumps(recurrent_worker(args)))
        return 0
    if args.worker == "shd-epoch":
        print(json.dumps(shd_epoch_worker(args)))
        return 0
    if args.render:
        print(render(json.loads(Path(args.render).read_text())))
        return 0

    if args.sizes:
        args.sizes = [tuple(int(v) for v in s.split(":")) for s in args.sizes]
    else:
        args.sizes = list(QUICK_SIZES if args.quick else RECURRENT_SIZES)
    if not args.linear_delays:
        args.linear_delays = (16, 64) if args.quick else LINEAR_DELAYS
    if args.device == "cuda":
        args.linear_reference = True
    import torch  # noqa: F401  (fail early if it is missing)

    start = time.perf_counter()
    machine = machine_info()
    report: dict[str, Any] = {
        "command": "python benchmarks/bench_kernels.py " + " ".join(sys.argv[1:]),
        "machine": machine,
        "config": {"device": args.device, "repeats": args.repeats, "seed": args.seed},
    }
    if args.baseline_tree:
        report["config"] |= {
            "baseline_tree": args.baseline_tree,
            "baseline_commit": baseline_commit(Path(args.baseline_tree)),
            "ab_rounds": args.ab_rounds,
        }
    with tempfile.TemporaryDirectory(prefix="bench_kernels_") as tmp:
        if not args.no_recurrent:
            report["recurrent"] = run_recurrent(args, Path(tmp))
    if not args.no_linear:
        report["linear_config"] = linear_config(args.quick)
        report["linear"] = run_linear(args)
    if args.shd_epoch:
        argv = ["--worker", "shd-epoch", "--device", args.device, "--backend", args.device]
        argv += ["--seed", str(args.seed)] + (
            ["--batches", str(args.batches)] if args.batches else []
        )
        log("[shd epoch] running ...")
        report["shd_epoch"] = spawn(argv, args.worker_timeout)
        log(f"[shd epoch] {report['shd_epoch']}")
    first = next(
        (r[args.device] for r in report.get("recurrent", []) if "torch" in r.get(args.device, {})),
        {},
    )
    for key in ("torch", "torch_num_threads", "gpu", "cuda"):
        if key in first:
            machine[key] = first[key]
    machine["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    report["wall_s"] = time.perf_counter() - start
    text = render(report)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    failed = any(
        "error" in row.get(b, {}) and "timed_out_s" not in row.get(b, {})
        for row in report.get("recurrent", []) + report.get("linear", [])
        for b in (args.device, "before", "reference", "autograd", "kernel", "dense-conv")
    )
    return 1 if failed or "error" in report.get("shd_epoch", {}) else 0


if __name__ == "__main__":
    sys.exit(main())
