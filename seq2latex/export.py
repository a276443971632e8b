"""A training checkpoint (or a model directory) -> a shippable model directory (fp16 weights), the work of
`seq2latex export` (`seq2latex.cli.export`).

Writes config.json, model.safetensors, tokenizer.json, symbols.json and card.json; no optimizer or
training state. The card is the one given (a checkpoint) or the model directory's with the given keys over
it; the step, parameter count and weights kind are filled in.
"""

from __future__ import annotations

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
