"""Expression-recognition metrics and evaluation over offline splits, InkML folders or zips.

Metrics (percent): exprate = exact match of normalised token sequences; le1 / le2 = at most 1 / 2
token edits (Levenshtein); token_accuracy = 100 * (1 - total edits / total reference tokens), floored at 0.
Latency = wall time per image at batch 1 (preprocess + decode) on the current device.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

METRIC_KEYS = (
    "n",
    "exprate",
    "le1",
    "le2",
    "token_accuracy",
    "latency_ms_p50",
    "latency_ms_p90",
    "latency_ms_p95",
    "by_length",
)
# Reference-length bands of `by_length`: (label, lowest, first excluded) token counts.
LENGTH_BANDS = (("<10", 0, 10), ("10-19", 10, 20), ("20+", 20, 1 << 30))


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance between two token sequences."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def score(references: Sequence[Sequence[str]], predictions: Sequence[Sequence[str]]) -> dict[str, float]:
    """Corpus metrics (percent) for token-sequence pairs; latency keys are not included."""
    n = len(references)
    if n != len(predictions):
        raise ValueError("references and predictions differ in length")
    if n == 0:
        return {"n": 0, "exprate": 0.0, "le1": 0.0, "le2": 0.0, "token_accuracy": 0.0}
    edits = [edit_distance(r, p) for r, p in zip(references, predictions, strict=True)]
    total_ref = max(1, sum(len(r) for r in references))
    return {
        "n": n,
        "exprate": 100.0 * sum(e == 0 for e in edits) / n,
        "le1": 100.0 * sum(e <= 1 for e in edits) / n,
        "le2": 100.0 * sum(e <= 2 for e in edits) / n,
        "token_accuracy": max(0.0, 100.0 * (1.0 - sum(edits) / total_ref)),
    }


@dataclass
class EvalSample:
    name: str
    image: Image.Image
    reference: str  # normalised LaTeX, tokens separated by single spaces


def iter_eval_samples(
    path: str | Path, limit: int = 0, source: str | None = None, names: frozenset[str] | None = None
) -> Iterator[EvalSample]:
    """Samples from an offline split (caption.txt + img/), an InkML folder (rendered) or a zip.

    When `path` holds several sources (e.g. a CROHME root), all of them are read in discovery order,
    or only the one named `source` (e.g. "offline/2014"); `names` keeps only those expressions (a split).
    """
    from data.records import discover_sources, read_source
    from data.render import render_strokes

    count = 0
    sources = discover_sources(path)
    if source is not None:
        sources = [s for s in sources if s.name == source]
        if not sources:
            raise ValueError(f"no source {source!r} in {path}")
    for src in sources:
        for rec in read_source(src).records:
            if limit and count >= limit:
                return
            if names is not None and rec.name not in names:
                continue
            if rec.strokes is not None:
                image = render_strokes(rec.strokes)
            else:
                image = rec.image
            if image is None:
                continue
            count += 1
            yield EvalSample(rec.name, image, rec.latex)


# --paper of `seq2latex eval --augment`: (probability of printed lines, of squares among them).
PAPERS = {"plain": (0.0, 0.0), "lined": (1.0, 0.0), "squared": (1.0, 1.0), "mixed": (2 / 3, 0.5)}


def augment_samples(
    samples: Iterator[EvalSample], strength: float, seed: int = 0, paper: str = "plain"
) -> Iterator[EvalSample]:
    """A photo-like copy of an evaluation set: each image goes through `data.augment` (RGB, coloured
    ink and paper) with its own generator seeded by (seed, position), so the copy is the same on every
    run and machine and a sample's photo does not depend on `--limit`. `paper` (PAPERS) adds printed
    lines: "mixed" is a third each plain, ruled and squared; "plain" is the copy without lines."""
    from data.augment import AugmentConfig, augment

    p_lines, p_squared = PAPERS[paper]
    cfg = AugmentConfig(strength=strength, colour=True, p_lines=p_lines, p_squared=p_squared)
    for i, s in enumerate(samples):
        rng = np.random.default_rng([seed, i])
        yield EvalSample(s.name, augment(s.image, rng, cfg), s.reference)


@dataclass
class SampleResult:
    name: str
    reference: str
    prediction: str  # predicted tokens joined by spaces (unrepaired)
    latex: str  # the Recognizer's displayed LaTeX
    confidence: float
    edits: int
    latency_ms: float


def length_band(n_tokens: int) -> str:
    """The reference-length band of a sample (in tokens)."""
    for label, lo, hi in LENGTH_BANDS:
        if lo <= n_tokens < hi:
            return label
    return LENGTH_BANDS[-1][0]


def by_length(refs: Sequence[Sequence[str]], preds: Sequence[Sequence[str]]) -> dict[str, dict[str, float]]:
    """ExpRate / <=1 / <=2 per reference-length band (<10, 10-19, 20+ tokens)."""
    out = {}
    for label, _, _ in LENGTH_BANDS:
        idx = [i for i, r in enumerate(refs) if length_band(len(r)) == label]
        m = score([refs[i] for i in idx], [preds[i] for i in idx])
        out[label] = {
            k: round(float(m[k]), 2) if k != "n" else int(m[k]) for k in ("n", "exprate", "le1", "le2")
        }
    return out


def evaluate(
    recognizer: Any,
    samples: Sequence[EvalSample] | Iterator[EvalSample],
    beam: int = 1,
    rescore: bool = True,
) -> tuple[dict[str, Any], list[SampleResult]]:
    """Recognise each sample at batch 1 (timed) -> (metrics with METRIC_KEYS, per-sample results).
    `rescore`: a bidirectional model's beam hypotheses are rescored with both directions."""
    refs: list[list[str]] = []
    preds: list[list[str]] = []
    results: list[SampleResult] = []
    latencies: list[float] = []
    for s in samples:
        t0 = time.perf_counter()
        pred = recognizer([s.image], beam=beam, rescore=rescore)[0]
        ms = 1000.0 * (time.perf_counter() - t0)
        ref_tokens = s.reference.split()
        refs.append(ref_tokens)
        preds.append(pred.tokens)
        latencies.append(ms)
        results.append(
            SampleResult(
                name=s.name,
                reference=s.reference,
                prediction=" ".join(pred.tokens),
                latex=pred.latex,
                confidence=pred.confidence,
                edits=edit_distance(ref_tokens, pred.tokens),
                latency_ms=ms,
            )
        )
    metrics: dict[str, Any] = dict(score(refs, preds))
    metrics["by_length"] = by_length(refs, preds)
    lat = np.asarray(latencies) if latencies else np.zeros(1)
    metrics["latency_ms_p50"] = float(np.percentile(lat, 50))
    metrics["latency_ms_p90"] = float(np.percentile(lat, 90))
    metrics["latency_ms_p95"] = float(np.percentile(lat, 95))
    return {k: metrics[k] for k in METRIC_KEYS}, results


