#!/usr/bin/env bash
# tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [args of tools/test.py]
# Evaluate CHECKPOINT over GPUS processes on a Slurm cluster, as mmdet's script does.
#   GPUS (8)  GPUS_PER_NODE (8)  CPUS_PER_TASK (5)  SRUN_ARGS (extra srun options)
set -euo pipefail
if [[ $# -lt 4 ]]; then
  echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py args]" >&2
  exit 2
fi
exec bash "$(dirname "$0")/slurm_launch.sh" "$0" "$1" "$2" test.py "$3" "$4" \
  --launcher slurm "${@:5}"
