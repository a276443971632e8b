"""`seq2latex eval`: ExpRate / <=1 / <=2 / token accuracy / latency of a model directory on a split (the
work: `seq2latex.evaluation`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def open_recognizer(args: argparse.Namespace, **options: Any) -> Any:
    """The Recognizer of `--model` on `--device` with `--threads` CPU threads, for the commands; None
    (the error printed) when the model directory cannot be read. `options` go to
    `Recognizer.from_pretrained`."""
    from seq2latex.evaluation import load_recognizer

    try:
        return load_recognizer(args.model, args.device, args.threads, **options)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def run_eval(args: argparse.Namespace) -> int:
    from seq2latex.evaluation import evaluation_report, write_evaluation

    if args.augment < 0:
        print("error: --augment must be >= 0", file=sys.stderr)
        return 2
    recognizer = open_recognizer(args)
    if recognizer is None:
        return 2
    report, results = evaluation_report(
        recognizer,
        args.data,
        limit=args.limit,
        source=args.source,
        split=args.split,
        beam=args.beam,
        rescore=not args.no_rescore,
        augment=args.augment,
        seed=args.seed,
        paper=args.paper,
    )
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        write_evaluation(Path(args.json), text, results)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="evaluate a model directory on a CROHME split")
    p.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    p.add_argument("--data", required=True, help="offline split, InkML folder, CROHME root or zip")
    p.add_argument("--limit", type=int, default=0, help="evaluate the first N samples (0 = all)")
    p.add_argument("--beam", type=int, default=1, help="beam width (1 = greedy)")
    p.add_argument(
        "--no-rescore",
        action="store_true",
        help="bidirectional model: keep the left-to-right beam (no rescoring with both directions)",
    )
    p.add_argument(
        "--source",
        default=None,
        help="only this source of --data (e.g. offline/2014 inside a CROHME root or zip)",
    )
    p.add_argument("--json", default=None, help="write metrics here (+ <stem>.predictions.jsonl beside it)")
    p.add_argument(
        "--augment",
        type=float,
        default=0.0,
        help="evaluate a photo-like copy of the split: augmentation strength (0 = off, 1 = default photo)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the --augment copy")
    p.add_argument(
        "--paper",
        default="plain",
        choices=["plain", "lined", "squared", "mixed"],
        help="printed lines in the --augment copy (mixed: a third each plain, ruled and squared)",
    )
    p.add_argument(
        "--split",
        default=None,
        help="only the expressions of this split (e.g. crohme_val with --data .../offline/train)",
    )
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch default)")
    p.set_defaults(func=run_eval)


if __name__ == "__main__":  # python -m seq2latex.cli.eval ... (no other sub-command imported)
    parser = argparse.ArgumentParser(prog="python -m seq2latex.cli.eval")
    register(parser.add_subparsers(dest="command", required=True))
    ns = parser.parse_args(["eval", *sys.argv[1:]])
    sys.exit(ns.func(ns))
