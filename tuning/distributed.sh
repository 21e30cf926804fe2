#!/usr/bin/env bash
# A distributed search with keras-tuner's chief/worker mode on one machine:
# the chief serves the oracle, N workers train trials in parallel.
#
#   tuning/distributed.sh N [tune options...]
#   tuning/distributed.sh 2 --data mnist.npz --max-trials 12 --directory runs/tuning
#
# On several machines run the same command on each, with KERASTUNER_TUNER_ID
# "chief" on one and tuner0, tuner1, ... on the others, KERASTUNER_ORACLE_IP
# the chief's address and a shared --directory (a network file system): the
# workers write trial checkpoints there and the chief writes the report.
set -euo pipefail
workers=${1:?usage: $0 N_WORKERS [tune options...]}
shift
export KERASTUNER_ORACLE_IP=${KERASTUNER_ORACLE_IP:-127.0.0.1}
export KERASTUNER_ORACLE_PORT=${KERASTUNER_ORACLE_PORT:-8000}
run() { KERASTUNER_TUNER_ID=$1 python -m keras_mnist_gan tune "${@:2}"; }
run chief "$@" &
pids=($!)
sleep 3  # the oracle listens before workers ask it for trials
for ((i = 0; i < workers; i++)); do
  run "tuner$i" "$@" > "tuner$i.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit $status
