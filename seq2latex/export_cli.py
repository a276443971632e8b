"""`seq2latex export`: a training checkpoint (or model directory) -> a shippable fp16 model directory.

    seq2latex export --checkpoint runs/x/checkpoint.pt --weights ema --out DIR --name seq2latex-cpu-small --version 0.3.0
    seq2latex export --model runs/x/best --out DIR --card card.json

Writes config.json, model.safetensors (fp16), tokenizer.json, symbols.json and card.json. The card is
`--card FILE` (JSON) when given, else a minimal one; `--name`/`--version` and the step, parameter count
and weights kind are filled in. No optimizer or training state is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def export(
    out: Path,
    checkpoint: Path | None = None,
    model_dir: Path | None = None,
    weights: str = "ema",
    card: dict[str, Any] | None = None,
    fp16: bool = True,
) -> dict[str, Any]:
    from data.symbols import CROHME_SYMBOL_CLASSES
    from seq2latex.checkpoint import load_card, load_model_dir, load_training_checkpoint, save_model_dir
    from seq2latex.config import ModelConfig, from_dict
    from seq2latex.model import Seq2Latex
    from tokenizer import LatexTokenizer

    card = dict(card or {})
    if (checkpoint is None) == (model_dir is None):
        raise ValueError("give exactly one of a checkpoint or a model directory")
    if checkpoint is not None:
        state = load_training_checkpoint(checkpoint)
        model = Seq2Latex(from_dict(ModelConfig, state["model_config"]))
        if weights == "ema":
            if state.get("ema") is None:
                raise ValueError(
                    f"{checkpoint} has no EMA weights (train.ema_decay was 0); use --weights raw"
                )
            own = model.state_dict()
            own.update(state["model"])
            own.update(state["ema"])
            model.load_state_dict(own)
        elif weights == "raw":
            model.load_state_dict(state["model"])
        else:
            raise ValueError(f"weights must be ema or raw, not {weights!r}")
        tokenizer, classes = LatexTokenizer.load(), list(CROHME_SYMBOL_CLASSES)
        card.setdefault("step", int(state["step"]))
        card.setdefault("train_cpu_minutes", round(float(state.get("cpu_s", 0.0)) / 60.0, 2))
        card["weights"] = "EMA of the weights" if weights == "ema" else "raw weights"
    else:
        assert model_dir is not None
        model, tokenizer, _, classes = load_model_dir(model_dir)
        base = load_card(model_dir)
        card = {**base, **card}
    card["parameters"] = sum(p.numel() for p in model.parameters())
    save_model_dir(out, model, tokenizer, classes, card, fp16=fp16)
    return card


def _run(args: argparse.Namespace) -> int:
    card = json.loads(Path(args.card).read_text()) if args.card else {}
    if args.name:
        card["name"] = args.name
    if args.version:
        card["version"] = args.version
    try:
        written = export(args.out, args.checkpoint, args.model, args.weights, card)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    size = (args.out / "model.safetensors").stat().st_size / 2**20
    print(json.dumps({"out": str(args.out), "size_mib": round(size, 2), "card": written}, indent=2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("export", help="checkpoint or model directory -> fp16 model directory to ship")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path, help="train.py's checkpoint.pt")
    src.add_argument("--model", type=Path, help="a model directory (e.g. runs/x/best)")
    p.add_argument(
        "--weights", choices=["ema", "raw"], default="ema", help="from a checkpoint: which weights"
    )
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--card", default=None, help="JSON file whose content becomes card.json")
    p.add_argument("--name", default=None)
    p.add_argument("--version", default=None)
    p.set_defaults(func=_run)
