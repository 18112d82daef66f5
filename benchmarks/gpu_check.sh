#!/usr/bin/env bash
# GPU check of spatialsnn's CUDA delay kernels, as one prepared run:
#   1. the environment (GPU, nvcc, torch) and `spatialsnn doctor`'s report;
#   2. the CUDA tests (pytest -m cuda), which compile the CUDA extension on first use;
#   3. the kernel benchmarks on CUDA (recurrent layer vs reference/autograd on the GPU,
#      delayed_linear vs the dense-conv baseline) and one epoch of the paper's SHD
#      configuration on random data of SHD's shape (8156 samples, 700 inputs, 128 hidden,
#      T = 1000, batch 256, delays up to 1000 steps), timed;
#   4. if benchmarks/shd_epoch.py exists, the model-level epoch through SpatialSNN too.
#
# Usage, from the repository root of a machine with an NVIDIA GPU, nvcc and a CUDA build
# of torch (the package need not be installed; PYTHONPATH is set here):
#     bash benchmarks/gpu_check.sh [OUT_DIR]          # default OUT_DIR: $OUT or benchmarks/out/gpu_check
# Environment: PYTHON (default python3), STEP_TIMEOUT seconds per step (default 540).
# Everything is logged to OUT_DIR/gpu_check.log; the benchmark report is OUT_DIR/bench_cuda.md.
# Exit status: non-zero if any step failed. Record the output in docs/benchmarks-kernels.md.
set -uo pipefail

OUT_DIR=${1:-${OUT:-benchmarks/out/gpu_check}}
PY=${PYTHON:-python3}
STEP_TIMEOUT=${STEP_TIMEOUT:-540}
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export SPATIALSNN_CACHE_DIR=${SPATIALSNN_CACHE_DIR:-$PWD/benchmarks/out/kernel-cache}
LOG="$OUT_DIR/gpu_check.log"
: >"$LOG"
# shellcheck source=benchmarks/_steps.sh
source "$(dirname "$0")/_steps.sh"

step "environment" bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; \
  command -v nvcc && nvcc --version | tail -n 2; $PY -c 'import sys, torch; \
print(sys.version.split()[0], torch.__version__, torch.version.cuda, torch.cuda.is_available())'"

step "doctor (builds the CUDA kernel)" "$PY" -c "
import time
from spatialsnn.commands import doctor
t0 = time.perf_counter()
report = doctor.collect(build=True)
print(doctor.format_report(report))
print(f'doctor (including the kernel builds) took {time.perf_counter() - t0:.1f} s')
raise SystemExit(0 if report['ok'] else 1)
"

step "pytest -m cuda" "$PY" -m pytest -q -rs -p no:cacheprovider -m cuda tests

step "kernel benchmarks on CUDA + SHD epoch" "$PY" benchmarks/bench_kernels.py --device cuda \
  --shd-epoch --markdown "$OUT_DIR/bench_cuda.md" --json "$OUT_DIR/bench_cuda.json"

if [ -f benchmarks/shd_epoch.py ]; then
  step "model-level SHD epoch (benchmarks/shd_epoch.py)" "$PY" benchmarks/shd_epoch.py \
    --device cuda --backend auto --json "$OUT_DIR/shd_epoch_model.json"
fi

finish "report: $OUT_DIR/bench_cuda.md"
