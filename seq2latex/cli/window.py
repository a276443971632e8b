"""The commands of a GPU window (`scripts/gpu_train.sh`, `scripts/gpu_study.sh`): evaluate a run's model
on the GPU and pack what must come back in OUT (at most 8 files of at most 16 MiB, flat), or train a
study's arms side by side (seq2latex.training.study); the work is in seq2latex.training.window.

    python -m seq2latex.cli.window finish --run WORK --data ZIP --out OUT [--device cuda]
    python -m seq2latex.cli.window study --spec configs/study/X.yaml --data ZIP --out OUT --work DIR
        --train-minutes M [--device cuda]      (study.json, curves.png, eval.json, model-fp16.tar, ...)
    python -m seq2latex.cli.window bench-study --spec ... --data ZIP --work DIR --k 1,2,4 --seconds 60

Leaves in OUT:
    model-fp16.tar          the run's best/ (EMA weights, chosen on crohme_val) as an fp16 model directory
    ema-fp32.tar.partN      the last EMA weights in fp32 as a model directory, tarred and cut into parts
                            (`cat ema-fp32.tar.part* | tar x` gives ema-fp32/: a later window's --init)
    log.csv, curves.png     the training log and its curves
    eval.json               batched greedy ExpRate on crohme_val, CROHME 2014 and 2016 (as found in --data)
run.log, written by the script beside them, makes the set complete. `check_out` verifies the limits.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from seq2latex.training.window import PART_MIB, check_out, finish, unpack


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m seq2latex.cli.window", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("finish", help="evaluate a window's run and pack its results for $OUT")
    f.add_argument("--run", type=Path, required=True, help="train.py's output folder")
    f.add_argument("--data", type=Path, required=True, help="the data the run read (zip or CROHME root)")
    f.add_argument("--out", type=Path, required=True)
    f.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    f.add_argument("--eval-seconds", type=float, default=60.0, help="time box of each evaluated set")
    f.add_argument("--part-mib", type=float, default=PART_MIB, help="size of the fp32 weights' parts")
    c = sub.add_parser("check", help="does a folder fit the device tool's limits? (exit 1 if not)")
    c.add_argument("out", type=Path)
    st = sub.add_parser(
        "study", help="train a study's arms side by side, evaluate, pack the best (study.json)"
    )
    st.add_argument("--spec", type=Path, required=True, help="a study YAML (configs/study/*.yaml)")
    st.add_argument("--data", type=Path, required=True)
    st.add_argument("--out", type=Path, required=True, help="what comes back (at most 8 files)")
    st.add_argument("--work", type=Path, required=True, help="the arms' runs (not brought back)")
    st.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    st.add_argument("--train-minutes", type=float, required=True)
    st.add_argument("--eval-seconds", type=float, default=20.0, help="time box of each evaluated set")
    st.add_argument("--part-mib", type=float, default=PART_MIB, help="size of the fp32 weights' parts")
    st.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a train override for every arm"
    )
    st.add_argument(
        "--seconds-left",
        type=float,
        default=None,
        help="the window's time from now (the evaluations keep to it)",
    )
    sb = sub.add_parser("bench-study", help="samples/s of the study's first arm run K times at once (JSON)")
    sb.add_argument("--spec", type=Path, required=True)
    sb.add_argument("--data", type=Path, required=True)
    sb.add_argument("--work", type=Path, required=True)
    sb.add_argument("--k", default="1,2,4", help="comma-separated K values")
    sb.add_argument("--seconds", type=float, default=60.0, help="training seconds of each K")
    sb.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    sb.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    u = sub.add_parser("unpack", help="model directories from a fetched window's files")
    u.add_argument("files", type=Path)
    u.add_argument("dest", type=Path)
    args = p.parse_args(argv)
    if args.command == "finish":
        result = finish(args.run, args.data, args.out, args.device, args.eval_seconds, args.part_mib)
        print(
            json.dumps(
                {k: v for k, v in result["eval"].items() if k.startswith(("crohme", "school"))}, indent=None
            )
        )
        return 0
    if args.command in ("study", "bench-study"):
        from seq2latex.training.study import StudyConfig, bench_study, run_study

        cfg = StudyConfig.load(args.spec)
        if args.command == "study":
            report = run_study(cfg, args.data, args.out, args.work, args.device, args.train_minutes,
                               args.eval_seconds, args.part_mib, extra_set=args.set,
                               seconds_left=args.seconds_left)  # fmt: skip
            keys = (
                "device",
                "arms",
                "aggregate_samples_per_s",
                "distinct_expressions",
                "best_arm",
                "ranking",
            )
            print(json.dumps({k: report[k] for k in keys}))
            return 0 if report["best_arm"] is not None else 1
        ks = [int(k) for k in args.k.split(",") if k.strip()]
        result = bench_study(cfg, args.data, args.work, ks, args.seconds, args.device)
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result))
        return 0
    if args.command == "check":
        problems = check_out(args.out)
        for p_ in sorted(args.out.rglob("*")):
            if p_.is_file():
                print(f"{p_.stat().st_size / 2**20:8.2f} MiB  {p_.relative_to(args.out)}")
        for problem in problems:
            print(f"over the limits: {problem}", file=sys.stderr)
        return 1 if problems else 0
    found = unpack(args.files, args.dest)
    print(json.dumps({k: str(v) for k, v in found.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
