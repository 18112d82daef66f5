"""``spatialsnn doctor [--json] [--no-build]``: check what the delay kernels need.

Reports torch, CUDA (torch's build, the visible GPUs and their architectures), the
toolchain (nvcc, the C++ compiler, ninja), the kernel build cache, the environment
variables that steer the backends, and which backends are usable; by default it compiles
a kernel that is not in the cache yet (once; about a minute on two cores). Exit code 0 when
the compiled kernel of this machine (CPU, and CUDA when a GPU is visible) is usable, 1
otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from typing import Any

ENV_VARS = (
    "SPATIALSNN_BACKEND",
    "SPATIALSNN_CACHE_DIR",
    "SPATIALSNN_BUILD_TIMEOUT",
    "SPATIALSNN_BUILD_VERBOSE",
    "SPATIALSNN_CPU_BACKWARD_ORDER",
    "TORCH_CUDA_ARCH_LIST",
    "CUDA_HOME",
    "CXX",
    "OMP_NUM_THREADS",
)


def register(sub) -> None:
    """Add the ``doctor`` parser."""
    p = sub.add_parser(
        "doctor",
        help="check torch, CUDA, compilers and which kernel backends work",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument(
        "--no-build",
        action="store_true",
        help="do not compile kernels that are not cached; report them as not built",
    )
    p.set_defaults(func=run)


def _first_line(cmd: list[str]) -> str | None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    return lines[0] if lines else None


def _nvcc() -> dict[str, Any]:
    from torch.utils.cpp_extension import CUDA_HOME

    path = shutil.which("nvcc")
    if path is None and CUDA_HOME:
        candidate = os.path.join(CUDA_HOME, "bin", "nvcc")
        path = candidate if os.path.isfile(candidate) else None
    version = None
    if path:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
        release = [ln for ln in out.stdout.splitlines() if "release" in ln]
        version = release[0].strip() if release else None
    return {"path": path, "version": version, "cuda_home": CUDA_HOME}


def _compiler() -> dict[str, Any]:
    for name in (os.environ.get("CXX", ""), "c++", "g++", "clang++"):
        path = shutil.which(name) if name else None
        if path:
            return {"path": path, "version": _first_line([path, "--version"])}
    return {"path": None, "version": None}


def _backend(kind: str, build: bool) -> dict[str, Any]:
    from spatialsnn.ops import _build

    if not build and not _build.is_built(kind):
        return {
            "usable": False,
            "built": False,
            "detail": "not built yet (run `spatialsnn doctor` without --no-build to build it)",
        }
    ok, detail = _build.cpu_status() if kind == "cpu" else _build.cuda_status()
    info: dict[str, Any] = {"usable": ok, "built": _build.is_built(kind), "detail": detail}
    if ok:
        module = _build.load_cpu() if kind == "cpu" else _build.load_cuda()
        info["detail"] = f"compiled: {getattr(module, '__file__', '?')}"
        if kind == "cpu":
            info["openmp"] = bool(getattr(module, "openmp", False))
            if not info["openmp"]:
                info["detail"] += " (without OpenMP: single-threaded)"
    return info


def collect(build: bool = True) -> dict[str, Any]:
    """Gather the report (see the module docstring).

    Parameters
    ----------
    build : bool
        Compile kernels that are not cached yet, to tell whether they work.

    Returns
    -------
    dict
        JSON-serialisable; ``report["ok"]`` is the overall verdict.
    """
    import torch
    import torch.utils.cpp_extension as cpp

    from spatialsnn import __version__
    from spatialsnn.ops import _build

    gpus = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            gpus.append(
                {
                    "index": i,
                    "name": props.name,
                    "arch": f"sm_{props.major}{props.minor}",
                    "memory_gib": round(props.total_memory / 1024**3, 1),
                }
            )
    cache = {"root": str(_build.cache_root()), "cpu_build": str(_build.build_dir_or_root("cpu"))}
    if gpus:
        cache["cuda_build"] = str(_build.build_dir_or_root("cuda"))
    backends: dict[str, Any] = {
        "autograd": {"usable": True, "detail": "plain PyTorch (the oracle; small problems)"},
        "reference": {"usable": True, "detail": "vectorised PyTorch with hand-written backward"},
        "cpu": _backend("cpu", build),
    }
    if gpus:
        backends["cuda"] = _backend("cuda", build)
    else:
        backends["cuda"] = {
            "usable": False,
            "detail": "no GPU visible (torch.cuda.is_available() is False)",
        }
    auto = {"cpu": "cpu" if backends["cpu"]["usable"] else "reference"}
    if gpus:
        auto["cuda"] = "cuda" if backends["cuda"]["usable"] else "reference"
    forced = os.environ.get("SPATIALSNN_BACKEND", "").strip()
    if forced:
        auto = {device: forced for device in auto}
    ok = backends["cpu"]["usable"] and (not gpus or backends["cuda"]["usable"])
    return {
        "ok": bool(ok),
        "spatialsnn": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": {
            "version": torch.__version__,
            "cuda_build": torch.version.cuda,
            "cuda_available": torch.cuda.is_available(),
            "threads": torch.get_num_threads(),
        },
        "gpus": gpus,
        "toolchain": {
            "nvcc": _nvcc(),
            "cxx": _compiler(),
            "ninja": cpp.is_ninja_available(),
        },
        "cache": cache,
        "environment": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
        "backends": backends,
        "auto": auto,
    }


def format_report(report: dict[str, Any]) -> str:
    """Human-readable text of :func:`collect`'s report."""
    t = report["torch"]
    tc = report["toolchain"]
    lines = [
        f"spatialsnn {report['spatialsnn']}  (Python {report['python']}, {report['platform']})",
        f"torch        {t['version']}  CUDA build: {t['cuda_build'] or 'none (CPU-only torch)'}"
        f"  threads: {t['threads']}",
    ]
    if report["gpus"]:
        for g in report["gpus"]:
            lines.append(f"GPU {g['index']}        {g['name']}  {g['arch']}  {g['memory_gib']} GiB")
    else:
        lines.append("GPU          none visible")
    nvcc = tc["nvcc"]
    lines += [
        f"nvcc         {nvcc['path'] or 'not found'}"
        + (f"  ({nvcc['version']})" if nvcc["version"] else ""),
        f"CUDA_HOME    {nvcc['cuda_home'] or 'not found'}",
        f"C++ compiler {tc['cxx']['path'] or 'not found'}"
        + (f"  ({tc['cxx']['version']})" if tc["cxx"]["version"] else ""),
        f"ninja        {'yes' if tc['ninja'] else 'no (pip install ninja)'}",
        f"cache        {report['cache']['root']}",
    ]
    for key in ("cpu_build", "cuda_build"):
        if key in report["cache"]:
            lines.append(f"  {key:<10} {report['cache'][key]}")
    env = report["environment"]
    lines.append(
        "environment  "
        + (", ".join(f"{k}={v}" for k, v in env.items()) if env else "(no relevant variables set)")
    )
    lines.append("backends")
    for name, info in report["backends"].items():
        mark = "ok " if info["usable"] else "-- "
        detail = info["detail"].strip().splitlines()
        lines.append(f"  {mark}{name:<10} {detail[0] if detail else ''}")
        lines += [f"      {d}" for d in detail[1:]]
    lines.append(
        "auto         " + ", ".join(f"{d} tensors -> {b}" for d, b in report["auto"].items())
    )
    lines.append("verdict      " + ("OK" if report["ok"] else "PROBLEM: see the backends above"))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the report; exit code 0 if the machine's compiled kernels are usable."""
    report = collect(build=not args.no_build)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    sys.stdout.flush()
    return 0 if report["ok"] else 1
