"""A look at CROHME data: per-source statistics, a preview grid of samples as the model reads them, and
the throughput of the training image pipeline (render + augment + preprocess) on one CPU core.

The work of `seq2latex data stats|preview|bench` (`seq2latex.cli.data`)."""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from data.augment import AugmentConfig, augment
from data.preprocess import PreprocessConfig, preprocess
from data.records import Record, discover_sources, read_source
from data.render import RenderConfig, render_strokes
from data.symbols import normalize_label

PREVIEW_SAMPLES = 16
PREVIEW_CELL_WIDTH = 640
PREVIEW_PHOTO_HEIGHT = 110
BENCH_SAMPLES = 400
BENCH_WARMUP = 20
BENCH_RECORDS = 200


def _tokenizer():  # -> tokenizer.LatexTokenizer
    from tokenizer import LatexTokenizer

    return LatexTokenizer.load()


def source_stats(path: Path) -> dict[str, list[dict[str, object]]]:
    """The `stats --json` object for every source under `path`."""
    tok = _tokenizer()
    out = []
    for source in discover_sources(path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = read_source(source)
        labels: set[str] = set()
        n_symbols = 0
        unk = 0
        for rec in result.records:
            for sym in rec.symbols or []:
                labels.add(normalize_label(sym.label))
                n_symbols += 1
            unk += sum(1 for t in rec.latex.split() if tok.token_to_id(t) == tok.unk_id)
        out.append(
            {
                "name": source.name,
                "kind": source.kind,
                "expressions": len(result.records),
                "skipped": result.skipped,
                "symbols": n_symbols,
                "symbol_classes": len(labels),
                "unk_tokens": unk,
            }
        )
    return {"sources": out}


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def _fit(im: Image.Image, max_w: int, max_h: int) -> Image.Image:
    f = min(max_w / im.width, max_h / im.height, 4.0)
    return im.resize((max(1, round(im.width * f)), max(1, round(im.height * f))), Image.Resampling.BILINEAR)


def preview_records(path: Path, n: int, seed: int) -> list[Record] | None:
    """`n` records drawn at random (`seed`), spread evenly over the sources under `path`; None when
    there is no InkML or offline source there."""
    rng = np.random.default_rng(seed)
    sources = discover_sources(path)
    if not sources:
        return None
    picked: list[Record] = []
    per_source = max(1, math.ceil(n / len(sources)))
    for source in sources:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            recs = read_source(source).records
        if recs:
            idx = rng.choice(len(recs), size=min(per_source, len(recs)), replace=False)
            picked.extend(recs[int(i)] for i in idx)
    return picked[:n]


def preview_grid(records: list[Record], do_augment: bool, seed: int) -> Image.Image:
    """One cell per record: input image (augmented if asked), `preprocess` output, LaTeX."""
    pcfg = PreprocessConfig()
    acfg = AugmentConfig(colour=True)  # training uses the luminance of these same photos
    rcfg = RenderConfig()
    font = _font(14)
    cells = []
    for k, rec in enumerate(records):
        rng = np.random.default_rng([seed, k])
        if rec.strokes is not None:
            image = render_strokes(rec.strokes, rcfg.height, rcfg.pen_width, rcfg.pad, rcfg.supersample)
        else:
            image = rec.image
            assert image is not None
        if do_augment:
            image = augment(image, rng, acfg)
        x = preprocess(image, pcfg)  # (1, H, W)
        model_in = Image.fromarray((255 - x[0].numpy() * 255).astype(np.uint8))
        cell = Image.new("RGB", (PREVIEW_CELL_WIDTH, PREVIEW_PHOTO_HEIGHT + pcfg.height + 52), "white")
        cell.paste(_fit(image.convert("RGB"), PREVIEW_CELL_WIDTH - 8, PREVIEW_PHOTO_HEIGHT), (4, 4))
        cell.paste(
            _fit(model_in, PREVIEW_CELL_WIDTH - 8, pcfg.height).convert("RGB"), (4, PREVIEW_PHOTO_HEIGHT + 8)
        )
        draw = ImageDraw.Draw(cell)
        label = f"{rec.source}/{rec.name}  {tuple(x.shape)}"
        draw.text((4, PREVIEW_PHOTO_HEIGHT + pcfg.height + 12), label, fill=(120, 0, 0), font=font)
        latex = rec.latex if len(rec.latex) < 80 else rec.latex[:77] + "..."
        draw.text((4, PREVIEW_PHOTO_HEIGHT + pcfg.height + 30), latex, fill="black", font=font)
        draw.rectangle((0, 0, cell.width - 1, cell.height - 1), outline=(180, 180, 180))
        cells.append(cell)
    cols = 2
    rows = math.ceil(len(cells) / cols)
    ch = cells[0].height if cells else 1
    grid = Image.new("RGB", (cols * PREVIEW_CELL_WIDTH, max(1, rows * ch)), "white")
    for k, cell in enumerate(cells):
        grid.paste(cell, ((k % cols) * PREVIEW_CELL_WIDTH, (k // cols) * ch))
    return grid


def synthetic_strokes(rng: np.random.Generator) -> list[np.ndarray]:
    """Handwriting-like scribbles matching CROHME test2016 statistics (~14 strokes, ~500 points,
    render width ~260 px at the default height)."""
    strokes = []
    x = 0.0
    for _ in range(int(rng.integers(3, 16))):
        size = rng.uniform(0.6, 1.2) * 100
        base = rng.normal(0, 40)  # scripts, fractions
        for _ in range(int(rng.integers(1, 3))):
            n = int(rng.integers(20, 56))
            t = np.linspace(0, rng.uniform(2, 6), n)
            phase = rng.uniform(0, 6)
            xs = x + size * (0.5 + 0.45 * np.sin(t + phase))
            ys = base + size * (0.5 + 0.45 * np.cos(1.3 * t))
            strokes.append(np.stack([xs, ys], axis=1).astype(np.float32))  # (n, 2)
        x += size * rng.uniform(1.0, 1.4)
    return strokes


def bench_strokes(data: Path | None) -> list[list[np.ndarray]]:
    """The ink the pipeline benchmark renders: the first `BENCH_RECORDS` expressions with strokes of an
    InkML source (empty if it has none), or as many synthetic ones (`data` None)."""
    if data is None:
        rng = np.random.default_rng(0)
        return [synthetic_strokes(rng) for _ in range(BENCH_RECORDS)]
    from data.records import iter_inkml_records

    strokes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rec in iter_inkml_records(data):
            if rec.strokes:
                strokes.append(rec.strokes)
            if len(strokes) >= BENCH_RECORDS:
                break
    return strokes


def pipeline_throughput(strokes: list[list[np.ndarray]], n: int) -> float:
    """Samples per second of CPU time (one thread): render + augment + preprocess."""
    torch.set_num_threads(1)
    pcfg, acfg, rcfg = PreprocessConfig(), AugmentConfig(), RenderConfig()
    rng = np.random.default_rng(0)

    def one(k: int) -> None:
        image = render_strokes(
            strokes[k % len(strokes)], rcfg.height, rcfg.pen_width, rcfg.pad, rcfg.supersample
        )
        preprocess(augment(image, rng, acfg), pcfg)

    for k in range(BENCH_WARMUP):
        one(k)
    start = time.process_time()
    for k in range(n):
        one(k)
    return n / max(time.process_time() - start, 1e-9)
