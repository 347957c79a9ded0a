#!/usr/bin/env bash
# The GPU check (kdkit issue 34): each torch study's first look with device=cuda beside the
# same look on the CPU of the same machine, and the distillation-overhead bench on CUDA.
# Writes reports/bench/gpu.md: wall times, and every primary claim's estimate and verdict on
# both devices (GPU kernels are not bit-for-bit the CPU's: estimates agree to float
# tolerance, verdicts should agree).
#
#   bench/gpu.sh                 # on a machine with an NVIDIA GPU
#   PYTHON=/path/to/python STUDIES="topology_kd" WORKERS=8 bench/gpu.sh
#
# Needs a Python with kdkit installed and a CUDA build of torch (the .venv of `make` holds the
# CPU wheel: on the GPU machine use `pip install torch==2.13.0` from PyPI, which is the CUDA
# build there, then `pip install -e .` and `pip install --no-deps recbole==1.2.1`).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
STUDIES=${STUDIES:-"topology_kd fisher_layerwise geometric_kd"}
WORKERS=${WORKERS:-8}          # CPU side: one thread per worker
GPU_WORKERS=${GPU_WORKERS:-2}  # jobs sharing the GPU
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MPLBACKEND=Agg
"$PY" - <<'PYEOF'
import sys
import torch
if not torch.cuda.is_available():
    sys.exit("bench/gpu.sh: torch sees no CUDA GPU (torch.cuda.is_available() is False); run "
             f"it on a GPU machine with a CUDA build of torch (this one is {torch.__version__})")
print("GPU:", torch.cuda.get_device_name(0), "torch", torch.__version__)
PYEOF
RUNS=reports/bench/gpu-runs
rm -rf "$RUNS"
mkdir -p "$RUNS/cpu" "$RUNS/cuda"
for study in $STUDIES; do
  for dev in cpu cuda; do
    w=$WORKERS; [ "$dev" = cuda ] && w=$GPU_WORKERS
    start=$EPOCHREALTIME
    if "$PY" -m kdkit.cli run "$study" -p device="$dev" -p cache=false -p workers="$w" \
         --out "$RUNS/$dev" --no-progress > "$RUNS/$dev/$study.log" 2>&1; then
      status=ok
    else
      status=failed
    fi
    end=$EPOCHREALTIME
    echo "$study $dev $status $("$PY" -c "print($end - $start)") $w" >> "$RUNS/times.txt"
  done
done
KDKIT_BENCH_DEVICE=cuda "$PY" bench/kd_overhead.py > "$RUNS/kd_overhead.log" 2>&1 || true
"$PY" bench/gpu_report.py "$RUNS"
