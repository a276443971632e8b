"""`seq2latex eval-symbols` and `seq2latex calibrate-symbols`: the symbol classifier on CROHME traceGroups
(the work: `seq2latex.symbol_eval`, `seq2latex.calibration`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

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


def _write(path: str | None, text: str) -> None:
    if path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")


def run_eval_symbols(args: argparse.Namespace) -> int:
    from seq2latex.symbol_eval import confusion_image, symbol_report

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
    try:
        report, scores, temperature = symbol_report(recognizer, args.data, args.limit, args.temperature)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report["seconds"] = round(time.perf_counter() - start, 1)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    _write(args.json, text)
    if args.confusion:
        out = Path(args.confusion)
        out.parent.mkdir(parents=True, exist_ok=True)
        confusion_image(scores, recognizer.classes, temperature).save(out)
    return 0


def run_calibrate_symbols(args: argparse.Namespace) -> int:
    from data.splits import load_split
    from seq2latex.calibration import CALIBRATION_KEY
    from seq2latex.recognizer import DEFAULT_MODEL_DIR, symbol_model_dir
    from seq2latex.symbol_eval import fit_symbol_temperature, model_name, train_folder, write_calibration

    root = Path(args.data)
    if not root.is_dir():
        print(f"error: {root} is not a folder (a CROHME root with inkml/train)", file=sys.stderr)
        return 2
    try:
        names = load_split(args.split)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    train = train_folder(root)
    files = sorted(p for p in train.rglob("*.inkml") if p.stem in names)
    if not files:
        print(f"error: none of the {len(names)} {args.split} expressions found under {train}", file=sys.stderr)
        return 2
    recognizer = _load(args)
    if recognizer is None:
        return 2
    start = time.perf_counter()
    model_root = Path(args.model) if args.model else DEFAULT_MODEL_DIR
    command = "seq2latex calibrate-symbols --data <crohme> --split " + args.split
    command += " --single-view" if args.single_view else ""
    try:  # the temperature belongs to the weights that classify symbols
        entry = fit_symbol_temperature(
            recognizer, files, names, args.split, symbol_model_dir(model_root), args.limit, command
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out_dir = write_calibration(model_root, Path(args.out) if args.out else model_root, entry)
    report = {"model": model_name(recognizer), "out": str(out_dir), CALIBRATION_KEY: entry}
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
