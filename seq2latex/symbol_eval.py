"""Single-symbol evaluation: every traceGroup crop of InkML records through the `/symbol` image path.

Each crop is the traceGroup rendered to an image (`SymbolDataset.render`, what training draws) and then
`Recognizer.symbol_views` -> `Recognizer.symbol_scores`: the same preprocessing and test-time views
`POST /symbol` applies to an uploaded image (`api.pipeline.classify_sync`), batched. Metrics: top-1 / top-5 accuracy, per-class
accuracy with counts, the most confused pairs, ECE of the top-1 probability, NLL. Rates are percentages.

The work of `seq2latex eval-symbols` (`symbol_report`) and `seq2latex calibrate-symbols`
(`fit_symbol_temperature`, `write_calibration`; the temperature itself: `seq2latex.calibration`).
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from data.records import Record, iter_inkml_records
from data.splits import partition
from data.symbols import SymbolDataset, normalize_label
from seq2latex.calibration import (
    CALIBRATION_KEY,
    ECE_BINS,
    ece_of_logits,
    fit_temperature,
    nll,
    weights_sha256,
)
from seq2latex.checkpoint import load_card, save_card
from seq2latex.recognizer import Recognizer, symbol_model_dir

log = logging.getLogger(__name__)

CROP_BATCH = 128  # crops rendered and classified per step (each with its views)
TOP_K = 5
CONFUSED_PAIRS = 25
# Confusion-matrix picture
CELL_PX = 12
LABEL_PX = 84  # room for the class names on the left and the top
TITLE_PX = 18


@dataclass
class SymbolScores:
    """Scores of every crop, the true class ids, and what was left out."""

    logits: torch.Tensor  # (N, C) `Recognizer.symbol_scores`: softmax(logits / T) are the probabilities
    labels: torch.Tensor  # (N,)
    records: int
    left_out: Counter[str] = field(default_factory=Counter)  # labels outside the model's classes


def read_inkml(path: str | Path) -> list[Record]:
    """InkML records of a file, folder (recursive) or zip; unreadable files are skipped with a warning."""
    skipped: list[dict[str, str]] = []
    records = [r for r in iter_inkml_records(path, skipped) if r.strokes is not None]
    if skipped:
        log.warning("%d InkML files skipped under %s", len(skipped), path)
    return records


def score_symbols(recognizer: Recognizer, records: Sequence[Record], limit: int = 0) -> SymbolScores:
    """Logits of the first `limit` (0 = all) traceGroup crops whose label is one of the model's classes."""
    if recognizer.model.symbol_head is None or not recognizer.classes:
        raise RuntimeError("this model has no symbol classifier")
    ds = SymbolDataset(
        records, recognizer.classes, recognizer.config.symbol_size, pen=recognizer.config.symbol_pen
    )
    classes = set(recognizer.classes)
    left_out = Counter(
        normalize_label(s.label)
        for r in records
        for s in (r.symbols or [])
        if normalize_label(s.label) not in classes
    )
    n = len(ds) if limit <= 0 else min(limit, len(ds))
    chunks = []
    for start in range(0, n, CROP_BATCH):
        views = [recognizer.symbol_views(ds.render(i)) for i in range(start, min(n, start + CROP_BATCH))]
        chunks.append(recognizer.symbol_scores(torch.stack(views)))  # (b, V, 1, S, S) -> (b, C)
    logits = torch.cat(chunks) if chunks else torch.zeros(0, len(recognizer.classes))
    labels = torch.tensor(ds.labels()[:n], dtype=torch.long)
    return SymbolScores(logits, labels, len(records), left_out)


def _pct(x: float) -> float:
    return round(100.0 * float(x), 2)