def results_as_dicts(results: Sequence[SampleResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]


def load_recognizer(model: str | Path | None, device: str = "cpu", threads: int = 0, **options: Any) -> Any:
    """The Recognizer of a model directory (None: the shipped model) on `device` (auto: CUDA when there
    is one) with `threads` CPU threads (0: torch's default); `options` go to `Recognizer.from_pretrained`.
    Raises FileNotFoundError when the model directory cannot be read."""
    import torch

    from seq2latex.recognizer import Recognizer

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and threads:
        torch.set_num_threads(threads)
    return Recognizer.from_pretrained(model, device=device, **options)


def evaluation_report(
    recognizer: Any,
    data: str | Path,
    *,
    limit: int = 0,
    source: str | None = None,
    split: str | None = None,
    beam: int = 1,
    rescore: bool = True,
    augment: float = 0.0,
    seed: int = 0,
    paper: str = "plain",
) -> tuple[dict[str, Any], list[SampleResult]]:
    """`seq2latex eval`'s report (the metrics, the model, how it was read) and the per-sample results of
    `recognizer` on `data`: its first `limit` samples (0: all), of one `source`, of a `split`'s
    expressions only, or (`augment` > 0) their photo-like copy (`augment_samples`)."""
    names = None
    if split:
        from data.splits import load_split

        names = load_split(split)
    samples = iter_eval_samples(data, limit=limit, source=source, names=names)
    if augment > 0:
        samples = augment_samples(samples, augment, seed, paper=paper)
    metrics, results = evaluate(recognizer, samples, beam=beam, rescore=rescore)
    report: dict[str, Any] = dict(metrics)
    report["model"] = f"{recognizer.card.get('name', '?')} {recognizer.card.get('version', '')}".strip()
    report["beam"] = beam
    report["split"] = split
    report["bidirectional_rescoring"] = bool(recognizer.config.bidirectional and beam > 1 and rescore)
    report["augment"] = {"strength": augment, "seed": seed, "paper": paper} if augment > 0 else None
    return report, results


def predictions_path(json_path: Path) -> Path:
    """The per-sample predictions file written beside the metrics JSON."""
    return json_path.with_name(json_path.stem + ".predictions.jsonl")


def write_evaluation(out: Path, text: str, results: Sequence[SampleResult]) -> None:
    """The report's JSON `text` in `out`, and the per-sample results beside it (`predictions_path`)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    with predictions_path(out).open("w") as f:
        for row in results_as_dicts(results):
            f.write(json.dumps(row) + "\n")
