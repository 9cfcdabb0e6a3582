#!/usr/bin/env bash
# tools/dist_train.sh CONFIG GPUS [args of tools/train.py]: one process per GPU (or per CPU "slot":
# gloo on a machine without CUDA). Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT as mmdet's.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 CONFIG GPUS [tools/train.py args]" >&2
  exit 2
fi
CONFIG=$1
GPUS=$2
shift 2
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
  "$python" "$root/tools/train.py" "$CONFIG" "$@" --check-args
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" \
  "$python" -m torch.distributed.run \
  --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
  --nproc_per_node="$GPUS" --master_port="$PORT" \
  "$root/tools/train.py" "$CONFIG" --launcher pytorch "$@"
