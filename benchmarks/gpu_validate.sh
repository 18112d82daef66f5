#!/usr/bin/env bash
# `spatialsnn validate --device cuda_standalone` on a GPU machine, as one prepared run:
#   1. the environment (GPU, nvcc, Python, brian2/brian2cuda; installed from wheels in
#      $WHEELS when missing -- the lent GPU machines cannot reach PyPI);
#   2. validate MODEL (default: the shipped models/timing-spatial.nc, its 512 test
#      samples) on cuda_standalone: code generation + nvcc + runs, float64, with
#      --json and --report;
#   3. the same on cpp_standalone (jobs = all cores) for comparison;
#   4. the SHD-sized throughput benchmark on cuda_standalone (bench_validate.py).
#
# Usage, from the repository root of a machine with an NVIDIA GPU and nvcc:
#     bash benchmarks/gpu_validate.sh [MODEL] [OUT_DIR]
# Default OUT_DIR: $OUT or benchmarks/out/gpu_validate. Environment: PYTHON (python3),
# WHEELS (.whl), SAMPLES (all), STEP_TIMEOUT seconds per step (540).
#
# Wheels for an offline Python 3.12 machine (brian2cuda 1.0b1 pins brian2 2.10.1), fetched
# beforehand on a machine with network access, in the repository root:
#     echo /.whl/ >> .git/info/exclude
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       -d .whl brian2==2.10.1 brian2cuda==1.0b1 h5netcdf==1.8.2
# (the rest -- numpy, sympy, jinja2, pyparsing, cython, h5py, xarray, torch, tqdm,
# nvidia-curand -- is on the lent image). cuRAND comes from the nvidia-curand wheel;
# spatialsnn.brian2.configure_brian2cuda finds it and forces C++17 for CUDA 13.
#
# Status: prepared, NOT yet run on a GPU -- none was available for this work. Record the
# output in docs/benchmarks-validate.md when it is.
set -uo pipefail

MODEL=${1:-models/timing-spatial.nc}
OUT_DIR=${2:-${OUT:-benchmarks/out/gpu_validate}}
PY=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
STEP_TIMEOUT=${STEP_TIMEOUT:-540}
SAMPLES=${SAMPLES:-}
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
LOG="$OUT_DIR/gpu_validate.log"
: >"$LOG"
# shellcheck source=benchmarks/_steps.sh
source "$(dirname "$0")/_steps.sh"

if ! "$PY" -c 'import brian2cuda, h5netcdf' 2>/dev/null && [ -d "$WHEELS" ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$WHEELS"/*.whl && export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi

step "environment" bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; \
  command -v nvcc && nvcc --version | tail -n 2; nproc; $PY -c 'import sys, numpy, brian2, \
brian2cuda, torch; print(sys.version.split()[0], \"numpy\", numpy.__version__, \"brian2\", \
brian2.__version__, \"brian2cuda\", brian2cuda.__version__, \"torch\", torch.__version__)'"

CLI="-m spatialsnn validate"

samples=""
[ -n "$SAMPLES" ] && samples="--samples $SAMPLES"

# One cuda_standalone build: nvcc takes minutes; --json goes to a file, the report too.
step "validate $MODEL on cuda_standalone" bash -c "'$PY' $CLI '$MODEL' $samples \
  --device cuda_standalone --jobs 1 --json --report '$OUT_DIR/report_cuda.nc' \
  > '$OUT_DIR/validate_cuda.json'; rc=\$?; cat '$OUT_DIR/validate_cuda.json'; exit \$rc"
step "validate $MODEL on cpp_standalone" "$PY" $CLI "$MODEL" $samples \
  --device cpp_standalone --jobs "$(nproc)" --no-progress
step "SHD-sized throughput on cuda_standalone" "$PY" benchmarks/bench_validate.py \
  --configs cuda-b16-s32-j1 standalone-b1-s32-j2 --json "$OUT_DIR/bench_validate_gpu.json"

finish
