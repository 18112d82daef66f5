"""Benchmark the recurrent LIF layer: backend "reference" vs "autograd" on CPU.

What it measures
----------------
For each problem size ``T:B:N:D`` (time steps, batch, hidden neurons, max delay in
steps) and each backend of :func:`spatialsnn.ops.lif_recurrent`, the wall time of one
forward + backward pass (median over ``--repeats`` repetitions, after ``--warmup``
untimed repetitions) and the peak memory of that work. The loss is
``(z * r).sum()`` with ``z`` the spikes and ``r`` a fixed random tensor; gradients
flow to the drive, the recurrent weights and the delays (interpolate mode).

How it measures
---------------
Every (backend, size) pair runs in a fresh subprocess (this file with ``--worker``,
printing one JSON object), so that peak memory is clean: the worker builds the
seeded inputs, runs one tiny warm-up call on a 2-step input, reads its current RSS,
then does the repetitions; the reported peak is ``ru_maxrss - RSS before the first
forward``, in MiB. The autograd backend keeps about ``k = 4`` float32 tensors of
``batch * N * N`` per time step, so its memory is estimated as ``T*B*N*N*4*k``
bytes and it is only run where that fits in 70% of ``MemAvailable``; elsewhere it
is reported as not run, with the estimate.

Where both backends run, the script checks that they produce the same spikes
(SHA-256 of the spike raster) and reports the relative difference of the three
gradients; it exits with status 1 if the spikes differ or a worker fails.

Inputs: ``torch.manual_seed(seed)``; ``drive = rand(B, T, N) * 0.6`` (about 4% of
neuron-steps spike at the default sizes; the measured rate is in the table),
``w_rec = randn(N, N) * 0.5 / sqrt(N)``, ``delays = rand(N, N) * D`` steps; LIF
coefficients ``lif_coefficients(dt=1, tau_mem=20, tau_syn=5)``, threshold 1,
surrogate slope 25.

How to run
----------
From the repository root::

    python benchmarks/bench_recurrent_backends.py                 # defaults, table on stdout
    python benchmarks/bench_recurrent_backends.py --record        # + benchmarks/results/...json
    python benchmarks/bench_recurrent_backends.py --sizes 200:8:64:100 --repeats 5 --json out.json

The default sizes are ``500:16:128:250`` (the required size) and
``1000:32:256:1000`` (a size where autograd does not fit). ``1000:64:512:1000`` was
considered, but one reference forward+backward is extrapolated (from a 50-step run)
to take over 10 minutes on a 2-core CPU, too slow for a default run.

Timings are only meaningful on an otherwise idle machine: the report records the
1-minute load average at the start and end of each worker and the process CPU time,
and flags a busy machine. Peak memory does not depend on the load.
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import (  # noqa: E402  (benchmarks/ is not a package)
    current_rss_kib,
    machine_info,
    maxrss_kib,
    meminfo_kib,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = REPO_ROOT / "benchmarks" / "results" / "recurrent_backends.json"
DEFAULT_SIZES = ("500:16:128:250", "1000:32:256:1000")
BACKENDS = ("reference", "autograd")
#: Float32 tensors of batch*N*N kept by the autograd backend per time step (estimate).
AUTOGRAD_TENSORS_PER_STEP = 4
MIB = 1024**2
GIB = 1024**3


@dataclass(frozen=True)
class Size:
    """One problem size: time steps, batch, hidden neurons, max delay (steps)."""

    T: int
    B: int
    N: int
    D: int

    @classmethod
    def parse(cls, text: str) -> Size:
        parts = text.split(":")
        if len(parts) != 4:
            raise argparse.ArgumentTypeError(f"size must be T:B:N:D, got {text!r}")
        try:
            t, b, n, d = (int(p) for p in parts)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"size must be four integers, got {text!r}") from exc
        if min(t, b, n) < 1 or d < 0:
            raise argparse.ArgumentTypeError(f"size needs T, B, N >= 1 and D >= 0, got {text!r}")
        return cls(t, b, n, d)

    @property
    def label(self) -> str:
        return f"{self.T}:{self.B}:{self.N}:{self.D}"

    @property
    def work(self) -> int:
        """Elements touched per pass, ``T*B*N*N`` (used to decide on warm-up)."""
        return self.T * self.B * self.N * self.N

    def autograd_bytes(self) -> int:
        """Estimated memory the autograd backend keeps for backward."""
        return self.work * 4 * AUTOGRAD_TENSORS_PER_STEP


# ----------------------------------------------------------------------------- worker


def _import_ops() -> tuple[Any, Any, Any]:
    """Import torch and spatialsnn, preferring this checkout over an installed copy."""
    if (REPO_ROOT / "spatialsnn").is_dir() and str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    import torch

    import spatialsnn
    from spatialsnn import ops
    from spatialsnn.dynamics import lif_coefficients

    return torch, spatialsnn, (ops, lif_coefficients)


def run_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Measure one (backend, size) pair in this process; return a JSON-able dict."""
    torch, spatialsnn, (ops, lif_coefficients) = _import_ops()
    if args.threads:
        torch.set_num_threads(args.threads)
    size: Size = args.size
    backend: str = args.backend
    coef = lif_coefficients(1.0, 20.0, 5.0)

    torch.manual_seed(args.seed)
    drive = (torch.rand(size.B, size.T, size.N) * args.drive_scale).requires_grad_()
    w_rec = (torch.randn(size.N, size.N) * (0.5 / math.sqrt(size.N))).requires_grad_()
    delays = (torch.rand(size.N, size.N) * size.D).requires_grad_()
    readout = torch.randn(size.B, size.T, size.N)

    def layer(x: Any) -> Any:
        return ops.lif_recurrent(
            x,
            w_rec,
            delays,
            alpha=coef.alpha,
            beta=coef.beta,
            gamma=coef.gamma,
            threshold=1.0,
            slope=25.0,
            mode="interpolate",
            max_delay=size.D,
            backend=backend,
        )

    # Tiny warm-up on a 2-step input: loads kernels and allocator paths.
    tiny = drive.detach()[:, :2].clone().requires_grad_()
    (layer(tiny) * readout[:, :2]).sum().backward()
    for leaf in (drive, w_rec, delays):
        leaf.grad = None
    del tiny

    warmup = args.warmup if size.work <= args.warmup_max_work else 0
    rss_before_kib = current_rss_kib()
    fwd_times: list[float] = []
    total_times: list[float] = []
    cpu_times: list[float] = []
    load_start = os.getloadavg()[0]
    z = None
    for rep in range(warmup + args.repeats):
        for leaf in (drive, w_rec, delays):
            leaf.grad = None
        z = None
        c0 = time.process_time()
        t0 = time.perf_counter()
        z = layer(drive)
        t1 = time.perf_counter()
        (z * readout).sum().backward()
        t2 = time.perf_counter()
        c2 = time.process_time()
        if rep >= warmup:
            cpu_times.append(c2 - c0)
            fwd_times.append(t1 - t0)
            total_times.append(t2 - t0)
    peak_kib = maxrss_kib()

    assert z is not None
    spikes = z.detach().to(torch.uint8).contiguous()
    result: dict[str, Any] = {
        "backend": backend,
        "size": asdict(size),
        "label": size.label,
        "warmup_reps": warmup,
        "repeats": args.repeats,
        "time_s_median": statistics.median(total_times),
        "time_s_all": total_times,
        "cpu_s_median": statistics.median(cpu_times),
        "loadavg_1m_start": round(load_start, 2),
        "loadavg_1m_end": round(os.getloadavg()[0], 2),
        "forward_s_median": statistics.median(fwd_times),
        "backward_s_median": statistics.median(
            [tt - tf for tt, tf in zip(total_times, fwd_times, strict=True)]
        ),
        "rss_before_mib": rss_before_kib / 1024,
        "peak_rss_mib": peak_kib / 1024,
        "peak_mem_mib": (peak_kib - rss_before_kib) / 1024,
        "spike_rate": float(spikes.float().mean()),
        "spike_count": int(spikes.sum()),
        "spike_sha256": hashlib.sha256(spikes.numpy().tobytes()).hexdigest(),
        "torch": torch.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        "spatialsnn_file": str(Path(spatialsnn.__file__).resolve()),
    }
    if args.dump:
        torch.save(
            {
                "z": spikes,
                "drive": drive.grad,
                "w_rec": w_rec.grad,
                "delays": delays.grad,
            },
            args.dump,
        )
    return result


