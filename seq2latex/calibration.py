"""Softmax temperature of the symbol classifier: fitting it, measuring calibration, storing it in the card.

The temperature T divides the symbol head's scores before the softmax (`softmax(z / T)`; z: the mean
log-probability over the symbol's test-time views, `Recognizer.symbol_scores`); it changes the
probabilities, never the ranking. `seq2latex calibrate-symbols` fits it on the crops of the
writer-disjoint validation split (`data.splits`, never a test set) by minimising the negative
log-likelihood over log T (golden-section search; the NLL is unimodal in log T), and writes it into
the model directory's `card.json`:

    "symbol_calibration": {
        "temperature": 0.6944,          # what Recognizer.classify_symbol divides the logits by
        "split": "crohme_val",          # the data it was fitted on (data/splits)
        "expressions": 436, "n": 4217,  # expressions and crops in it (the model's classes only)
        "bins": 15,                     # ECE bins
        "ece_before": 10.27, "ece_after": 7.69,   # ECE in % on those crops, T = 1 vs. T fitted
        "nll_before": 3.9323, "nll_after": 3.8575,
        "top1": 16.98,                  # top-1 accuracy in % on those crops (T does not change it)
        "views": 3,                     # test-time views per symbol it was fitted with (absent: 1)
        "weights_sha256": "7e9f...",    # of model.safetensors: other weights make the entry stale (T = 1)
        "command": "seq2latex calibrate-symbols ...",
    }

A card without the entry (older models, a fresh training run) means T = 1; older code ignores it.
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seq2latex.checkpoint import WEIGHTS_FILE

if TYPE_CHECKING:  # torch is imported where it computes: `card_temperature` serves the ONNX runtime too
    import torch

log = logging.getLogger(__name__)

CALIBRATION_KEY = "symbol_calibration"
ECE_BINS = 15
MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 20.0
GOLDEN_TOLERANCE = 1e-4  # in log T
_INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0


def nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of `labels` (N,) under softmax(logits (N, C) / T)."""
    import torch

    return float(torch.nn.functional.cross_entropy(logits.float() / temperature, labels.long()))


def fit_temperature(
    logits: torch.Tensor,
    labels: torch.Tensor,
    lo: float = MIN_TEMPERATURE,
    hi: float = MAX_TEMPERATURE,
    tol: float = GOLDEN_TOLERANCE,
) -> float:
    """The T in [lo, hi] minimising `nll(logits / T)`: golden-section search on log T."""
    if logits.ndim != 2 or labels.shape != (logits.shape[0],) or logits.shape[0] == 0:
        raise ValueError(f"need logits (N, C) and labels (N,) with N > 0, got {tuple(logits.shape)}")
    z = logits.detach().float()
    y = labels.detach().long()
    a, b = math.log(lo), math.log(hi)
    c, d = b - _INV_PHI * (b - a), a + _INV_PHI * (b - a)
    fc, fd = nll(z, y, math.exp(c)), nll(z, y, math.exp(d))
    while b - a > tol:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - _INV_PHI * (b - a)
            fc = nll(z, y, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + _INV_PHI * (b - a)
            fd = nll(z, y, math.exp(d))
    return math.exp((a + b) / 2.0)


def expected_calibration_error(
    confidence: np.ndarray | torch.Tensor, correct: np.ndarray | torch.Tensor, bins: int = ECE_BINS
) -> float:
    """ECE of top-1 probabilities: sum over equal-width bins of |accuracy - mean confidence| x share."""
    conf = np.asarray(confidence, dtype=np.float64).ravel()
    ok = np.asarray(correct, dtype=np.float64).ravel()
    if conf.shape != ok.shape:
        raise ValueError("confidence and correct differ in length")
    if conf.size == 0:
        return 0.0
    idx = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)  # bin (k/B, (k+1)/B]
    total = 0.0
    for k in range(bins):
        m = idx == k
        if m.any():
            total += m.mean() * abs(ok[m].mean() - conf[m].mean())
    return float(total)


def ece_of_logits(
    logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0, bins: int = ECE_BINS
) -> float:
    import torch

    probs = torch.softmax(logits.float() / temperature, dim=-1)
    conf, pred = probs.max(dim=-1)
    return expected_calibration_error(conf.numpy(), (pred == labels).numpy(), bins)


def weights_sha256(model_dir: str | Path) -> str:
    h = hashlib.sha256()
    with (Path(model_dir) / WEIGHTS_FILE).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def card_temperature(
    card: dict[str, Any], model_dir: str | Path | None = None, views: int | None = None
) -> float:
    """The card's symbol temperature; 1.0 when absent, invalid, fitted on other weights, or (given
    `views`) fitted on another number of test-time views (entries without "views" had one)."""
    entry = card.get(CALIBRATION_KEY)
    if not isinstance(entry, dict):
        return 1.0
    t = entry.get("temperature")
    if not isinstance(t, int | float) or not math.isfinite(t) or t <= 0:
        log.warning("ignoring invalid symbol temperature %r in the model card", t)
        return 1.0
    fitted_views = entry.get("views", 1)
    if views is not None and fitted_views != views:
        log.warning(
            "the symbol temperature was fitted on %s view(s) per symbol, this classifier takes %d; "
            "using 1.0 (rerun seq2latex calibrate-symbols)",
            fitted_views,
            views,
        )
        return 1.0
    digest = entry.get("weights_sha256")
    if model_dir is not None and digest and (Path(model_dir) / WEIGHTS_FILE).is_file():
        if weights_sha256(model_dir) != digest:
            log.warning(
                "%s: the symbol temperature was fitted on other weights; using 1.0 "
                "(rerun seq2latex calibrate-symbols)",
                model_dir,
            )
            return 1.0
    return float(t)
