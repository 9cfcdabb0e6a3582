#!/usr/bin/env bash
# tools/dist_test.sh CONFIG CHECKPOINT GPUS [args of tools/test.py]: one process per GPU (or per CPU "slot":
# gloo on a machine without CUDA). Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT as mmdet's.
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "usage: $0 CONFIG CHECKPOINT GPUS [tools/test.py args]" >&2
  exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
if ! [[ $GPUS =~ ^[1-9][0-9]*$ ]]; then
  echo "$0: error: GPUS must be a positive number of processes, e.g. $0 ${CONFIG} 2 (got '$GPUS')" >&2
  exit 2
fi
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
[[ -x "$python" ]] || python=python
# every argument checked once, before any process starts (a rank's error would otherwise come
# back wrapped in torchrun's ChildFailedError traceback, once per process)
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" \
  "$python" "$root/tools/test.py" "$CONFIG" "$CHECKPOINT" "$@" --check-args
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" \
  "$python" -m torch.distributed.run \
  --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
  --nproc_per_node="$GPUS" --master_port="$PORT" \
  "$root/tools/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