def run_compare(paths: list[str]) -> dict[str, Any]:
    """Compare two worker dumps (reference first, autograd second)."""
    torch, _, _ = _import_ops()
    ref = torch.load(paths[0])
    ag = torch.load(paths[1])
    diff = ref["z"] != ag["z"]
    out: dict[str, Any] = {"spikes_differing": int(diff.sum())}
    if out["spikes_differing"]:
        out["first_differing_step"] = int(diff.any(dim=0).any(dim=-1).nonzero()[0, 0])
    for name in ("drive", "w_rec", "delays"):
        a, b = ref[name], ag[name]
        denom = float(b.norm()) or 1.0
        out[f"grad_rel_err_{name}"] = float((a - b).norm()) / denom
    return out


# ----------------------------------------------------------------------------- driver


def _spawn(argv: list[str], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), *argv]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        return {"error": f"exit status {proc.returncode}", "stderr_tail": tail}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return {"error": "worker printed no JSON", "stdout_tail": proc.stdout[-2000:]}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    machine = machine_info()
    if machine["loadavg_1m_start"] > 0.5 * (machine["usable_cores"] or 1):
        _log(
            f"WARNING: 1-minute load average is {machine['loadavg_1m_start']} on "
            f"{machine['usable_cores']} cores; other processes will distort the timings"
        )
    common = [
        "--repeats",
        str(args.repeats),
        "--warmup",
        str(args.warmup),
        "--warmup-max-work",
        str(args.warmup_max_work),
        "--seed",
        str(args.seed),
        "--drive-scale",
        str(args.drive_scale),
    ]
    if args.threads:
        common += ["--threads", str(args.threads)]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_recurrent_") as tmp:
        for size in args.sizes:
            avail_kib = meminfo_kib("MemAvailable") or 0
            budget = args.mem_fraction * avail_kib * 1024
            estimate = size.autograd_bytes()
            run_autograd = estimate <= budget
            row: dict[str, Any] = {
                "size": asdict(size),
                "label": size.label,
                "autograd_estimate_gib": estimate / GIB,
                "autograd_budget_gib": budget / GIB,
            }
            dumps = {b: str(Path(tmp) / f"{size.label.replace(':', '_')}_{b}.pt") for b in BACKENDS}
            for backend in BACKENDS:
                if backend == "autograd" and not run_autograd:
                    row[backend] = {"not_run": True}
                    _log(
                        f"[{size.label}] autograd: not run (estimated {estimate / GIB:.1f} GiB "
                        f"> {args.mem_fraction:.0%} of MemAvailable = {budget / GIB:.1f} GiB)"
                    )
                    continue
                _log(f"[{size.label}] {backend}: running ...")
                argv = ["--worker", "--backend", backend, "--size", size.label, *common]
                if run_autograd:
                    argv += ["--dump", dumps[backend]]
                t0 = time.perf_counter()
                res = _spawn(argv, args.worker_timeout)
                res["worker_wall_s"] = time.perf_counter() - t0
                row[backend] = res
                if "error" in res:
                    _log(f"[{size.label}] {backend}: FAILED: {res}")
                else:
                    _log(
                        f"[{size.label}] {backend}: {res['time_s_median']:.2f} s, "
                        f"{res['peak_mem_mib']:.0f} MiB, spike rate {res['spike_rate']:.4f} "
                        f"(worker {res['worker_wall_s']:.0f} s)"
                    )
            ref, ag = row["reference"], row["autograd"]
            both = "error" not in ref and "error" not in ag and not ag.get("not_run")
            if both:
                row["spikes_identical"] = ref["spike_sha256"] == ag["spike_sha256"]
                row["time_ratio"] = ag["time_s_median"] / ref["time_s_median"]
                if ref["peak_mem_mib"] >= 1.0:  # below 1 MiB the ratio is noise
                    row["mem_ratio"] = ag["peak_mem_mib"] / ref["peak_mem_mib"]
                row["compare"] = _spawn(["--compare", dumps["reference"], dumps["autograd"]], 600)
            rows.append(row)
    first_ok = next(
        (r[b] for r in rows for b in BACKENDS if "torch" in r.get(b, {})),
        {},
    )
    machine["torch"] = first_ok.get("torch")
    machine["torch_num_threads"] = first_ok.get("torch_num_threads")
    machine["torch_num_interop_threads"] = first_ok.get("torch_num_interop_threads")
    machine["spatialsnn_file"] = first_ok.get("spatialsnn_file")
    machine["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    return {
        "benchmark": "lif_recurrent forward+backward: reference vs autograd",
        "command": "python benchmarks/bench_recurrent_backends.py " + " ".join(args.raw_argv),
        "machine": machine,
        "config": {
            "sizes": [s.label for s in args.sizes],
            "repeats": args.repeats,
            "warmup": args.warmup,
            "warmup_max_work": args.warmup_max_work,
            "seed": args.seed,
            "drive_scale": args.drive_scale,
            "mode": "interpolate",
            "lif": "dt=1 ms, tau_mem=20 ms, tau_syn=5 ms, threshold=1, slope=25",
            "autograd_mem_fraction": args.mem_fraction,
            "autograd_tensors_per_step": AUTOGRAD_TENSORS_PER_STEP,
        },
        "rows": rows,
    }


