"""`seq2latex data stats|preview|bench`."""

from __future__ import annotations

import argparse
import json
import math
import sys
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


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="CROHME data: statistics, preview grid, pipeline benchmark")
    sub = p.add_subparsers(dest="data_command", required=True)

    stats = sub.add_parser("stats", help="count expressions, skipped files, symbols and unknown tokens")
    stats.add_argument("path", type=Path, help="CROHME root, InkML folder, offline split folder, or zip")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(func=cmd_stats)

    preview = sub.add_parser("preview", help="write a grid of samples with their LaTeX")
    preview.add_argument("path", type=Path)
    preview.add_argument("--out", type=Path, required=True, help="output PNG")
    preview.add_argument("--augment", action="store_true", help="show training augmentation")
    preview.add_argument("--n", type=int, default=PREVIEW_SAMPLES, help="number of samples")
    preview.add_argument("--seed", type=int, default=0)
    preview.set_defaults(func=cmd_preview)

    bench = sub.add_parser("bench", help="render + augment + preprocess throughput on one CPU core")
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--data", type=Path, default=None, help="InkML source to use (default: synthetic ink)")
    bench.add_argument("--n", type=int, default=BENCH_SAMPLES)
    bench.set_defaults(func=cmd_bench)


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


def cmd_stats(args: argparse.Namespace) -> int:
    try:
        stats = source_stats(args.path)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(f"{'source':<22} {'kind':<8} {'expr':>6} {'skipped':>7} {'symbols':>8} {'classes':>7} {'unk':>5}")
    for s in stats["sources"]:
        print(
            f"{s['name']:<22} {s['kind']:<8} {s['expressions']:>6} {len(s['skipped']):>7} "  # type: ignore[arg-type]
            f"{s['symbols']:>8} {s['symbol_classes']:>7} {s['unk_tokens']:>5}"
        )
        for sk in s["skipped"]:  # type: ignore[attr-defined]
            print(f"    skipped {sk['file']}: {sk['reason']}")
    return 0


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def _fit(im: Image.Image, max_w: int, max_h: int) -> Image.Image:
    f = min(max_w / im.width, max_h / im.height, 4.0)
    return im.resize((max(1, round(im.width * f)), max(1, round(im.height * f))), Image.Resampling.BILINEAR)


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


def cmd_preview(args: argparse.Namespace) -> int:
    rng = np.random.default_rng(args.seed)
    sources = discover_sources(args.path)
    if not sources:
        print(f"error: no InkML or offline source under {args.path}", file=sys.stderr)
        return 2
    picked: list[Record] = []
    per_source = max(1, math.ceil(args.n / len(sources)))
    for source in sources:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            recs = read_source(source).records
        if recs:
            idx = rng.choice(len(recs), size=min(per_source, len(recs)), replace=False)
            picked.extend(recs[int(i)] for i in idx)
    picked = picked[: args.n]
    grid = preview_grid(picked, args.augment, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.out)
    print(f"wrote {args.out} ({len(picked)} samples, {grid.width}x{grid.height})")
    return 0


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


def cmd_bench(args: argparse.Namespace) -> int:
    if args.data is not None:
        from data.records import iter_inkml_records

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            strokes = []
            for rec in iter_inkml_records(args.data):
                if rec.strokes:
                    strokes.append(rec.strokes)
                if len(strokes) >= BENCH_RECORDS:
                    break
        if not strokes:
            print(f"error: no InkML under {args.data}", file=sys.stderr)
            return 2
    else:
        rng = np.random.default_rng(0)
        strokes = [synthetic_strokes(rng) for _ in range(BENCH_RECORDS)]
    sps = pipeline_throughput(strokes, args.n)
    if args.json:
        print(json.dumps({"samples_per_s": round(sps, 1)}))
    else:
        print(f"render + augment + preprocess: {sps:.1f} samples/s (one core, CPU time)")
    return 0
