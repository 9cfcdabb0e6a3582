#!/usr/bin/env bash
# tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [args of tools/train.py]
# One training over GPUS processes on a Slurm cluster, as mmdet's script starts it: srun runs
# one tools/train.py per GPU with --launcher slurm (mmengine reads the ranks from Slurm).
#   GPUS (8)  GPUS_PER_NODE (8)  CPUS_PER_TASK (5)  SRUN_ARGS (extra srun options, e.g. --quotatype=auto)
set -euo pipefail
if [[ $# -lt 4 ]]; then
  echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py args]" >&2
  exit 2
fi
exec bash "$(dirname "$0")/slurm_launch.sh" "$0" "$1" "$2" train.py "$3" --work-dir "$4" \
  --launcher slurm "${@:5}"
