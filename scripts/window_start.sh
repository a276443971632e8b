# The start every GPU window shares (sourced by scripts/gpu_train.sh and scripts/gpu_study.sh, which set
# their own START_S, RESERVE_S and EVAL_S defaults first): the environment's defaults, the log of the whole
# call in OUT/run.log, the data check, and TRAIN_MIN from what the window leaves after start-up and the
# reserve; NEEDS (space-separated paths) must exist too. Leaves OUT, DATA, DEVICE, PYTHON, WINDOW_S,
# PART_MIB, START (epoch seconds) and TRAIN_MIN set.
OUT=${1:-${OUT:?give OUT as the first argument or in the environment}}
DATA=${DATA:-runs/gpu_data/crohme_offline.zip}
DEVICE=${DEVICE:-cuda}
PYTHON=${PYTHON:-python3}
WINDOW_S=${WINDOW_S:-570}
PART_MIB=${PART_MIB:-15}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"
exec > >(tee "$OUT/run.log") 2>&1
START=$(date +%s)
[ -e "$DATA" ] || { echo "no data at $DATA (python -m data.pack ../shared/crohme $DATA)"; exit 2; }
for need in ${NEEDS:-}; do  # the other files the window's configs read (docs/gpu.md says how to make them)
  [ -e "$need" ] || { echo "missing $need: see docs/gpu.md, the files a window needs"; exit 2; }
done
TRAIN_MIN=${TRAIN_MIN:-$("$PYTHON" -c "print(round(max(0.2, ($WINDOW_S - $START_S - $RESERVE_S) / 60), 2))")}
