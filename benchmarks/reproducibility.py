"""Kill/resume trials beside a CPU hog: are the model files bitwise identical?

Trains one configuration uninterrupted on an idle machine (the reference), then runs
``--trials`` trials, each beside a CPU hog (``--hog`` busy processes): the same training
is killed with SIGKILL at a random moment, resumed with ``--resume`` (the hog still
running) and its model file compared with the reference. One uninterrupted run beside the
hog is compared too (its duration sets the window of the kill moments). Prints a table
(markdown with ``--markdown``) and exits 1 if any file differs.

"Bitwise identical" means: every variable of the two files (weights, positions, delay
steps, scalars, history) has the same bytes, and every attribute is equal, except the
``created`` time stamp and the ``history_epoch_seconds`` wall times, which differ between
any two runs by nature.

    python benchmarks/reproducibility.py --trials 10 --epochs 20 --seed 3 \\
        --markdown benchmarks/results/reproducibility.md

Run it alone on the machine (other jobs are load the trials do not control).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: What differs between any two runs by nature, not by computation.
NOT_COMPARED = ("created", "history_epoch_seconds")


def model_contents(path: Path) -> dict[str, Any]:
    """Every variable's bytes and every attribute of a model file, except :data:`NOT_COMPARED`."""
    import xarray as xr

    with xr.open_dataset(path, engine="h5netcdf") as ds:
        ds = ds.load()
    out: dict[str, Any] = {}
    for name in sorted(map(str, ds.variables)):
        if name in NOT_COMPARED:
            continue
        var = ds[name]
        out[name] = (
            var.dims,
            str(var.dtype),
            var.values.tobytes(),
            json.dumps(var.attrs, default=str),
        )
    for key, value in sorted(ds.attrs.items()):
        if key not in NOT_COMPARED:
            out[f"attr:{key}"] = str(value)
    return out


def compare(a: Path, b: Path) -> tuple[bool, str]:
    """Whether two model files are bitwise identical (see the module docstring), and why not."""
    import numpy as np
    import xarray as xr

    ca, cb = model_contents(a), model_contents(b)
    differ = sorted(k for k in set(ca) | set(cb) if ca.get(k) != cb.get(k))
    if not differ:
        return True, "identical"
    detail = ", ".join(differ[:4]) + (" ..." if len(differ) > 4 else "")
    with xr.open_dataset(a, engine="h5netcdf") as da, xr.open_dataset(b, engine="h5netcdf") as db:
        if "position_hidden" in da and da["position_hidden"].shape == db["position_hidden"].shape:
            d = np.abs(da["position_hidden"].values - db["position_hidden"].values).max()
            detail += f"; positions differ by up to {float(d):.3g} um"
    return False, detail


class Hog:
    """``n`` busy-looping processes for the duration of a ``with`` block (killed by pid)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> Hog:
        code = "while True:\n    pass"
        self.procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(self.n)]
        return self

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()


def train_command(config: Path, out: Path, threads: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "spatialsnn", "train", "--config", str(config),
           "--out", str(out), "--no-progress"]  # fmt: skip
    return cmd + (["--threads", str(threads)] if threads else [])


def run(cmd: list[str], log: Path, timeout: float = 3600) -> float:
    """Run to completion; return the wall time, s (raise with the log's tail on failure)."""
    start = time.monotonic()
    with log.open("a") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=fh, timeout=timeout, check=False).returncode
    if rc != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({rc}):\n{log.read_text()[-2000:]}")
    return time.monotonic() - start


def checkpoint_epoch(ckpt: Path) -> int:
    """The last finished epoch a checkpoint holds (0 without one)."""
    if not ckpt.exists():
        return 0
    import torch

    return int(torch.load(ckpt, weights_only=False)["epoch"])


