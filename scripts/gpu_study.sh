#!/usr/bin/env bash
# One GPU window that trains several recipes side by side (seq2latex/training/study.py): one train.py
# process per arm on the one GPU, each on its own CPU cores with its own synthesizer workers writing
# fresh expressions from the glyph bank, all on the same clock; then every arm's EMA evaluated on
# crohme_val and school_val, the best arm (by crohme_val) packed as the window's model. Leaves in OUT
# (default $OUT) at most 8 files of at most 16 MiB:
#   study.json  curves.png  eval.json  model-fp16.tar  ema-fp32.tar.part0..N  run.log
# (`python -m seq2latex.cli.window unpack OUT DEST` turns them back into model directories).
#
# The files it needs (made here once; see docs/gpu.md):
#   python -m data.pack ../shared/crohme runs/gpu_data/crohme_offline.zip --add school_val=runs/synth/school_val
#   python -m data.synth bank ../shared/crohme/inkml/train runs/gpu_data/glyphs_train.npz
#   python -m data.synth symbols runs/gpu_data/glyphs_train.npz runs/gpu_data/symbols_train.npz --workers 2
#   python -m data.synth bank ../shared/crohme/inkml/train runs/synth/glyphs_heldout.pkl --split heldout
#   python -m data.synth symbols runs/synth/glyphs_heldout.pkl runs/gpu_data/symbols_val.npz --per-class 40
#   bash scripts/gpu_study.sh          (on the GPU machine, with runs/gpu_data carried along)
#
# Time: the whole call stays within WINDOW_S seconds (default 570). Training gets what is left after
# START_S (imports, data, the initial synthetic set) and RESERVE_S (every arm's evaluation, packing).
# The evaluations keep to the time the window has left: every arm's crohme_val and study.json first,
# then the best arm packed, then school_val and the test sets while time remains (study.json's "skipped").
# Overrides (environment): SPEC (configs/windows/recipes1.yaml), DATA (runs/gpu_data/crohme_offline.zip),
# NEEDS (the files the arms' configs read: the glyph bank and the symbol crops), DEVICE (cuda), PYTHON
# (python3), WINDOW_S (570), START_S (75), RESERVE_S (120), TRAIN_MIN (training
# minutes; default from the three above), EVAL_S (time box per evaluated set, 15), PART_MIB (15),
# ARM_SET (train overrides for every arm, KEY=VALUE separated by spaces: a dry run's smaller data).
# The CPU dry run (tests/test_gpu_study.py) runs this same script with DEVICE=cpu and two tiny arms.
set -euo pipefail
cd "$(dirname "$0")/.."
SPEC=${SPEC:-configs/windows/recipes1.yaml}
NEEDS=${NEEDS-runs/gpu_data/glyphs_train.npz runs/gpu_data/symbols_train.npz runs/gpu_data/symbols_val.npz}
START_S=${START_S:-75}
RESERVE_S=${RESERVE_S:-120}
EVAL_S=${EVAL_S:-15}
# shellcheck source=scripts/window_start.sh
. scripts/window_start.sh "$@"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/seq2latex-study.XXXXXX")
echo "+ study window: ${WINDOW_S} s in all, ${TRAIN_MIN} training minutes on $DEVICE ($SPEC, $DATA) -> $WORK"
if [ "$DEVICE" = cuda ]; then nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader || true; fi
arm_set=()
for kv in ${ARM_SET:-}; do arm_set+=(--set "$kv"); done
set +e
"$PYTHON" -m seq2latex.cli.window study --spec "$SPEC" --data "$DATA" --out "$OUT" --work "$WORK" \
  --device "$DEVICE" --train-minutes "$TRAIN_MIN" --eval-seconds "$EVAL_S" --part-mib "$PART_MIB" "${arm_set[@]}" \
  --seconds-left "$(( WINDOW_S - ($(date +%s) - START) ))"
rc=$?
set -e
echo "+ study done in $(( $(date +%s) - START )) s (budget ${WINDOW_S} s), exit $rc"
"$PYTHON" -m seq2latex.cli.window check "$OUT"
exit $rc
