"""Just-in-time build and loading of the compiled delay kernels.

The C++/OpenMP (CPU) and CUDA kernels in ``spatialsnn/ops/csrc/`` are compiled on first
use with :func:`torch.utils.cpp_extension.load` and cached on disk, so installing
spatialsnn needs no compiler and no CUDA toolkit; the first call that needs a kernel does.

Cache
-----
``$SPATIALSNN_CACHE_DIR`` or ``$XDG_CACHE_HOME/spatialsnn`` or ``~/.cache/spatialsnn``,
then one folder per build *tag*: the torch version, the Python version, the machine, a
hash of the CPU's instruction-set flags (the CPU build uses ``-march=native`` on x86-64),
and for CUDA the CUDA version and the GPU architectures. Inside it, one folder per source
version (the extension's name carries a hash of the sources and flags), so editing a
kernel never loads a stale build. Deleting the cache is always safe.

Concurrency
-----------
One process builds a given extension at a time, under an advisory file lock
(``fcntl.flock``, released by the operating system if the holder dies, so it can never be
left stale). A process that waits longer than ``$SPATIALSNN_BUILD_TIMEOUT`` seconds
(default 900) gives up with an error that says what to do. The lock file that torch's
own builder leaves behind when a build is killed (``<build dir>/lock``, which would make
torch wait forever) is removed while the lock is held.

Environment variables
---------------------
``SPATIALSNN_CACHE_DIR``
    Build cache location.
``SPATIALSNN_BUILD_TIMEOUT``
    Seconds to wait for another process's build (default 900).
``SPATIALSNN_BUILD_VERBOSE``
    ``1`` shows the compiler's command lines and output.
``TORCH_CUDA_ARCH_LIST``
    GPU architectures to compile for (torch's variable; default: the visible GPUs').
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "CSRC",
    "KernelBuildError",
    "KernelUnavailableWarning",
    "build_dir",
    "cache_root",
    "cpu_status",
    "cuda_status",
    "is_built",
    "load_cpu",
    "load_cuda",
]

log = logging.getLogger("spatialsnn.ops")

#: Folder of the kernel sources (shipped as package data).
CSRC = Path(__file__).resolve().parent / "csrc"
#: Headers of the sources: every one is part of the build hash (CPU headers too, for simplicity).
_HEADERS = (
    "delay_kernels.cuh",
    "delay_ops.h",
    "cpu_common.h",
    "cpu_lif.h",
    "cpu_lif_backward.h",
    "cpu_spike_linear.h",
)
_CPU_SOURCES = ("cpu_ops.cpp",)
_CUDA_SOURCES = ("cuda_ops.cu",)

_DEFAULT_TIMEOUT_S = 900.0
_TRUE = {"1", "true", "yes", "on"}

_HINT = (
    "Run `spatialsnn doctor` for a diagnosis; set SPATIALSNN_BACKEND=reference (or pass "
    'backend="reference") to run without compiled kernels.'
)


class KernelBuildError(RuntimeError):
    """A compiled kernel could not be built or loaded; the message says what to do."""


class KernelUnavailableWarning(RuntimeWarning):
    """``backend="auto"`` fell back to the ``reference`` backend (emitted once per kernel)."""


# ----------------------------------------------------------------------------- paths and tags


def cache_root() -> Path:
    """Root folder of the build cache (see the module docstring)."""
    env = os.environ.get("SPATIALSNN_CACHE_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "spatialsnn"


def _short_hash(*parts: bytes | str, n: int = 12) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:n]


def _cpu_isa() -> str:
    """A short hash of the CPU's instruction-set flags (what ``-march=native`` depends on)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return _short_hash(" ".join(sorted(line.split(":", 1)[1].split())), n=8)
    except OSError:
        pass
    return _short_hash(platform.processor() or platform.machine(), n=8)


def _torch_tag() -> str:
    import torch

    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    return f"torch{torch.__version__.replace('+', '_')}-{py}-{platform.machine().lower()}"


def _cuda_arches() -> str:
    import torch

    env = os.environ.get("TORCH_CUDA_ARCH_LIST", "").strip()
    if env:
        return "arch" + _short_hash(env, n=8)
    caps = sorted({torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())})
    return "sm" + "_".join(f"{a}{b}" for a, b in caps)


def _native_flags() -> list[str]:
    machine = platform.machine().lower()
    if sys.platform.startswith("linux") and machine in {"x86_64", "amd64"}:
        return ["-march=native"]
    return []


def cpu_flags(openmp: bool = True) -> tuple[list[str], list[str]]:
    """Compiler and linker flags of the CPU extension.

    ``-ffp-contract=off`` keeps ``a*b + c`` as two roundings, as torch computes it, so the
    forward pass reproduces the reference backend's spikes.
    """
    cflags = ["-O3", "-ffp-contract=off", *_native_flags()]
    ldflags: list[str] = []
    if openmp:
        cflags.append("-fopenmp")
        ldflags.append("-fopenmp")
    return cflags, ldflags


