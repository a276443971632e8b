"""`seq2latex eval-symbols` and `seq2latex calibrate-symbols`: the symbol classifier on CROHME traceGroups."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from seq2latex.recognizer import Recognizer


def _load(args: argparse.Namespace) -> Recognizer | None:
    from seq2latex.cli.eval import open_recognizer

    options = {"symbol_view_angles": ()} if args.single_view else {}
    recognizer = open_recognizer(args, **options)
    if recognizer is None:
        return None
    recognizer = recognizer.symbol_reader  # the model directory's `symbols/` model when it ships one
    if recognizer.model.symbol_head is None or not recognizer.classes:
        print("error: this model has no symbol classifier", file=sys.stderr)
        return None
    return recognizer


def _model_name(recognizer: Recognizer) -> str:
    return f"{recognizer.card.get('name', '?')} {recognizer.card.get('version', '')}".strip()


def _write(path: str | None, text: str) -> None:
    if path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")


def run_eval_symbols(args: argparse.Namespace) -> int:
    from seq2latex.symbol_eval import confusion_image, read_inkml, score_symbols, symbol_metrics

    if not Path(args.data).exists():
        print(f"error: {args.data} does not exist", file=sys.stderr)
        return 2
    if args.temperature is not None and not args.temperature > 0:
        print("error: --temperature must be > 0", file=sys.stderr)
        return 2
    recognizer = _load(args)
    if recognizer is None:
        return 2
    start = time.perf_counter()
    records = read_inkml(args.data)
    if not any(r.symbols for r in records):
        print(f"error: no InkML traceGroups under {args.data}", file=sys.stderr)
        return 2
    scores = score_symbols(recognizer, records, limit=args.limit)
    temperature = recognizer.symbol_temperature if args.temperature is None else args.temperature
    report: dict[str, Any] = {
        "model": _model_name(recognizer),
        "data": str(args.data),
        "views": recognizer.symbol_views_per_image,
    }
    report |= symbol_metrics(scores, recognizer.classes, temperature)
    report["calibration"] = recognizer.card.get("symbol_calibration")
    report["seconds"] = round(time.perf_counter() - start, 1)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    _write(args.json, text)
    if args.confusion:
        out = Path(args.confusion)
        out.parent.mkdir(parents=True, exist_ok=True)
        confusion_image(scores, recognizer.classes, temperature).save(out)
    return 0


def _train_folder(root: Path) -> Path:
    """`<root>/inkml/train`, `<root>/train`, or `root` itself (the folder holding the source folders)."""
    for cand in (root / "inkml" / "train", root / "train"):
        if cand.is_dir():
            return cand
    return root


def run_calibrate_symbols(args: argparse.Namespace) -> int:
    from data.splits import load_split, partition
    from seq2latex.calibration import (
        CALIBRATION_KEY,
        ECE_BINS,
        ece_of_logits,
        fit_temperature,
        nll,
        weights_sha256,
    )
    from seq2latex.checkpoint import load_card, save_card
    from seq2latex.recognizer import DEFAULT_MODEL_DIR, symbol_model_dir
    from seq2latex.symbol_eval import read_inkml, score_symbols

    root = Path(args.data)
    if not root.is_dir():
        print(f"error: {root} is not a folder (a CROHME root with inkml/train)", file=sys.stderr)
        return 2
    try:
        names = load_split(args.split)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    train = _train_folder(root)
    files = sorted(p for p in train.rglob("*.inkml") if p.stem in names)
    if not files:
        print(f"error: none of the {len(names)} {args.split} expressions found under {train}", file=sys.stderr)
        return 2
    recognizer = _load(args)
    if recognizer is None:
        return 2
    start = time.perf_counter()
    records = [r for f in files for r in read_inkml(f)]
    _, held = partition(records, names)
    scores = score_symbols(recognizer, held, limit=args.limit)
    if scores.labels.numel() == 0:
        print("error: the validation split has no crops of this model's classes", file=sys.stderr)
        return 2
    logits, labels = scores.logits, scores.labels
    t = fit_temperature(logits, labels)
    root = Path(args.model) if args.model else DEFAULT_MODEL_DIR
    model_dir = symbol_model_dir(root)  # the temperature belongs to the weights that classify symbols
    entry = {
        "temperature": round(t, 4),
        "split": args.split,
        "expressions": len(held),
        "n": int(labels.numel()),
        "bins": ECE_BINS,
        "ece_before": round(100 * ece_of_logits(logits, labels, 1.0), 2),
        "ece_after": round(100 * ece_of_logits(logits, labels, t), 2),
        "nll_before": round(nll(logits, labels, 1.0), 4),
        "nll_after": round(nll(logits, labels, t), 4),
        "top1": round(100 * float((logits.argmax(-1) == labels).float().mean()), 2),
        "views": recognizer.symbol_views_per_image,
        "weights_sha256": weights_sha256(model_dir),
        "command": "seq2latex calibrate-symbols --data <crohme> --split "
        + args.split
        + (" --single-view" if args.single_view else ""),
    }
    out_root = Path(args.out) if args.out else root
    if out_root.resolve() != root.resolve():
        shutil.copytree(root, out_root, dirs_exist_ok=True)
    out_dir = symbol_model_dir(out_root)
    card = load_card(out_dir)
    card[CALIBRATION_KEY] = entry
    save_card(out_dir, card)
    report = {"model": _model_name(recognizer), "out": str(out_dir), CALIBRATION_KEY: entry}
    report["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(report, indent=2))
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    p.add_argument("--limit", type=int, default=0, help="use the first N crops (0 = all)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch default)")
    p.add_argument(
        "--single-view",
        action="store_true",
        help="read each symbol once, without the test-time turned views /symbol averages",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval-symbols", help="symbol classifier on every traceGroup crop of InkML files (/symbol's image path)"
    )
    p.add_argument("--data", required=True, help="InkML folder, file or zip (e.g. ../shared/crohme/inkml/test2014)")
    p.add_argument("--json", default=None, help="write the metrics JSON here too")
    p.add_argument("--confusion", default=None, help="write the confusion matrix as a PNG here")
    p.add_argument(
        "--temperature", type=float, default=None, help="softmax temperature (default: the model card's, else 1)"
    )
    _common(p)
    p.set_defaults(func=run_eval_symbols)

    c = subparsers.add_parser(
        "calibrate-symbols",
        help="fit the symbol softmax temperature on the validation split and write it into card.json",
    )
    c.add_argument("--data", required=True, help="CROHME root (with inkml/train) or the inkml/train folder")
    c.add_argument("--split", default="crohme_val", help="held-out split of CROHME train (data/splits)")
    c.add_argument("--out", default=None, help="write a calibrated copy of the model here (default: in place)")
    _common(c)
    c.set_defaults(func=run_calibrate_symbols)