def symbol_metrics(
    scores: SymbolScores, classes: Sequence[str], temperature: float = 1.0, pairs: int = CONFUSED_PAIRS
) -> dict[str, Any]:
    """top1 / top5 / per_class / confused / ece (at `temperature` and at 1) / nll, rates in percent."""
    logits, labels = scores.logits, scores.labels
    n = int(labels.numel())
    out: dict[str, Any] = {"n": n, "records": scores.records, "temperature": round(float(temperature), 4)}
    if n == 0:
        return out | {"top1": 0.0, "top5": 0.0, "per_class": {}, "confused": [], "ece": 0.0}
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    topk = probs.topk(min(TOP_K, probs.shape[1]), dim=-1).indices  # (N, k)
    pred = topk[:, 0]
    hit1 = (pred == labels).numpy()
    hit5 = (topk == labels[:, None]).any(dim=-1).numpy()
    per_class: dict[str, dict[str, Any]] = {}
    y = labels.numpy()
    for c in np.unique(y).tolist():
        m = y == c
        per_class[classes[c]] = {
            "n": int(m.sum()),
            "top1": _pct(hit1[m].mean()),
            "top5": _pct(hit5[m].mean()),
        }
    p = pred.numpy()
    pair_counts = Counter((int(a), int(b)) for a, b in zip(y[~hit1], p[~hit1], strict=True))
    confused = [
        {"true": classes[a], "predicted": classes[b], "count": k, "share_of_true": _pct(k / (y == a).sum())}
        for (a, b), k in pair_counts.most_common(pairs)
    ]
    return out | {
        "top1": _pct(hit1.mean()),
        "top5": _pct(hit5.mean()),
        "ece": _pct(ece_of_logits(logits, labels, temperature)),
        "ece_bins": ECE_BINS,
        "ece_at_t1": _pct(ece_of_logits(logits, labels, 1.0)),
        "nll": round(nll(logits, labels, temperature), 4),
        "mean_top1_probability": _pct(probs.max(dim=-1).values.mean()),
        "per_class": per_class,
        "confused": confused,
        "left_out": dict(scores.left_out.most_common()),
    }


def confusion_image(scores: SymbolScores, classes: Sequence[str], temperature: float = 1.0) -> Image.Image:
    """Row-normalised confusion matrix (rows: true, columns: predicted) of the classes that occur."""
    y = scores.labels.numpy()
    pred = (scores.logits.float() / temperature).argmax(dim=-1).numpy() if y.size else y
    shown = sorted(set(y.tolist()) | set(pred.tolist()))
    pos = {c: i for i, c in enumerate(shown)}
    k = len(shown)
    counts = np.zeros((k, k), dtype=np.int64)
    for a, b in zip(y.tolist(), pred.tolist(), strict=True):
        counts[pos[a], pos[b]] += 1
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    top = TITLE_PX + LABEL_PX
    size = (LABEL_PX + k * CELL_PX + 2, top + k * CELL_PX + 2)
    im = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default()
    acc = 100.0 * float((pred == y).mean()) if y.size else 0.0
    draw.text((2, 2), f"rows: true, columns: predicted (share of the row); n={y.size}, top-1 {acc:.1f} %",
              fill=(0, 0, 0), font=font)  # fmt: skip
    for i in range(k):
        for j in range(k):
            v = float(share[i, j])
            if counts[i, j] == 0:
                colour = (246, 246, 246) if i != j else (232, 240, 232)
            elif i == j:
                colour = (int(255 - 225 * v), int(255 - 120 * v), int(255 - 225 * v))  # green
            else:
                colour = (int(255 - 40 * v), int(255 - 235 * v), int(255 - 235 * v))  # red
            x0, y0 = LABEL_PX + j * CELL_PX, top + i * CELL_PX
            draw.rectangle((x0, y0, x0 + CELL_PX - 1, y0 + CELL_PX - 1), fill=colour)
    for i, c in enumerate(shown):
        name = classes[c][:13]
        draw.text((2, top + i * CELL_PX), name, fill=(0, 0, 0), font=font)
        label = Image.new("RGB", (LABEL_PX, CELL_PX), (255, 255, 255))
        ImageDraw.Draw(label).text((2, 0), name, fill=(0, 0, 0), font=font)
        im.paste(label.rotate(90, expand=True), (LABEL_PX + i * CELL_PX, TITLE_PX))
    return im