def cuda_flags() -> list[str]:
    """Flags for nvcc when building the CUDA extension (no FMA contraction, as on the CPU)."""
    return ["-O3", "--fmad=false"]


def _sources_hash(names: tuple[str, ...], flags: list[str]) -> str:
    parts: list[bytes | str] = []
    for name in (*_HEADERS, *names):
        parts += [name, (CSRC / name).read_bytes()]
    return _short_hash(*parts, " ".join(flags))


def build_dir(kind: str) -> Path:
    """Folder holding the build of ``kind`` ("cpu" or "cuda") for this machine and sources."""
    name, tag, _, _ = _spec(kind)
    return cache_root() / tag / name


def _spec(kind: str, openmp: bool = True) -> tuple[str, str, list[str], list[str]]:
    """(extension name, cache tag, compile flags, link flags) of one build."""
    if kind == "cpu":
        cflags, ldflags = cpu_flags(openmp)
        name = f"spatialsnn_cpu_{_sources_hash(_CPU_SOURCES, cflags)}"
        return name, f"{_torch_tag()}-cpu-{_cpu_isa()}", cflags, ldflags
    if kind == "cuda":
        import torch

        flags = cuda_flags()
        name = f"spatialsnn_cuda_{_sources_hash(_CUDA_SOURCES, flags)}"
        tag = f"{_torch_tag()}-cuda{torch.version.cuda}-{_cuda_arches()}"
        return name, tag, flags, []
    raise ValueError(f"unknown kernel kind {kind!r}")


# ----------------------------------------------------------------------------- locking


def _lock_timeout() -> float:
    raw = os.environ.get("SPATIALSNN_BUILD_TIMEOUT", "").strip()
    try:
        return float(raw) if raw else _DEFAULT_TIMEOUT_S
    except ValueError:
        raise KernelBuildError(
            f"SPATIALSNN_BUILD_TIMEOUT must be a number of seconds, got {raw!r}"
        ) from None


def _try_lock(fh: Any) -> bool:
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(fh: Any) -> None:
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        with contextlib.suppress(OSError):
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def build_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path``; give up after ``timeout`` seconds.

    Parameters
    ----------
    path : Path
        Lock file (created if missing; never needs deleting).
    timeout : float
        Seconds to wait for another holder.

    Raises
    ------
    KernelBuildError
        When the lock is still held by another process after ``timeout`` seconds.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        deadline = time.monotonic() + timeout
        announced = False
        while not _try_lock(fh):
            if time.monotonic() >= deadline:
                raise KernelBuildError(
                    f"gave up after {timeout:.0f} s waiting for another process that is "
                    f"building the spatialsnn kernels (lock: {path}). If that build is "
                    "stuck, stop it; otherwise wait, or raise SPATIALSNN_BUILD_TIMEOUT. " + _HINT
                )
            if not announced:
                log.info("waiting for another process to finish building %s", path.parent)
                announced = True
            time.sleep(0.25)
        try:
            yield
        finally:
            _unlock(fh)


# ----------------------------------------------------------------------------- building

_LOADED: dict[str, ModuleType | KernelBuildError] = {}


def _import_built(name: str, folder: Path) -> ModuleType | None:
    """Import a finished build without invoking the compiler (or ninja) again."""
    if not (folder / f"{name}.ok").is_file():
        return None
    libs = sorted(folder.glob(f"{name}.*so")) + sorted(folder.glob(f"{name}.pyd"))
    if not libs:
        return None
    spec = importlib.util.spec_from_file_location(name, libs[0])
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _compile(kind: str, openmp: bool = True, build: bool = True) -> ModuleType | None:
    """Import the build of ``kind``; compile it first if needed and ``build`` is true."""
    import torch.utils.cpp_extension as cpp

    name, tag, cflags, ldflags = _spec(kind, openmp)
    folder = cache_root() / tag / name
    module = _import_built(name, folder)  # the common case: no lock, no compiler
    if module is not None or not build:
        return module
    with build_lock(folder.with_name(name + ".lock"), _lock_timeout()):
        module = _import_built(name, folder)  # built by another process meanwhile
        if module is not None:
            return module
        folder.mkdir(parents=True, exist_ok=True)
        stale = folder / "lock"  # torch's FileBaton; we hold the lock, so it is stale
        stale.unlink(missing_ok=True)
        verbose = os.environ.get("SPATIALSNN_BUILD_VERBOSE", "").strip().lower() in _TRUE
        log.info("compiling the spatialsnn %s kernels (first use) in %s", kind, folder)
        t0 = time.perf_counter()
        sources = [str(CSRC / s) for s in (_CPU_SOURCES if kind == "cpu" else _CUDA_SOURCES)]
        kwargs: dict[str, Any] = {
            "name": name,
            "sources": sources,
            "extra_include_paths": [str(CSRC)],
            "build_directory": str(folder),
            "verbose": verbose,
        }
        if kind == "cpu":
            kwargs.update(extra_cflags=cflags, extra_ldflags=ldflags, with_cuda=False)
        else:
            kwargs.update(extra_cflags=["-O3"], extra_cuda_cflags=cflags, with_cuda=True)
        module = cpp.load(**kwargs)
        (folder / f"{name}.ok").write_text(f"built in {time.perf_counter() - t0:.1f} s\n")
        log.info("built %s in %.1f s", name, time.perf_counter() - t0)
        return module


