"""`seq2latex bench train`: the real training step of a config on this machine, as JSON (the work, and
what is timed and counted: `seq2latex.training.bench`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PATHS = ("loader", "resident")  # seq2latex.training.bench.PATHS (imported there with torch: not for --help)


def _run_train(args: argparse.Namespace) -> int:
    from seq2latex.training.bench import bench_train

    report = bench_train(
        args.config,
        args.data,
        args.steps,
        args.threads,
        args.device,
        args.batch_size,
        args.limit_train,
        tuple(args.paths),
    )
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="benchmarks that print JSON")
    sub = p.add_subparsers(dest="bench", required=True)
    t = sub.add_parser("train", help="samples/s and ms per step of a training config on this machine")
    t.add_argument(
        "--config", type=Path, default=None, help="train.py YAML config (default: built-in defaults)"
    )
    t.add_argument("--data", type=Path, required=True, help="CROHME root (as train.py --data)")
    t.add_argument("--steps", type=int, default=20, help="timed steps (after 3 warm-up steps)")
    t.add_argument("--threads", type=int, default=0, help="CPU threads (0 = all cores)")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--limit-train", type=int, default=2000, help="training records loaded (startup only)")
    t.add_argument(
        "--paths",
        nargs="+",
        choices=list(PATHS),
        default=list(PATHS),
        help="data paths to time (default both)",
    )
    t.add_argument("--json", type=Path, default=None, help="also write the report here")
    t.set_defaults(func=_run_train)


if __name__ == "__main__":  # python -m seq2latex.cli.bench train ...
    parser = argparse.ArgumentParser(prog="python -m seq2latex.cli.bench")
    register(parser.add_subparsers(dest="command", required=True))
    ns = parser.parse_args(["bench", *sys.argv[1:]])
    sys.exit(ns.func(ns))
