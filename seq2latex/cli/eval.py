"""`seq2latex eval`: ExpRate / <=1 / <=2 / token accuracy / latency of a model directory on a split."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def predictions_path(json_path: Path) -> Path:
    """The per-sample predictions file written beside the metrics JSON."""
    return json_path.with_name(json_path.stem + ".predictions.jsonl")


def open_recognizer(args: argparse.Namespace, **options: Any) -> Any:
    """The Recognizer of `--model` on `--device` (auto: CUDA when there is one) with `--threads` CPU
    threads, for the CLI commands; None (the error printed) when the model directory cannot be read.
    `options` go to `Recognizer.from_pretrained`."""
    import torch

    from seq2latex.recognizer import Recognizer

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    try:
        return Recognizer.from_pretrained(args.model, device=device, **options)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def run_eval(args: argparse.Namespace) -> int:
    from seq2latex.evaluation import augment_samples, evaluate, iter_eval_samples, results_as_dicts

    if args.augment < 0:
        print("error: --augment must be >= 0", file=sys.stderr)
        return 2
    recognizer = open_recognizer(args)
    if recognizer is None:
        return 2
    names = None
    if args.split:
        from data.splits import load_split

        names = load_split(args.split)
    samples = iter_eval_samples(args.data, limit=args.limit, source=args.source, names=names)
    if args.augment > 0:
        samples = augment_samples(samples, args.augment, args.seed, paper=args.paper)
    metrics, results = evaluate(recognizer, samples, beam=args.beam, rescore=not args.no_rescore)
    report: dict[str, object] = dict(metrics)
    report["model"] = f"{recognizer.card.get('name', '?')} {recognizer.card.get('version', '')}".strip()
    report["beam"] = args.beam
    report["split"] = args.split
    report["bidirectional_rescoring"] = bool(
        recognizer.config.bidirectional and args.beam > 1 and not args.no_rescore
    )
    report["augment"] = (
        {"strength": args.augment, "seed": args.seed, "paper": args.paper} if args.augment > 0 else None
    )
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
        with predictions_path(out).open("w") as f:
            for row in results_as_dicts(results):
                f.write(json.dumps(row) + "\n")
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
