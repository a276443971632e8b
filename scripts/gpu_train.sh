#!/usr/bin/env bash
# Train the larger model on one CUDA GPU for MINUTES minutes in all (start-up, training, evaluation),
# from a packed copy of the data, and leave under OUT:
#   OUT/model/        the best model directory (by validation ExpRate on crohme_val; fp16 safetensors)
#   OUT/log.csv       OUT/curves.png       OUT/eval_2014.json (seq2latex eval, greedy, on CROHME 2014)
#
#   python -m data.pack ../shared/crohme runs/gpu_data/crohme_offline.zip     # once, here (~9 MiB)
#   bash scripts/gpu_train.sh OUT MINUTES
#
# Overrides (environment): DATA (default runs/gpu_data/crohme_offline.zip), CONFIG (configs/gpu.yaml),
# DEVICE (cuda), PYTHON (python3), EVAL_SOURCE (offline/2014), TRAIN_ARGS (extra train.py flags),
# EVAL_ARGS (extra eval flags), RESERVE_MIN (minutes kept for start-up and evaluation, default 2.5).
# The CPU dry run (tests/test_gpu_script.py) runs this same script with DEVICE=cpu, a tiny CONFIG and
# the committed fixtures, so the first GPU minute is not spent on bugs.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 OUT MINUTES" >&2
  exit 2
fi
OUT=$1
MINUTES=$2
cd "$(dirname "$0")/.."
DATA=${DATA:-runs/gpu_data/crohme_offline.zip}
CONFIG=${CONFIG:-configs/gpu.yaml}
DEVICE=${DEVICE:-cuda}
PYTHON=${PYTHON:-python3}
EVAL_SOURCE=${EVAL_SOURCE:-offline/2014}
RESERVE_MIN=${RESERVE_MIN:-2.5}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
[ -e "$DATA" ] || { echo "no data at $DATA (python -m data.pack ../shared/crohme $DATA)" >&2; exit 2; }
START=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/seq2latex-gpu.XXXXXX")
mkdir -p "$OUT"
train_min=$("$PYTHON" -c "print(max(0.05, float('$MINUTES') - float('$RESERVE_MIN')))")
echo "+ training for $train_min min on $DEVICE ($CONFIG, $DATA) -> $WORK"
if [ "$DEVICE" = cuda ]; then nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true; fi
# shellcheck disable=SC2086
"$PYTHON" train.py --data "$DATA" --out "$WORK" --config "$CONFIG" --device "$DEVICE" \
  --max-minutes "$train_min" --schedule-minutes "$train_min" --no-progress ${TRAIN_ARGS:-} 2>&1 | tee "$OUT/train.log"
cp "$WORK/log.csv" "$OUT/log.csv"
cp "$WORK/curves.png" "$OUT/curves.png" 2>/dev/null || true
rm -rf "$OUT/model"
cp -r "$WORK/best" "$OUT/model"
echo "+ evaluating on $EVAL_SOURCE"
# shellcheck disable=SC2086
"$PYTHON" -m seq2latex.eval_cli --model "$OUT/model" --data "$DATA" --source "$EVAL_SOURCE" \
  --device "$DEVICE" --json "$WORK/eval.json" ${EVAL_ARGS:-} > /dev/null
cp "$WORK/eval.json" "$OUT/eval_2014.json"
rm "$OUT/train.log"
END=$(date +%s)
echo "+ done in $((END - START)) s; $OUT: model/ log.csv curves.png eval_2014.json"
cat "$OUT/eval_2014.json"
