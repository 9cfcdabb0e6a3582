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
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
for name in GPUS GPUS_PER_NODE CPUS_PER_TASK; do
  if ! [[ ${!name} =~ ^[1-9][0-9]*$ ]]; then
    echo "$0: error: $name must be a positive number, got '${!name}'" >&2
    exit 2
  fi
done
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python}"
# shellcheck disable=SC2086  # SRUN_ARGS is a list of options
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" \
  srun -p "$PARTITION" --job-name="$JOB_NAME" --gres=gpu:"$GPUS_PER_NODE" --ntasks="$GPUS" \
  --ntasks-per-node="$GPUS_PER_NODE" --cpus-per-task="$CPUS_PER_TASK" --kill-on-bad-exit=1 \
  $SRUN_ARGS \
  "$python" -u "$root/tools/train.py" "$CONFIG" --work-dir "$WORK_DIR" --launcher slurm "$@"
