"""When a reading is more likely wrong than right: the confidence below which the service asks first.

The recognizer's confidence is the model's probability of the whole sequence. On the validation split
(crohme_val, never a test set) a logistic fit of "read exactly right" on logit(confidence) (Platt
scaling) gives P(right | confidence); the threshold is the confidence where that reaches 1/2. Below it
the service answers `needs_confirmation: true` and the demo page asks "Is this what you wrote?" before
it presents a solution. A beam search finds likelier sequences than greedy decoding, so its
confidences run on another scale: one threshold is fitted per beam width, each on readings decoded at
that width. They are stored in the model's `card.json`:

    "confirmation": {
        "threshold": 0.424, "beam": 1, ...     # the greedy fit, as cards before per-beam fits had it
        "by_beam": {
            "1": {"threshold": 0.424, "n": 223, "correct": 106, "platt": [0.44, 1.4376]},
            "3": {"threshold": 0.262, ...},   # P(right) = sigmoid(a + b * logit(confidence))
        },
        "split": "crohme_val", "command": "python -m seq2latex.confirmation ...",
    }

A beam width without its own fit uses the nearest fitted one (the smaller on a tie); a card without any
means DEFAULT_CONFIRM_BELOW.

    seq2latex eval --data ../shared/crohme/offline/train --split crohme_val --json runs/val.json
    seq2latex eval --data ../shared/crohme/offline/train --split crohme_val --beam 3 --json runs/val_beam3.json
    python -m seq2latex.confirmation runs/val.predictions.jsonl runs/val_beam3.predictions.jsonl [--model DIR]
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


def _valid_threshold(t: Any) -> float | None:
    return float(t) if isinstance(t, int | float) and math.isfinite(t) and 0.0 <= t <= 1.0 else None


def card_thresholds(card: dict[str, Any]) -> dict[int, float]:
    """The card's fitted thresholds by beam width ({} when none is fitted)."""
    entry = card.get(CONFIRMATION_KEY)
    if not isinstance(entry, dict):
        return {}
    out: dict[int, float] = {}
    by_beam = entry.get("by_beam")
    if isinstance(by_beam, dict):
        for beam, fit in by_beam.items():
            t = _valid_threshold(fit.get("threshold")) if isinstance(fit, dict) else None
            if t is not None and str(beam).isdigit() and int(beam) >= 1:
                out[int(beam)] = t
    t = _valid_threshold(entry.get("threshold"))
    beam = entry.get("beam", 1)
    if t is not None and isinstance(beam, int) and beam >= 1:
        out.setdefault(beam, t)  # a card from before per-beam fits: its one threshold, at its beam
    return out


def card_confirm_below(card: dict[str, Any], beam: int = 1) -> float:
    """The card's confirmation threshold for readings decoded at `beam`: its own fit, else the nearest
    fitted beam width's (the smaller on a tie); DEFAULT_CONFIRM_BELOW when the card has none."""
    fits = card_thresholds(card)
    if not fits:
        return DEFAULT_CONFIRM_BELOW
    nearest = min(fits, key=lambda b: (abs(b - beam), b))
    return fits[nearest]


def needs_confirmation(confidence: float | None, confirm_below: float) -> bool:
    """A recognized reading (typed LaTeX has no confidence) whose confidence is below the threshold."""
    return confidence is not None and confidence < confirm_below


def _read_predictions(path: Path) -> tuple[list[float], list[bool]]:
    """`seq2latex eval`'s <stem>.predictions.jsonl -> (confidences, exactly right?)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [float(r["confidence"]) for r in rows], [int(r["edits"]) == 0 for r in rows]


def _report_beam(path: Path) -> int | None:
    """The beam of the eval whose predictions are `path`: the "beam" of the report <stem>.json beside it."""
    name = path.name
    stem = name[: -len(".predictions.jsonl")] if name.endswith(".predictions.jsonl") else path.stem
    report = path.with_name(stem + ".json")
    if not report.is_file():
        return None
    beam = json.loads(report.read_text()).get("beam")
    return int(beam) if isinstance(beam, int) else None


def fit_entry(paths: Sequence[Path], beams: Sequence[int], split: str) -> dict[str, Any]:
    """The card's `confirmation` entry: one fit per (predictions file, beam width)."""
    by_beam: dict[str, dict[str, Any]] = {}
    for path, beam in zip(paths, beams, strict=True):
        confidence, correct = _read_predictions(path)
        by_beam[str(beam)] = {**confirmation_threshold(confidence, correct), "beam": beam}
    first = by_beam.get("1") or by_beam[str(min(beams))]
    files = " ".join(str(p) for p in paths)  # each made by `seq2latex eval ... --split SPLIT --beam B --json`
    return {
        **{k: first[k] for k in ("threshold", "n", "correct", "platt", "beam")},
        "split": split,
        "by_beam": dict(sorted(by_beam.items(), key=lambda kv: int(kv[0]))),
        "command": f"python -m seq2latex.confirmation {files} --model DIR",
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m seq2latex.confirmation", description=__doc__.split("\n")[0])
    ap.add_argument(
        "predictions",
        type=Path,
        nargs="+",
        help="<stem>.predictions.jsonl of seq2latex eval on crohme_val, one per beam width (the beam is "
        "read from the report <stem>.json beside it)",
    )
    ap.add_argument("--model", type=Path, help="write the thresholds into this model directory's card.json")
    ap.add_argument("--split", default="crohme_val")
    ap.add_argument(
        "--beam", type=int, default=None, help="the beam of a single predictions file without its report"
    )
    args = ap.parse_args(argv)
    beams = []
    for path in args.predictions:
        beam = _report_beam(path)
        if beam is None and args.beam is not None and len(args.predictions) == 1:
            beam = args.beam
        if beam is None:
            ap.error(f"no beam for {path}: keep the eval report <stem>.json beside it (or give --beam)")
        beams.append(beam)
    if len(set(beams)) != len(beams):
        ap.error(f"one predictions file per beam width, got beams {beams}")
    entry = fit_entry(args.predictions, beams, args.split)
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