# ----------------------------------------------------------------------------- report


def _fmt_time(res: dict[str, Any]) -> str:
    if res.get("not_run"):
        return "not run"
    if "error" in res:
        return "FAILED"
    return f"{res['time_s_median']:.2f}"


def _fmt_mem(res: dict[str, Any], row: dict[str, Any]) -> str:
    if res.get("not_run"):
        return (
            f"not run (estimated {row['autograd_estimate_gib']:.1f} GiB "
            f"> available {row['autograd_budget_gib']:.1f} GiB)"
        )
    if "error" in res:
        return "FAILED"
    return f"{res['peak_mem_mib']:.1f}"


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "## Recurrent layer: reference vs autograd (CPU)",
        "",
        f"Command: `{report['command']}`",
        "",
        f"- CPU: {m['cpu_model']}, {m['logical_cores']} logical cores "
        f"({m['usable_cores']} usable), RAM {m['ram_total_gib']} GiB "
        f"({m['ram_available_gib']} GiB available at start)",
        f"- torch {m['torch']}, torch.get_num_threads() = {m['torch_num_threads']}, "
        f"Python {m['python']}, {m['platform']}",
        f"- Date: {m['date_utc']}; spatialsnn commit: {m['git_commit']}; 1-minute load "
        f"average {m['loadavg_1m_start']} at start, {m['loadavg_1m_end']} at end",
        *(
            [
                "- WARNING: the machine was busy (load average above half the cores); "
                "timings are distorted by other processes."
            ]
            if max(m["loadavg_1m_start"], m["loadavg_1m_end"]) > 0.5 * (m["usable_cores"] or 1)
            else []
        ),
        "",
        "Time: median wall time of forward+backward over "
        f"{report['config']['repeats']} repetitions. Peak: ru_maxrss minus RSS before the "
        "forward, fresh process per cell. Ratios are autograd / reference. CPU time "
        "(details) is the process CPU time of forward+backward, summed over threads.",
        "",
        "| T | batch | N | max delay | spike rate | ref time (s) | autograd time (s) "
        "| time ratio | ref peak (MiB) | autograd peak (MiB) | mem ratio | spikes identical |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---|",
    ]
    for row in report["rows"]:
        s, ref, ag = row["size"], row["reference"], row["autograd"]
        rate = f"{100 * ref['spike_rate']:.2f}%" if "spike_rate" in ref else "n/a"
        if "spikes_identical" in row:
            ident = "yes" if row["spikes_identical"] else "**NO**"
            ident += f" ({ref['spike_count']} spikes)"
        else:
            ident = "n/a (autograd not run)"
        lines.append(
            f"| {s['T']} | {s['B']} | {s['N']} | {s['D']} | {rate} | {_fmt_time(ref)} "
            f"| {_fmt_time(ag)} | "
            + (f"{row['time_ratio']:.2f}x" if "time_ratio" in row else "n/a")
            + f" | {_fmt_mem(ref, row)} | {_fmt_mem(ag, row)} | "
            + (f"{row['mem_ratio']:.1f}x" if "mem_ratio" in row else "n/a")
            + f" | {ident} |"
        )
    lines += [
        "",
        "Details (per backend):",
        "",
        "| size T:B:N:D | backend | forward (s) | backward (s) | all reps (s) | CPU time (s) "
        "| warm-up reps | load avg start/end | RSS before (MiB) | ru_maxrss (MiB) |",
        "|:---|:---|---:|---:|:---|---:|---:|:---|---:|---:|",
    ]
    for row in report["rows"]:
        for backend in BACKENDS:
            res = row[backend]
            if res.get("not_run") or "error" in res:
                note = "not run" if res.get("not_run") else f"FAILED: {res['error']}"
                lines.append(f"| {row['label']} | {backend} | {note} | | | | | | | |")
                continue
            reps = ", ".join(f"{t:.2f}" for t in res["time_s_all"])
            lines.append(
                f"| {row['label']} | {backend} | {res['forward_s_median']:.2f} "
                f"| {res['backward_s_median']:.2f} | {reps} | {res['cpu_s_median']:.2f} "
                f"| {res['warmup_reps']} | {res['loadavg_1m_start']}/{res['loadavg_1m_end']} "
                f"| {res['rss_before_mib']:.0f} | {res['peak_rss_mib']:.0f} |"
            )
    checks = [r for r in report["rows"] if "compare" in r]
    if checks:
        lines += [
            "",
            "Agreement where both ran (relative L2 difference of gradients, "
            "reference vs autograd; autograd estimate vs measured peak):",
            "",
            "| size T:B:N:D | spikes differing | grad drive | grad w_rec | grad delays "
            "| autograd estimate (MiB) | autograd measured (MiB) |",
            "|:---|---:|---:|---:|---:|---:|---:|",
        ]
        for row in checks:
            c = row["compare"]
            if "error" in c:
                lines.append(f"| {row['label']} | compare FAILED: {c['error']} | | | | | |")
                continue
            lines.append(
                f"| {row['label']} | {c['spikes_differing']} | {c['grad_rel_err_drive']:.1e} "
                f"| {c['grad_rel_err_w_rec']:.1e} | {c['grad_rel_err_delays']:.1e} "
                f"| {row['autograd_estimate_gib'] * GIB / MIB:.0f} "
                f"| {row['autograd']['peak_mem_mib']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def problems(report: dict[str, Any]) -> list[str]:
    """Failures that make the run invalid (worker errors, differing spikes)."""
    out = []
    for row in report["rows"]:
        for backend in BACKENDS:
            if "error" in row[backend]:
                out.append(f"{row['label']} {backend}: {row[backend]['error']}")
        if row.get("spikes_identical") is False:
            detail = row.get("compare", {})
            out.append(f"{row['label']}: reference and autograd spikes differ ({detail})")
        if "error" in row.get("compare", {}):
            out.append(f"{row['label']}: gradient comparison failed: {row['compare']}")
    return out


# ----------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--sizes",
        nargs="+",
        type=Size.parse,
        default=[Size.parse(s) for s in DEFAULT_SIZES],
        metavar="T:B:N:D",
        help=f"problem sizes (default: {' '.join(DEFAULT_SIZES)})",
    )
    p.add_argument("--repeats", type=int, default=3, help="timed repetitions (median reported)")
    p.add_argument("--warmup", type=int, default=1, help="untimed full-size repetitions first")
    p.add_argument(
        "--warmup-max-work",
        type=float,
        default=5e9,
        help="skip the full-size warm-up when T*B*N*N exceeds this (default 5e9)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--drive-scale", type=float, default=0.6, help="drive = rand * this")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: default)")
    p.add_argument(
        "--mem-fraction",
        type=float,
        default=0.7,
        help="run autograd only if its estimate fits this fraction of MemAvailable",
    )
    p.add_argument("--worker-timeout", type=float, default=3600.0, help="seconds per worker")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    p.add_argument("--record", action="store_true", help=f"also write {RESULTS_PATH}")
    # Internal modes.
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--backend", choices=BACKENDS, help=argparse.SUPPRESS)
    p.add_argument("--size", type=Size.parse, help=argparse.SUPPRESS)
    p.add_argument("--dump", help=argparse.SUPPRESS)
    p.add_argument("--compare", nargs=2, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(raw)
    if args.repeats < 1:
        raise SystemExit("--repeats must be >= 1")
    if args.worker:
        print(json.dumps(run_worker(args)))
        return 0
    if args.compare:
        print(json.dumps(run_compare(args.compare)))
        return 0
    args.raw_argv = raw
    report = run_all(args)
    text = json.dumps(report, indent=2) + "\n"
    if args.json:
        Path(args.json).write_text(text)
    if args.record:
        RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
        RESULTS_PATH.write_text(text)
    print(render_markdown(report))
    bad = problems(report)
    for msg in bad:
        _log(f"ERROR: {msg}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
