"""When a reading is more likely wrong than right: the confidence below which the service asks first.

The recognizer's confidence is the model's probability of the whole sequence. On the validation split
(crohme_val, never a test set) a logistic fit of "read exactly right" on logit(confidence) (Platt
scaling) gives P(right | confidence); the threshold is the confidence where that reaches 1/2. Below it
the service answers `needs_confirmation: true` and the demo page asks "Is this what you wrote?" before
it presents a solution. It is stored in the model's `card.json`:

    "confirmation": {
        "threshold": 0.455,           # confidence below which a reading needs confirmation
        "split": "crohme_val", "n": 223, "correct": 71, "beam": 1,
        "platt": [0.222, 1.243],      # P(right) = sigmoid(a + b * logit(confidence))
        "command": "python -m seq2latex.confirmation runs/val.predictions.jsonl --model DIR",
    }

A card without it means DEFAULT_CONFIRM_BELOW.

    seq2latex eval --data ../shared/crohme/offline/train --split crohme_val --json runs/val.json
    python -m seq2latex.confirmation runs/val.predictions.jsonl [--model DIR]   # JSON; --model writes the card
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

CONFIRMATION_KEY = "confirmation"
DEFAULT_CONFIRM_BELOW = 0.5  # without a fitted threshold: below an even chance by the model's own account
NEWTON_STEPS = 50
CONFIDENCE_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, CONFIDENCE_EPS, 1.0 - CONFIDENCE_EPS)
    return np.log(q / (1.0 - q))


def fit_platt(confidence: Sequence[float], correct: Sequence[bool]) -> tuple[float, float]:
    """(a, b) of P(correct) = sigmoid(a + b * logit(confidence)), maximum likelihood (Newton steps)."""
    x = _logit(np.asarray(confidence, dtype=np.float64))
    y = np.asarray(correct, dtype=np.float64)
    if x.shape != y.shape or x.size < 2 or y.min() == y.max():
        raise ValueError("need at least two readings, some right and some wrong")
    w = np.zeros(2)
    design = np.stack([np.ones_like(x), x], axis=1)  # (N, 2)
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-design @ w))
        grad = design.T @ (p - y)
        hess = design.T @ (design * (p * (1.0 - p))[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-10:
            break
    return float(w[0]), float(w[1])


def confirmation_threshold(confidence: Sequence[float], correct: Sequence[bool]) -> dict[str, Any]:
    """The confidence at which the fitted P(correct) is 1/2, with the fit it came from."""
    a, b = fit_platt(confidence, correct)
    if b <= 0:
        raise ValueError(f"confidence does not rise with correctness here (slope {b:.3f})")
    threshold = 1.0 / (1.0 + math.exp(a / b))  # sigmoid(-a / b)
    return {
        "threshold": round(threshold, 3),
        "n": len(confidence),
        "correct": int(sum(bool(c) for c in correct)),
        "platt": [round(a, 4), round(b, 4)],
    }


def card_confirm_below(card: dict[str, Any]) -> float:
    """The card's confirmation threshold; DEFAULT_CONFIRM_BELOW when absent or invalid."""
    entry = card.get(CONFIRMATION_KEY)
    t = entry.get("threshold") if isinstance(entry, dict) else None
    if isinstance(t, int | float) and math.isfinite(t) and 0.0 <= t <= 1.0:
        return float(t)
    return DEFAULT_CONFIRM_BELOW


def needs_confirmation(confidence: float | None, confirm_below: float) -> bool:
    """A recognized reading (typed LaTeX has no confidence) whose confidence is below the threshold."""
    return confidence is not None and confidence < confirm_below


def _read_predictions(path: Path) -> tuple[list[float], list[bool], str]:
    """`seq2latex eval`'s <stem>.predictions.jsonl -> (confidences, exactly right?, the metrics file)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [float(r["confidence"]) for r in rows], [int(r["edits"]) == 0 for r in rows], path.name


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m seq2latex.confirmation", description=__doc__.split("\n")[0])
    ap.add_argument("predictions", type=Path, help="<stem>.predictions.jsonl of seq2latex eval on crohme_val")
    ap.add_argument("--model", type=Path, help="write the threshold into this model directory's card.json")
    ap.add_argument("--split", default="crohme_val")
    ap.add_argument("--beam", type=int, default=1, help="the beam the predictions were decoded with")
    args = ap.parse_args(argv)
    confidence, correct, _ = _read_predictions(args.predictions)
    entry = {**confirmation_threshold(confidence, correct), "split": args.split, "beam": args.beam}
    entry["command"] = f"python -m seq2latex.confirmation <{args.split} predictions.jsonl> --beam {args.beam}"
    if args.model is not None:
        from seq2latex.checkpoint import load_card, save_card

        card = load_card(args.model)
        card[CONFIRMATION_KEY] = entry
        save_card(args.model, card)
    json.dump(entry, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
