#!/usr/bin/env bash
# Multi-process testing with torchrun (each process evaluates its share of the test set; the metrics
# are gathered across processes):
#   tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [mmseg test.py args...]
# On CPU, add `--cfg-options env_cfg.dist_cfg.backend=gloo`.
set -eu
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
DIR=$(dirname "$(readlink -f "$0")")
PYTHONPATH="$DIR/..:${PYTHONPATH:-}" \
python -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
  --nproc_per_node="$NPROC" --master_port="$PORT" "$DIR/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
