#!/usr/bin/env bash
# One GPU window in one command: train for what the window leaves, evaluate on the GPU, and leave in
# OUT (default $OUT, the folder that comes back from the GPU machine) at most 8 files of at most 16 MiB:
#   model-fp16.tar  ema-fp32.tar.part0..N  log.csv  curves.png  eval.json  run.log
# (seq2latex/cli/window.py says what each holds; `python -m seq2latex.cli.window unpack FILES DEST`
# turns them back into model directories here).
#
#   python -m data.pack ../shared/crohme runs/gpu_data/crohme_offline.zip      # once, here (~9 MiB)
#   bash scripts/gpu_train.sh          (on the GPU machine, with runs/gpu_data beside the repository)
#
# Time: the whole call stays within WINDOW_S seconds (default 570). Training gets what is left after
# START_S (imports, packing the data on the GPU) and RESERVE_S (final validation, evaluation, packing).
# The first SMOKE seconds of training (configs/gpu.yaml: smoke_seconds) print samples/s and memory; a
# throughput far below target stops the run at once with a diagnosis (exit 3), leaving time to retry.
#
# Overrides (environment): DATA (runs/gpu_data/crohme_offline.zip), CONFIG (configs/gpu.yaml), DEVICE
# (cuda), PYTHON (python3), WINDOW_S (570), START_S (40), RESERVE_S (75), TRAIN_MIN (training minutes;
# default from the three above), INIT (a model directory to continue from, e.g. the last window's
# ema-fp32/), TRAIN_ARGS (extra train.py flags), EVAL_S (time box per evaluated set, 20), PART_MIB (15).
# The CPU dry run (tests/test_gpu_script.py) runs this same script with DEVICE=cpu and a tiny config.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-configs/gpu.yaml}
START_S=${START_S:-40}
RESERVE_S=${RESERVE_S:-75}
EVAL_S=${EVAL_S:-20}
# shellcheck source=scripts/window_start.sh
. scripts/window_start.sh "$@"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/seq2latex-window.XXXXXX")
echo "+ window: ${WINDOW_S} s in all, ${TRAIN_MIN} training minutes on $DEVICE ($CONFIG, $DATA) -> $WORK"
if [ "$DEVICE" = cuda ]; then nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true; fi
init_args=()
if [ -n "${INIT:-}" ]; then init_args=(--init "$INIT" --init-scope all); fi
set +e
# shellcheck disable=SC2086
"$PYTHON" train.py --data "$DATA" --out "$WORK" --config "$CONFIG" --device "$DEVICE" \
  --max-minutes "$TRAIN_MIN" --schedule-minutes "$TRAIN_MIN" --no-progress "${init_args[@]}" ${TRAIN_ARGS:-}
rc=$?
set -e
if [ $rc -ne 0 ]; then
  echo "+ train.py exited with $rc after $(( $(date +%s) - START )) s (3: the smoke check stopped it; see above)"
  cp "$WORK/log.csv" "$OUT/log.csv" 2>/dev/null || true
  exit $rc
fi
echo "+ trained in $(( $(date +%s) - START )) s; evaluating and packing"
"$PYTHON" -m seq2latex.cli.window finish --run "$WORK" --data "$DATA" --out "$OUT" --device "$DEVICE" \
  --eval-seconds "$EVAL_S" --part-mib "$PART_MIB"
echo "+ done in $(( $(date +%s) - START )) s (budget ${WINDOW_S} s)"
"$PYTHON" -m seq2latex.cli.window check "$OUT"
