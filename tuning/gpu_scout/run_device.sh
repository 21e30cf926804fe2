#!/usr/bin/env bash
# The one device call: check the port, a short smoke (timing of a K=32
# group alone, then the split-D, R1/instance-noise and batch-200 paths),
# pick the largest sweep plan that fits, run it, pack its samples into $OUT.
# Usage (repo root, on the GPU machine): bash tuning/gpu_scout/run_device.sh [END_SECONDS]
set -u
export PYTHONUNBUFFERED=1
END=${1:-530}          # the whole script should be over by then
S=$(date +%s)
T=tuning/gpu_scout/torch_gan.py
PY=python3
nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm --format=csv,noheader
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
$PY $T check || { echo "CHECK FAILED: stopping"; exit 3; }
echo "== smoke K=32 alone, at $(( $(date +%s) - S ))s"
SCOUT_WORK=/tmp/smoke $PY $T sweep --plan smoke --only smoke_k32 --out /tmp/smoke_out1 --deadline 120 | grep -v '^\[sweep [0-9]'
echo "== smoke other paths, at $(( $(date +%s) - S ))s"
SCOUT_WORK=/tmp/smoke $PY $T sweep --plan smoke --only smoke_seed,smoke_r1,smoke_b200 --out /tmp/smoke_out2 --deadline 100 | grep -v '^\[sweep [0-9]'
grep -h -E "ms/step|ckpt|done" /tmp/smoke/logs/*.log
if grep -l Traceback /tmp/smoke/logs/*.log; then
  echo "SMOKE FAILED:"; cat /tmp/smoke/logs/*.log | tail -60; exit 4
fi
EL=$(( $(date +%s) - S ))
REM=$(( END - EL ))
PLAN=$(SCOUT_WORK=/tmp/smoke $PY $T choose --deadline $(( REM - 60 )))
echo "== main sweep: plan $PLAN, $REM s left at $EL s"
$PY $T sweep --plan "$PLAN" --out "$OUT" --deadline $(( REM - 50 ))
echo "== finished at $(( $(date +%s) - S ))s"
ls -la "$OUT"
