#!/usr/bin/env bash
# Multi-process training with torchrun (mmengine's native DDP):
#   tools/dist_train.sh CONFIG NUM_PROCS [mmseg train.py args...]
# On CPU, add `--cfg-options env_cfg.dist_cfg.backend=gloo`.
set -eu
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
DIR=$(dirname "$(readlink -f "$0")")
PYTHONPATH="$DIR/..:${PYTHONPATH:-}" \
python -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
  --nproc_per_node="$NPROC" --master_port="$PORT" "$DIR/train.py" "$CONFIG" --launcher pytorch "${@:3}"
