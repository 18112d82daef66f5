"""brian2cuda's ``cuda_standalone`` device, configured so that the project compiles."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from spatialsnn.brian2.imports import require_brian2cuda

__all__ = ["configure_brian2cuda"]


def _find_curand(cuda_path: str | None) -> Path | None:
    """A directory ``<d>/include/curand.h`` + ``<d>/lib/libcurand.so*`` if cuda lacks one."""
    if cuda_path and Path(cuda_path, "include", "curand.h").exists():
        return None
    import site

    roots = [*site.getsitepackages(), site.getusersitepackages(), *sys.path]
    for root in roots:
        for sub in ("nvidia/cu13", "nvidia/cu12", "nvidia/curand"):
            d = Path(root, sub)
            if (d / "include" / "curand.h").exists():
                return d
    return None


def configure_brian2cuda(
    *,
    build_dir: str | os.PathLike,
    compute_capability: float | None = None,
    gpu_id: int | None = None,
    cuda_path: str | None = None,
) -> dict[str, Any]:
    """Set brian2cuda preferences so that the project compiles (docs/brian2.md).

    Applies the workarounds measured in ``notes/brian2-probe.md`` §4: without a GPU
    (no ``nvidia-smi``) GPU detection is switched off and ``gpu_id``/``compute_capability``
    are set (default 0 and 9.0 = H100/H200); C++17 is forced for nvcc and gcc (CUDA 13's
    Thrust rejects the template's ``-std=c++11``); when the CUDA toolkit has no cuRAND,
    the one of the ``nvidia-curand`` wheel is used (include and library paths, and a
    ``libcurand.so`` link in ``build_dir``).

    Parameters
    ----------
    build_dir : path-like
        Directory for the ``libcurand.so`` link.
    compute_capability : float, optional
        Compute capability of the target GPU when it cannot be detected.
    gpu_id : int, optional
        GPU to run on when it cannot be detected.
    cuda_path : str, optional
        CUDA installation (default: brian2cuda's detection).

    Returns
    -------
    dict
        The preference values that were changed, ``{name: old value}``, for
        restoring them.
    """
    require_brian2cuda()  # registers the cuda_standalone device
    from brian2 import prefs

    old: dict[str, Any] = {}

    def setp(name: str, value: Any) -> None:
        old.setdefault(name, prefs[name])
        prefs[name] = value

    be = "devices.cuda_standalone.cuda_backend."
    if cuda_path:
        setp(be + "cuda_path", cuda_path)
    if shutil.which("nvidia-smi") is None or compute_capability is not None:
        setp(be + "detect_gpus", False)
        setp(be + "gpu_id", 0 if gpu_id is None else int(gpu_id))
        setp(be + "compute_capability", 9.0 if compute_capability is None else compute_capability)
    nvcc = [a for a in prefs[be + "extra_compile_args_nvcc"] if not a.startswith("-std=")]
    gcc = [a for a in prefs["codegen.cpp.extra_compile_args_gcc"] if not a.startswith("-std=")]
    setp("codegen.cpp.extra_compile_args_gcc", [*gcc, "-std=c++17"])
    cuda_home = cuda_path or prefs[be + "cuda_path"]
    if cuda_home is None and shutil.which("nvcc"):
        cuda_home = str(Path(os.path.realpath(shutil.which("nvcc"))).parent.parent)
    curand = _find_curand(cuda_home)
    if curand is not None:
        libdir = Path(build_dir, "curand_lib")
        libdir.mkdir(parents=True, exist_ok=True)
        libs = sorted((curand / "lib").glob("libcurand.so*"))
        link = libdir / "libcurand.so"
        if libs and not link.exists():
            link.symlink_to(libs[-1])
        nvcc.append(f"-I{curand / 'include'}")
        setp(
            "codegen.cpp.include_dirs",
            [*prefs["codegen.cpp.include_dirs"], str(curand / "include")],
        )
        setp("codegen.cpp.library_dirs", [*prefs["codegen.cpp.library_dirs"], str(libdir)])
        setp(
            "codegen.cpp.runtime_library_dirs",
            [*prefs["codegen.cpp.runtime_library_dirs"], str(curand / "lib")],
        )
    setp(be + "extra_compile_args_nvcc", [*nvcc, "-std=c++17"])
    return old
