"""How much would a symbol's size tell the classifier? An upper bound for a size cue; JSON out.

    python benchmarks/symbol_size_cue.py --data ../shared/crohme [--model DIR] [--train-expressions 4000]

A crop scaled to fill its square loses the symbol's size, which is what tells `x` from `\\times` or `C`
from `c`. Here the size is given exactly: each traceGroup's height and width relative to its
expression's median symbol extent, as log-ratios, with one diagonal Gaussian per class fitted on the
crops of training-writer expressions (a random sample, crohme_val writers left out). The classifier's
single-view log-probabilities plus `weight` x the Gaussian log-likelihood are scored on the crohme_val
crops (which choose the weight) and on the CROHME 2014 test crops (reported).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from data.records import Record
from data.render import stroke_bounds, symbol_strokes
from data.splits import load_split, partition
from data.symbols import median_symbol_extent, normalize_label
from seq2latex.recognizer import Recognizer
from seq2latex.symbol_eval import read_inkml, score_symbols

WEIGHTS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0)
MIN_SD = 0.05  # floor of a class's log-size spread
MIN_CLASS_CROPS = 3  # fewer training crops: the class gets the pooled Gaussian


def size_features(records: Sequence[Record], index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) log(height / median extent), log(width / median extent) and (N,) class ids of every
    traceGroup crop of a known class, in `SymbolDataset` order."""
    feats: list[tuple[float, float]] = []
    labels: list[int] = []
    for rec in records:
        if rec.strokes is None or not rec.symbols:
            continue
        by_id = rec.strokes_by_id()
        median = max(median_symbol_extent(rec), 1e-6)
        floor = 0.01 * median
        for sym in rec.symbols:
            c = index.get(normalize_label(sym.label))
            if c is None:
                continue
            strokes = [s for s in symbol_strokes(by_id, sym.trace_ids) if len(s)]
            h = w = 0.0  # SymbolDataset keeps a crop even without ink: a zero box
            if strokes:
                x0, y0, x1, y1 = stroke_bounds(strokes)
                h, w = y1 - y0, x1 - x0
            feats.append((float(np.log(max(h, floor) / median)), float(np.log(max(w, floor) / median))))
            labels.append(c)
    return np.asarray(feats, dtype=np.float64).reshape(-1, 2), np.asarray(labels, dtype=np.int64)


def fit_gaussians(feats: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-class mean and spread (C, 2); classes with too few crops get the pooled ones."""
    mu = np.tile(feats.mean(0), (n_classes, 1))
    sd = np.tile(np.maximum(feats.std(0), MIN_SD), (n_classes, 1))
    for c in range(n_classes):
        m = labels == c
        if m.sum() >= MIN_CLASS_CROPS:
            mu[c], sd[c] = feats[m].mean(0), np.maximum(feats[m].std(0), MIN_SD)
    return mu, sd


def log_likelihood(feats: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    z = (feats[:, None, :] - mu[None]) / sd[None]  # (N, C, 2)
    return (-0.5 * z**2 - np.log(sd[None])).sum(-1)  # (N, C)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="CROHME root with inkml/train and inkml/test2014")
    p.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    p.add_argument("--train-expressions", type=int, default=4000, help="training expressions sampled")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    root = Path(args.data) / "inkml"
    recognizer = Recognizer.from_pretrained(args.model, device="cpu", symbol_view_angles=())  # one view
    index = {c: i for i, c in enumerate(recognizer.classes)}
    names = load_split("crohme_val")
    files = sorted((root / "train").rglob("*.inkml"))
    if not files:
        print(f"error: no InkML files under {root / 'train'}", file=sys.stderr)
        return 2
    sample = [
        files[i] for i in np.random.default_rng(args.seed).permutation(len(files))[: args.train_expressions]
    ]
    train, _ = partition([r for f in sample for r in read_inkml(f)], names)  # training writers only
    mu, sd = fit_gaussians(*size_features(train, index), len(index))
    _, val = partition([r for f in files if f.stem in names for r in read_inkml(f)], names)
    test = [r for f in sorted((root / "test2014").rglob("*.inkml")) for r in read_inkml(f)]
    report: dict[str, object] = {"model": recognizer.card.get("name"), "train_expressions": len(train)}
    for name, records in (("crohme_val", val), ("crohme2014", test)):
        scores = score_symbols(recognizer, records)  # /symbol's image path; one view: log-probabilities
        log_p, labels = scores.logits.numpy(), scores.labels.numpy()
        feats, size_labels = size_features(records, index)
        if not np.array_equal(labels, size_labels):
            raise RuntimeError("size features and crops are out of step")
        ll = log_likelihood(feats, mu, sd)
        report[name] = {
            "n": int(len(labels)),
            "top1_by_weight": {
                str(w): round(100.0 * float(((log_p + w * ll).argmax(1) == labels).mean()), 2)
                for w in WEIGHTS
            },
        }
    val_scores = report["crohme_val"]["top1_by_weight"]  # type: ignore[index]
    best = max(WEIGHTS, key=lambda w: (val_scores[str(w)], -w))
    report["weight_chosen_on_crohme_val"] = best
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
