#!/usr/bin/env bash
# The GPU checks of mmcoc, in one run of a few minutes on one GPU (< 8 min on an H200/A100):
#   1. the test suite's CUDA-marked tests (tests/deployment/test_cuda.py): fp16 AMP training
#      steps of the demo detector (Mask R-CNN) and segmentor (Semantic FPN) with finite losses;
#      the clustering ops' (and tiny backbones') CUDA forward and backward against the CPU;
#      and the Triton kernels' tests (tests/models/layers/test_fused_clustering.py) compiled;
#   2. the throughput table: images/s at 224, batch 256, fp32 and bf16, eager and compiled,
#      every CoC variant, FEC-small, SecViT-T, timm's PoolFormer-S24 and ResNet-50; CoC and
#      FEC also with the clustering op's Triton kernels off (fp32 eager), their A/B.
# Everything it prints is also written to $OUT_DIR (default work_dirs/gpu_check).
#
#   bash tools/analysis_tools/gpu_check.sh             # on a machine with CUDA
#   bash tools/analysis_tools/gpu_check.sh --dry-run   # on the CPU: the same steps, tiny sizes
#
# PYTHON (default .venv/bin/python, else python) runs it; CUDA_VISIBLE_DEVICES picks the GPU.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
dry_run=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) dry_run=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument $arg (only --dry-run)" >&2; exit 2 ;;
    esac
done
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python; fi
fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
out_dir="${OUT_DIR:-work_dirs/gpu_check}"
mkdir -p "$out_dir"
log="$out_dir/gpu_check_$(date -u +%Y%m%dT%H%M%SZ).md"

if [[ $dry_run == 1 ]]; then
    device=cpu
    echo "# gpu_check DRY RUN on the CPU ($(date -u '+%Y-%m-%d %H:%M UTC'))" | tee "$log"
else
    if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
        echo "gpu_check.sh: CUDA is not available here (torch sees no GPU); use --dry-run" >&2
        exit 1
    fi
    device=cuda
    echo "# gpu_check ($(date -u '+%Y-%m-%d %H:%M UTC'))" | tee "$log"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null \
        | sed 's/^/GPU: /' | tee -a "$log" || true
fi
"$PYTHON" -c 'import torch; print(f"torch {torch.__version__}, CUDA {torch.version.cuda}")' \
    | tee -a "$log"

echo -e "\n## 1. CUDA-marked tests\n" | tee -a "$log"
start=$SECONDS
if [[ $dry_run == 1 ]]; then
    # on the CPU they are collected and skipped: checks that they import and are marked
    "$PYTHON" -m pytest -q -p no:cacheprovider -m cuda tests/deployment/test_cuda.py \
        2>&1 | tail -n 3 | tee -a "$log"
else
    "$PYTHON" -m pytest -q -p no:cacheprovider -m 'cuda or triton' -rs 2>&1 | tail -n 25 \
        | tee -a "$log"
    status=${PIPESTATUS[0]}
    if [[ $status != 0 ]]; then echo "CUDA tests failed (exit $status)" | tee -a "$log"; fi
fi
echo "(${SECONDS}s so far, tests $((SECONDS - start))s)" | tee -a "$log"

echo -e "\n## 2. Throughput\n" | tee -a "$log"
extra=()
if [[ $dry_run == 1 ]]; then extra=(--dry-run); fi
"$PYTHON" -m mmcoc.deployment.throughput --device "$device" "${extra[@]}" 2>&1 \
    | grep -v -i 'warning' | tee -a "$log"
echo -e "\ntotal ${SECONDS}s; written to $log" | tee -a "$log"
if [[ ${status:-0} != 0 ]]; then exit "$status"; fi
