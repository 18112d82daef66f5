"""Machine facts and process memory for the benchmark scripts (no torch needed).

Shared by the benchmark scripts (``bench_kernels.py``, ``bench_recurrent_backends.py``,
``shd_epoch.py``, ...) so that every recorded result describes its machine the same way.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def meminfo_kib(key: str) -> int | None:
    """A field of ``/proc/meminfo`` in KiB (e.g. ``"MemAvailable"``), or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU's model name."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str | None:
    """Short commit of the checkout, with ``+dirty(spatialsnn/)`` if the package differs."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "spatialsnn"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty(spatialsnn/)" if dirty else "")


def machine_info() -> dict[str, Any]:
    """Facts about this machine that need no torch (torch's come from the workers)."""
    total = meminfo_kib("MemTotal")
    avail = meminfo_kib("MemAvailable")
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_total_gib": round(total / 1024**2, 1) if total else None,
        "ram_available_gib": round(avail / 1024**2, 1) if avail else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "git_commit": git_commit(),
        "loadavg_1m_start": round(os.getloadavg()[0], 2),
    }


def current_rss_kib() -> int:
    """Resident set size of this process now, KiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("VmRSS not found in /proc/self/status")


def maxrss_kib() -> int:
    """Peak resident set size of this process, KiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


def run_header(script: str) -> dict[str, Any]:
    """What every recorded result starts with: machine, commit, date and the command."""
    return {
        "machine": machine_info(),
        "commit": git_commit(),
        "date": _dt.date.today().isoformat(),
        "command": f"python benchmarks/{script} " + " ".join(sys.argv[1:]),
    }


def write_results(header: dict[str, Any], table: str, rows: list, markdown=None, json_path=None):
    """Write a benchmark's Markdown table (after its command) and its JSON rows, if asked."""
    import json

    if markdown:
        Path(markdown).write_text(f"Command: `{header['command']}`\n\n{table}")
    if json_path:
        Path(json_path).write_text(json.dumps({**header, "rows": rows}, indent=2))
