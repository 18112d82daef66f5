"""The CUDA sources compile with nvcc (no GPU needed).

``csrc/nvcc_harness.cu`` includes the torch-free kernel header ``delay_kernels.cuh`` and
instantiates every kernel driver with the CUDA executor; compiling it with
``nvcc -c -arch=sm_90`` checks all device code (a few seconds), so a syntax or type
error in a kernel fails CI on machines without a GPU. The torch binding ``cuda_ops.cu``
is compiled too, but that takes minutes on two cores (torch's headers), so it is marked
``slow``.

These tests run wherever ``nvcc`` is found (on ``PATH`` or under ``CUDA_HOME``); without
it they are skipped, with that reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

from spatialsnn.ops._build import CSRC, cuda_flags


def _find_nvcc() -> str | None:
    found = shutil.which("nvcc")
    if found:
        return found
    for env in ("CUDA_HOME", "CUDA_PATH"):
        root = os.environ.get(env)
        if root and (Path(root) / "bin" / "nvcc").is_file():
            return str(Path(root) / "bin" / "nvcc")
    return None


NVCC = _find_nvcc()
if NVCC is None:
    pytest.skip(
        "nvcc not found (PATH, CUDA_HOME): the CUDA sources are compile-checked only where "
        "the CUDA toolkit is installed",
        allow_module_level=True,
    )

ARCH = "sm_90"
#: Functors launched by the drivers of delay_kernels.cuh (each is one __global__ kernel).
KERNELS = (
    "PrepareTable",
    "LifAdvance",
    "LifScatter",
    "LifAdjointStep",
    "LifWeightGrad",
    "LinearForward",
    "LinearGradInput",
    "LinearGradParams",
)


def _nvcc(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NVCC, *args], capture_output=True, text=True, timeout=timeout, cwd=CSRC, check=False
    )


def test_harness_instantiates_every_driver():
    header = (CSRC / "delay_kernels.cuh").read_text()
    harness = (CSRC / "nvcc_harness.cu").read_text()
    drivers = set(re.findall(r"^void (\w+)\(Exec& ex", header, flags=re.M))
    assert len(drivers) >= 6
    for name in drivers:
        assert f"void {name}<CudaExec, T>" in harness, f"{name} is not instantiated"
    # LifAdvance and LifAdjointStep are launched as <scalar_t, true> and <scalar_t, false>
    launched = set(re.findall(r"ex\.launch\([^;]*?(\w+)<scalar_t[,>]", header, flags=re.S))
    launched |= set(re.findall(r"ex\.launch\([^;]*?, (\w+)\);", header))
    assert launched >= set(KERNELS) - {"PrepareTable"}


def test_device_code_compiles_for_sm90(tmp_path):
    out = tmp_path / "harness.o"
    args = [
        "-c",
        "-std=c++17",
        f"-arch={ARCH}",
        *cuda_flags(),
        "-Werror",
        "all-warnings",
        "-Xptxas",
        "-v",
        "-o",
        str(out),
        "nvcc_harness.cu",
    ]
    proc = _nvcc(args, timeout=300)
    assert proc.returncode == 0, f"nvcc failed:\n{proc.stdout}\n{proc.stderr}"
    assert out.stat().st_size > 0
    compiled = re.findall(r"Compiling entry function '(\w+)' for '(\w+)'", proc.stderr)
    assert {arch for _, arch in compiled} == {ARCH}
    for kernel in KERNELS:
        for dtype in ("If", "Id"):  # float and double instantiations (mangled names)
            assert any(kernel + dtype in name for name, _ in compiled), (kernel, dtype)
    for kernel in ("LifAdvance", "LifAdjointStep"):  # with and without a refractory period
        for dtype in ("If", "Id"):
            for flag in ("Lb0E", "Lb1E"):
                assert any(kernel + dtype + flag in name for name, _ in compiled), (kernel, flag)


@pytest.mark.slow
def test_torch_binding_compiles_for_sm90(tmp_path):
    torch_ext = pytest.importorskip("torch.utils.cpp_extension")
    # CPU builds of torch ship the c10/cuda headers but not this generated one.
    stub = tmp_path / "include" / "c10" / "cuda" / "impl"
    stub.mkdir(parents=True)
    (stub / "cuda_cmake_macros.h").write_text("#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n")
    includes = [f"-I{p}" for p in torch_ext.include_paths()]
    includes += [f"-I{tmp_path / 'include'}", f"-I{sysconfig.get_paths()['include']}"]
    args = [
        "-c",
        "-std=c++20",
        f"-arch={ARCH}",
        *cuda_flags(),
        *torch_ext.COMMON_NVCC_FLAGS,
        "-DTORCH_EXTENSION_NAME=spatialsnn_cuda_check",
        "-DTORCH_API_INCLUDE_EXTENSION_H",
        *includes,
        "-o",
        str(tmp_path / "cuda_ops.o"),
        "cuda_ops.cu",
    ]
    proc = _nvcc(args, timeout=900)
    assert proc.returncode == 0, f"nvcc failed:\n{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}"
