"""`seq2latex export`: a training checkpoint (or model directory) -> a shippable fp16 model directory.

    seq2latex export --checkpoint runs/x/checkpoint.pt --weights ema --out DIR --name seq2latex-cpu-small --version 0.3.0
    seq2latex export --model runs/x/best --out DIR --card card.json
    seq2latex export --onnx --model seq2latex/weights/default     # adds DIR/onnx/ (and DIR/symbols/onnx/)

Writes config.json, model.safetensors (fp16), tokenizer.json, symbols.json and card.json. The card is
`--card FILE` (JSON) when given, else a minimal one; `--name`/`--version` and the step, parameter count
and weights kind are filled in. No optimizer or training state is written.

`--onnx` writes the ONNX graphs of a model directory into its `onnx/` folder (`seq2latex.onnx_export`:
encoder, decoder step with a KV cache, symbol classifier; fp16 weights, fp32 compute), the ones that
`SEQ2LATEX_RUNTIME=onnx` serves with. With `--model DIR` and no `--out` it exports DIR in place; with
`--out` it exports the directory just written. Needs the `onnx` extra (`pip install 'seq2latex[onnx]'`).

The work: `seq2latex.export` and `seq2latex.onnx_export`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _run_onnx(model_dir: Path) -> int:
    from seq2latex.onnx_export import export_model_tree

    try:
        written = export_model_tree(model_dir)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sizes = {d: {f: round(n / 2**20, 2) for f, n in files.items()} for d, files in written.items()}
    total = sum(n for files in written.values() for n in files.values()) / 2**20
    print(json.dumps({"onnx_mib": sizes, "total_mib": round(total, 2)}, indent=2))
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.onnx and args.out is None:
        if args.model is None:
            print(
                "error: --onnx without --out exports a model directory in place: give --model",
                file=sys.stderr,
            )
            return 2
        return _run_onnx(args.model)
    if args.out is None:
        print("error: --out is required", file=sys.stderr)
        return 2
    card = json.loads(Path(args.card).read_text()) if args.card else {}
    if args.name:
        card["name"] = args.name
    if args.version:
        card["version"] = args.version
    from seq2latex.export import export

    try:
        written = export(args.out, args.checkpoint, args.model, args.weights, card)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    size = (args.out / "model.safetensors").stat().st_size / 2**20
    print(json.dumps({"out": str(args.out), "size_mib": round(size, 2), "card": written}, indent=2))
    return _run_onnx(args.out) if args.onnx else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("export", help="checkpoint or model directory -> fp16 model directory to ship")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path, help="train.py's checkpoint.pt")
    src.add_argument("--model", type=Path, help="a model directory (e.g. runs/x/best)")
    p.add_argument(
        "--weights", choices=["ema", "raw"], default="ema", help="from a checkpoint: which weights"
    )
    p.add_argument(
        "--out", type=Path, default=None, help="the model directory to write (optional with --onnx)"
    )
    p.add_argument(
        "--onnx",
        action="store_true",
        help="also write the ONNX graphs (DIR/onnx/) for SEQ2LATEX_RUNTIME=onnx; alone with --model: in place",
    )
    p.add_argument("--card", default=None, help="JSON file whose content becomes card.json")
    p.add_argument("--name", default=None)
    p.add_argument("--version", default=None)
    p.set_defaults(func=_run)
