#!/usr/bin/env bash
# What tools/slurm_train.sh and tools/slurm_test.sh share: slurm_launch.sh CALLER PARTITION
# JOB_NAME TOOL [tool args, --launcher slurm among them]. srun starts GPUS processes of tools/TOOL
# (mmengine reads the ranks from Slurm), as mmdet's scripts do.
#   GPUS (8)  GPUS_PER_NODE (8, or GPUS when fewer)  CPUS_PER_TASK (5)  SRUN_ARGS (extra options)
set -euo pipefail
CALLER=$1
PARTITION=$2
JOB_NAME=$3
TOOL=$4
shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
for name in GPUS GPUS_PER_NODE CPUS_PER_TASK; do
  if ! [[ ${!name} =~ ^[1-9][0-9]*$ ]]; then
    echo "$CALLER: error: $name must be a positive number, got '${!name}'" >&2
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
  "$python" -u "$root/tools/$TOOL" "$@"
