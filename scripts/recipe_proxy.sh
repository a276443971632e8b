#!/usr/bin/env bash
# The recipe study's CPU proxy: one arm for BUDGET training CPU-minutes (default 8) on one thread, the
# cosine over the same CPU-minutes, validated once at the end on crohme_val (ExpRate and the
# teacher-forced loss); CROHME 2014/2016 are never read. Every arm gets the same CPU settings below;
# the arm's own config and overrides come after them:
#   bash scripts/recipe_proxy.sh CONFIG OUT [train.py flags: --init DIR --init-scope all, --set K=V, --model-set K=V]
set -euo pipefail
CONFIG=$1 OUT=$2
shift 2
cd "$(dirname "$0")/.."
BUDGET=${BUDGET:-8}
DATA=${DATA:-../shared/crohme}
PYTHON=${PYTHON:-python3}
exec "$PYTHON" train.py --data "$DATA" --out "$OUT" --config "$CONFIG" --device cpu --threads 1 --no-progress \
  --max-cpu-minutes "$BUDGET" --schedule-cpu-minutes "$BUDGET" \
  --set batch_size=32 --set warmup_steps=20 --set data_path=resident --set synth_stream=0 --set synth_ratio=0 \
  --set val_every=1000000000 --set val_every_cpu_minutes=0 --set limit_val=0 --set val_max_seconds=0 \
  --set smoke_seconds=0 --set preprocess_workers=1 --set log_rows_every=5 --set log_every=1 --set val_batch=32 \
  --set ckpt_minutes=1000 --set val_raw=false "$@"