def _load_cpu_module() -> ModuleType:
    # A finished build, with OpenMP or (on compilers without it) without, is imported as is.
    for openmp in (True, False):
        module = _compile("cpu", openmp=openmp, build=False)
        if module is not None:
            return module
    try:
        module = _compile("cpu", openmp=True)
    except KernelBuildError:
        raise
    except Exception as first:  # e.g. a compiler without OpenMP (Apple clang)
        log.info("CPU build with OpenMP failed (%s); retrying without", first)
        try:
            module = _compile("cpu", openmp=False)
        except Exception:
            raise first from None
    assert module is not None
    return module


def _load(kind: str) -> ModuleType:
    cached = _LOADED.get(kind)
    if isinstance(cached, KernelBuildError):
        raise cached
    if cached is not None:
        return cached
    try:
        if kind == "cuda":
            _check_cuda_prerequisites()
            module = _compile("cuda")
            assert module is not None
        else:
            module = _load_cpu_module()
    except KernelBuildError as err:
        _LOADED[kind] = err
        raise
    except Exception as err:
        detail = str(err).strip().splitlines()
        tail = "\n".join(detail[-25:])
        wrapped = KernelBuildError(
            f"could not build the spatialsnn {kind} kernels in {build_dir_or_root(kind)}: "
            f"{type(err).__name__}:\n{tail}\n"
            + (
                "Install a C++17 compiler (g++ or clang++) and ninja (pip install ninja), "
                if kind == "cpu"
                else "Install the CUDA toolkit matching torch.version.cuda (nvcc, CUDA_HOME), "
            )
            + "then retry; SPATIALSNN_BUILD_VERBOSE=1 shows the full compiler output. "
            + _HINT
        )
        _LOADED[kind] = wrapped
        raise wrapped from err
    _LOADED[kind] = module
    return module


def build_dir_or_root(kind: str) -> Path:
    """:func:`build_dir`, or the cache root when the tag cannot be computed."""
    try:
        return build_dir(kind)
    except Exception:
        return cache_root()


def _check_cuda_prerequisites() -> None:
    import torch

    if not torch.cuda.is_available():
        raise KernelBuildError(
            "the CUDA kernels need a GPU and a CUDA build of torch "
            f"(torch {torch.__version__}, torch.version.cuda={torch.version.cuda}, "
            f"torch.cuda.is_available()=False). " + _HINT
        )
    from torch.utils.cpp_extension import CUDA_HOME

    if CUDA_HOME is None:
        raise KernelBuildError(
            "the CUDA kernels are compiled on first use, but no CUDA toolkit was found "
            "(set CUDA_HOME or put nvcc on PATH). " + _HINT
        )


def load_cpu() -> ModuleType:
    """The compiled CPU extension, building it on first use.

    Returns
    -------
    module
        With ``lif_forward``, ``lif_backward``, ``linear_forward``, ``linear_grad_input``,
        ``linear_grad_params``, the flag ``openmp``, and the submodule ``emu`` (the CUDA
        kernels run on the host, for tests).

    Raises
    ------
    KernelBuildError
        If it cannot be built or loaded (the error is remembered for this process).
    """
    return _load("cpu")


def load_cuda() -> ModuleType:
    """The compiled CUDA extension, building it on first use; see :func:`load_cpu`."""
    return _load("cuda")


def is_built(kind: str) -> bool:
    """Whether a finished build of ``kind`` for this machine and these sources is cached."""
    for openmp in (True, False) if kind == "cpu" else (True,):
        name, tag, _, _ = _spec(kind, openmp)
        if (cache_root() / tag / name / f"{name}.ok").is_file():
            return True
    return False


def _status(kind: str) -> tuple[bool, str]:
    try:
        module = _load(kind)
    except KernelBuildError as err:
        return False, str(err)
    return True, f"{getattr(module, '__name__', kind)} from {getattr(module, '__file__', '?')}"


def cpu_status() -> tuple[bool, str]:
    """Whether the CPU kernel is usable (building it if needed), and why or why not."""
    return _status("cpu")


def cuda_status() -> tuple[bool, str]:
    """Whether the CUDA kernel is usable (building it if needed), and why or why not."""
    return _status("cuda")
