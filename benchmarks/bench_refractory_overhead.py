"""Overhead of the refractory period in the compiled CPU kernel: old kernels against new.

What it measures
----------------
The acceptance row of ``bench_kernels.py`` (recurrent layer, forward + backward,
interpolate mode, float32, T=500, hidden 256, batch 16, max delay 250, backend ``cpu``;
the same seeded inputs as there) for three variants, in one process:

``old``
    The CPU extension built from the kernel sources of a git revision (``--old-ref``;
    default: the newest commit whose ``csrc/cpu_ops.cpp`` has no refractory argument),
    read with ``git show`` (nothing in the working tree or the git state changes).
``new r=0``
    The working tree's kernels (:func:`spatialsnn.ops.lif_recurrent`, ``backend="cpu"``),
    without a refractory period.
``new r=R``
    The same with ``refractory=R`` (``--refractory``, default 20 steps).

All three go through the same torch operators (for ``old``, ``spatialsnn.ops._library``
is pointed at the old extension through a shim that drops the refractory argument, which
must be 0). The repetitions are interleaved (one pass of each variant per round, the order
rotated every round), because the machine is noisy; reported are the medians of the
fwd+bwd wall time, of the forward alone, and the median over rounds of each round's
new/old ratio (paired). The old and new ``r=0`` results must be bitwise identical
(spikes and gradients); the script checks that and exits with status 1 otherwise.

How to run
----------
From the repository root (the first run compiles the old extension, about a minute, into
``<spatialsnn cache>/bench_refractory_overhead/``; the new one is the usual cached build)::

    python benchmarks/bench_refractory_overhead.py \\
        --markdown benchmarks/results/refractory_overhead.md
    python benchmarks/bench_refractory_overhead.py --repeats 5 --size 200:8:64:50  # smoke

Recorded result: ``benchmarks/results/refractory_overhead.md``.
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
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_info  # noqa: E402  (benchmarks/ is not a package)

REPO_ROOT = Path(__file__).resolve().parent.parent
CSRC_REL = "spatialsnn/ops/csrc"
ACCEPTANCE = (500, 16, 256, 250)


def git(*args: str) -> str:
    """Output of a read-only git command in the repository."""
    return subprocess.run(
        ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout


def default_old_ref() -> str:
    """The newest commit whose CPU kernel does not take a refractory argument."""
    for commit in git("log", "--format=%H", "--", f"{CSRC_REL}/cpu_ops.cpp").split():
        if "refractory" not in git("show", f"{commit}:{CSRC_REL}/cpu_ops.cpp"):
            return commit
    raise SystemExit("no commit with the kernels before the refractory period found")


def build_old(ref: str) -> tuple[Any, str]:
    """The CPU extension of the kernel sources at ``ref`` (built once, then cached)."""
    import torch.utils.cpp_extension as cpp

    from spatialsnn.ops import _build

    commit = git("rev-parse", ref).strip()
    names = git("ls-tree", "--name-only", f"{commit}:{CSRC_REL}").split()
    cflags, ldflags = _build.cpu_flags()
    texts = {file: git("show", f"{commit}:{CSRC_REL}/{file}") for file in names}
    digest = hashlib.sha256("\0".join([*cflags, *texts, *texts.values()]).encode())
    name = f"spatialsnn_cpu_old_{digest.hexdigest()[:12]}"  # one build per source version
    root = _build.cache_root() / "bench_refractory_overhead" / name
    src = root / "src"
    src.mkdir(parents=True, exist_ok=True)
    for file, text in texts.items():
        path = src / file
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
    module = cpp.load(
        name=name,
        sources=[str(src / "cpu_ops.cpp")],
        extra_include_paths=[str(src)],
        extra_cflags=cflags,
        extra_ldflags=ldflags,
        build_directory=str(root),
        with_cuda=False,
    )
    return module, commit[:10]


class OldKernels:
    """The old extension behind the new call signature (trailing ``refractory`` = 0)."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def lif_forward(self, *args: Any) -> Any:
        *rest, refractory = args
        assert refractory == 0, "the old kernels have no refractory period"
        return self.module.lif_forward(*rest)

    def lif_backward(self, *args: Any) -> Any:
        *rest, refractory = args
        assert refractory == 0, "the old kernels have no refractory period"
        return self.module.lif_backward(*rest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default=":".join(map(str, ACCEPTANCE)), help="T:batch:N:D")
    parser.add_argument("--refractory", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=30, help="rounds (one pass per variant)")
    parser.add_argument("--old-ref", help="git revision of the old kernels (default: see above)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    parser.add_argument("--json", type=Path, help="write the raw timings here")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_refractory_overhead.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    machine = machine_info()
    wall0 = time.perf_counter()

    sys.path.insert(0, str(REPO_ROOT))
    import torch

    from spatialsnn import ops
    from spatialsnn.dynamics import lif_coefficients
    from spatialsnn.ops import _build, _library

    t_steps, batch, n, d = (int(x) for x in args.size.split(":"))
    old_ref = args.old_ref or default_old_ref()
    print(f"building / loading the old kernels ({old_ref}) ...", file=sys.stderr)
    old_module, old_commit = build_old(old_ref)
    old = OldKernels(old_module)
    _build.load_cpu()  # the new kernels: built (or loaded) before any timing
    new_kernels = _library._kernels

    coef = lif_coefficients(1.0, 20.0, 5.0)
    gen = torch.Generator().manual_seed(args.seed)  # the inputs of bench_kernels.py
    drive = (torch.rand(batch, t_steps, n, generator=gen) * 0.6).requires_grad_()
    w = (torch.randn(n, n, generator=gen) * (0.5 / math.sqrt(n))).requires_grad_()
    delay = (torch.rand(n, n, generator=gen) * d).requires_grad_()
    probe = torch.randn(batch, t_steps, n, generator=gen)

    variants = {
        "old": (old, 0),
        "new r=0": (None, 0),
        f"new r={args.refractory}": (None, args.refractory),
    }

    def run(kernels: Any, refractory: int) -> tuple[float, float, float, Any]:
        _library._kernels = (lambda device: kernels) if kernels is not None else new_kernels
        try:
            for leaf in (drive, w, delay):
                leaf.grad = None
            c0 = time.process_time()
            t0 = time.perf_counter()
            z = ops.lif_recurrent(
                drive,
                w,
                delay,
                alpha=coef.alpha,
                beta=coef.beta,
                gamma=coef.gamma,
                mode="interpolate",
                max_delay=d,
                refractory=refractory,
                backend="cpu",
            )
            t1 = time.perf_counter()
            (z * probe).sum().backward()
            t2 = time.perf_counter()
            cpu = time.process_time() - c0
        finally:
            _library._kernels = new_kernels
        return t2 - t0, t1 - t0, cpu, z.detach()

    outputs = {}
    for name, (kernels, refractory) in variants.items():  # warm-up, and the results
        run(kernels, refractory)
        _, _, _, z = run(kernels, refractory)
        outputs[name] = (z, [t.grad.clone() for t in (drive, w, delay)])
    (z_old, g_old), (z_new, g_new) = outputs["old"], outputs["new r=0"]
    identical = torch.equal(z_old, z_new) and all(
        torch.equal(a, b) for a, b in zip(g_old, g_new, strict=True)
    )
    z_ref = outputs[f"new r={args.refractory}"][0]

    names = list(variants)
    times: dict[str, dict[str, list[float]]] = {
        k: {"total": [], "forward": [], "cpu": []} for k in names
    }
    print(f"{args.repeats} interleaved rounds ...", file=sys.stderr)
    for rep in range(args.repeats):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            total, fwd, cpu, _ = run(*variants[name])
            times[name]["total"].append(total)
            times[name]["forward"].append(fwd)
            times[name]["cpu"].append(cpu)
    machine["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    machine["torch"] = torch.__version__
    machine["torch_num_threads"] = torch.get_num_threads()

    def med(name: str, key: str) -> float:
        return statistics.median(times[name][key])

    base = med("old", "total")
    rows = []
    for name in names:
        paired = [a / b for a, b in zip(times[name]["total"], times["old"]["total"], strict=True)]
        rows.append(
            {
                "variant": name,
                "total_s": med(name, "total"),
                "forward_s": med(name, "forward"),
                "backward_s": med(name, "total") - med(name, "forward"),
                "cpu_s": med(name, "cpu"),
                "min_s": min(times[name]["total"]),
                "ratio_of_medians": med(name, "total") / base,
                "median_paired_ratio": statistics.median(paired),
            }
        )
    spikes = {
        "old": float(z_old.mean()),
        "new r=0": float(z_new.mean()),
        f"new r={args.refractory}": float(z_ref.mean()),
    }
    busy = max(machine["loadavg_1m_start"], machine["loadavg_1m_end"]) > 0.5 * (
        machine["usable_cores"] or 1
    )
    lines = [
        f"Command: `{command.strip()}` (wall time {(time.perf_counter() - wall0) / 60:.1f} min)",
        "",
        f"- CPU: {machine['cpu_model']}, {machine['logical_cores']} logical cores "
        f"({machine['usable_cores']} usable), RAM {machine['ram_total_gib']} GiB "
        f"({machine['ram_available_gib']} GiB available at start)",
        f"- torch {machine['torch']}, torch.get_num_threads() = "
        f"{machine['torch_num_threads']}, Python {machine['python']}, {machine['platform']}",
        f"- {machine['date_utc']}; spatialsnn {machine['git_commit']} (new: the working "
        f"tree); old kernels: `{CSRC_REL}` at {old_commit}; 1-minute load average "
        f"{machine['loadavg_1m_start']} at start, {machine['loadavg_1m_end']} at end"
        + (" (busy machine: other processes distort the timings)" if busy else ""),
        "",
        f"Recurrent layer, forward + backward, interpolate mode, float32, T={t_steps}, "
        f"batch {batch}, N={n}, max delay {d}, backend `cpu` (the acceptance row of "
        f"`bench_kernels.py`); {args.repeats} interleaved rounds (order rotated each round). "
        "Times are medians in seconds; process CPU time (all threads) in parentheses. "
        "Ratio: median / median of `old`; paired: median over rounds of (variant / `old` "
        "of the same round).",
        "",
        "| variant | fwd+bwd s | forward s | backward s | fastest s | spike rate | "
        "ratio vs old | paired ratio |",
        "|:---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['total_s']:.4f} ({r['cpu_s']:.3f}) | {r['forward_s']:.4f} "
            f"| {r['backward_s']:.4f} | {r['min_s']:.4f} | {spikes[r['variant']]:.2%} "
            f"| {r['ratio_of_medians']:.3f} | {r['median_paired_ratio']:.3f} |"
        )
    lines += [
        "",
        "Old and new (r=0) results bitwise identical (spikes and the three gradients): "
        + ("yes" if identical else "**NO**"),
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if args.markdown:
        args.markdown.write_text(report)
    if args.json:
        payload = {"command": command, "machine": machine, "rows": rows, "times": times}
        payload["identical"] = identical
        args.json.write_text(json.dumps(payload, indent=1) + "\n")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