def kill_and_resume(config: Path, out: Path, threads: int | None, kill_after: float) -> dict:
    """Start training, SIGKILL it after ``kill_after`` s, resume it to the end."""
    log = out.with_suffix(".log")
    cmd = train_command(config, out, threads)
    start = time.monotonic()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=fh)
        try:
            proc.wait(timeout=kill_after)
            finished = True
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            finished = False
    killed_at = time.monotonic() - start
    epoch = checkpoint_epoch(out.with_name(out.name + ".ckpt"))
    resume_s = run([*cmd, "--resume"], log) if not finished else 0.0
    return {"killed_at_s": killed_at, "finished_before_kill": finished,
            "checkpoint_epoch": epoch, "resume_s": resume_s}  # fmt: skip


def table(rows: list[dict], args: argparse.Namespace, reference_s: float) -> str:
    lines = [
        f"Kill/resume trials: `spatialsnn train --epochs {args.epochs} --patience 100 "
        f"--seed {args.seed}` (timing task), {args.hog} busy processes beside every trial "
        f"(`os.cpu_count()` = {os.cpu_count()}), threads: {args.threads or 'torch default'}; "
        f"reference trained uninterrupted on the idle machine in {reference_s:.0f} s, "
        f"beside the hog in {rows[0]['killed_at_s']:.0f} s; kill moments uniform in 5-95 % "
        "of that.",
        "",
        "| trial | killed after (s) | epochs in checkpoint | resumed in (s) "
        "| model file vs reference |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        killed = "not killed" if r["finished_before_kill"] else f"{r['killed_at_s']:.1f}"
        verdict = "bitwise identical" if r["identical"] else f"DIFFERENT: {r['detail']}"
        lines.append(f"| {r['trial']} | {killed} | {r['checkpoint_epoch']} | "
                     f"{r['resume_s']:.0f} | {verdict} |")  # fmt: skip
    killed = [r for r in rows if not r["finished_before_kill"]]
    same = sum(r["identical"] for r in killed)
    lines += [
        "",
        f"{same} of {len(killed)} killed and resumed runs bitwise identical to the reference; "
        f"{sum(r['identical'] for r in rows)} of {len(rows)} model files in all.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=10, help="killed runs")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=3, help="training seed (and kill moments)")
    p.add_argument("--hog", type=int, default=os.cpu_count() or 1, help="busy processes")
    p.add_argument("--threads", type=int, help="--threads of spatialsnn train")
    p.add_argument("--workdir", default="reproducibility-work")
    p.add_argument("--markdown", help="write the table here")
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args(argv)

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.json"
    config.write_text(json.dumps({"epochs": args.epochs, "patience": 100, "seed": args.seed}))
    reference = work / "reference.nc"
    reference_s = run(train_command(config, reference, args.threads), work / "reference.log")
    rng = random.Random(args.seed)
    rows = []
    with Hog(args.hog):
        hogged = work / "hogged.nc"
        hogged_s = run(train_command(config, hogged, args.threads), work / "hogged.log")
        same, detail = compare(reference, hogged)
        rows.append({"trial": "uninterrupted, beside the hog", "killed_at_s": hogged_s,
                     "finished_before_kill": True, "checkpoint_epoch": args.epochs,
                     "resume_s": 0.0, "identical": same, "detail": detail})  # fmt: skip
        attempts = 0
        while sum(not r["finished_before_kill"] for r in rows) < args.trials:
            attempts += 1
            if attempts > 3 * args.trials:
                raise RuntimeError("too many runs finished before their kill moment")
            out = work / f"trial{attempts}.nc"
            for stale in (out, out.with_name(out.name + ".ckpt")):
                stale.unlink(missing_ok=True)
            moment = rng.uniform(0.05, 0.95) * hogged_s  # anywhere in a run beside the hog
            row = kill_and_resume(config, out, args.threads, moment)
            row["trial"] = attempts  # a run that finished first is shown, not counted
            row["identical"], row["detail"] = compare(reference, out)
            rows.append(row)
            print(table(rows, args, reference_s).splitlines()[-3], flush=True)
    text = table(rows, args, reference_s)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