def model_name(recognizer: Recognizer) -> str:
    """`name version` of the model's card."""
    return f"{recognizer.card.get('name', '?')} {recognizer.card.get('version', '')}".strip()


def symbol_report(
    recognizer: Recognizer, data: str | Path, limit: int = 0, temperature: float | None = None
) -> tuple[dict[str, Any], SymbolScores, float]:
    """`seq2latex eval-symbols`: the metrics of the first `limit` (0 = all) traceGroup crops under `data`
    at `temperature` (None: the model card's), with the model, views and the card's calibration; the
    scores, and the temperature used. Raises ValueError when `data` holds no traceGroups."""
    records = read_inkml(data)
    if not any(r.symbols for r in records):
        raise ValueError(f"no InkML traceGroups under {data}")
    scores = score_symbols(recognizer, records, limit=limit)
    temperature = recognizer.symbol_temperature if temperature is None else temperature
    report: dict[str, Any] = {
        "model": model_name(recognizer),
        "data": str(data),
        "views": recognizer.symbol_views_per_image,
    }
    report |= symbol_metrics(scores, recognizer.classes, temperature)
    report["calibration"] = recognizer.card.get("symbol_calibration")
    return report, scores, temperature


def train_folder(root: Path) -> Path:
    """`<root>/inkml/train`, `<root>/train`, or `root` itself (the folder holding the source folders)."""
    for cand in (root / "inkml" / "train", root / "train"):
        if cand.is_dir():
            return cand
    return root


def fit_symbol_temperature(
    recognizer: Recognizer,
    files: Sequence[Path],
    names: frozenset[str],
    split: str,
    weights_dir: Path,
    limit: int = 0,
    command: str = "",
) -> dict[str, Any]:
    """`seq2latex calibrate-symbols`: the card's `symbol_calibration` entry (see `seq2latex.calibration`)
    fitted on the first `limit` (0 = all) crops of the `split` expressions (`names`) in the InkML `files`,
    for the weights in `weights_dir`. Raises ValueError when they hold no crop of the model's classes."""
    records = [r for f in files for r in read_inkml(f)]
    _, held = partition(records, names)
    scores = score_symbols(recognizer, held, limit=limit)
    if scores.labels.numel() == 0:
        raise ValueError("the validation split has no crops of this model's classes")
    logits, labels = scores.logits, scores.labels
    t = fit_temperature(logits, labels)
    return {
        "temperature": round(t, 4),
        "split": split,
        "expressions": len(held),
        "n": int(labels.numel()),
        "bins": ECE_BINS,
        "ece_before": round(100 * ece_of_logits(logits, labels, 1.0), 2),
        "ece_after": round(100 * ece_of_logits(logits, labels, t), 2),
        "nll_before": round(nll(logits, labels, 1.0), 4),
        "nll_after": round(nll(logits, labels, t), 4),
        "top1": round(100 * float((logits.argmax(-1) == labels).float().mean()), 2),
        "views": recognizer.symbol_views_per_image,
        "weights_sha256": weights_sha256(weights_dir),
        "command": command,
    }


def write_calibration(root: Path, out_root: Path, entry: dict[str, Any]) -> Path:
    """The model directory `root` copied to `out_root` (unless the same), with `entry` as the card's
    `symbol_calibration` of the weights that classify symbols (its `symbols/` model when it ships one)
    -> that directory."""
    if out_root.resolve() != root.resolve():
        shutil.copytree(root, out_root, dirs_exist_ok=True)
    out_dir = symbol_model_dir(out_root)
    card = load_card(out_dir)
    card[CALIBRATION_KEY] = entry
    save_card(out_dir, card)
    return out_dir
