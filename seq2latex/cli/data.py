"""`seq2latex data stats|preview|bench` (the work: `data.inspect`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from data.inspect import (
    BENCH_SAMPLES,
    PREVIEW_SAMPLES,
    bench_strokes,
    pipeline_throughput,
    preview_grid,
    preview_records,
    source_stats,
)


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


def cmd_preview(args: argparse.Namespace) -> int:
    picked = preview_records(args.path, args.n, args.seed)
    if picked is None:
        print(f"error: no InkML or offline source under {args.path}", file=sys.stderr)
        return 2
    grid = preview_grid(picked, args.augment, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.out)
    print(f"wrote {args.out} ({len(picked)} samples, {grid.width}x{grid.height})")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    strokes = bench_strokes(args.data)
    if not strokes:
        print(f"error: no InkML under {args.data}", file=sys.stderr)
        return 2
    sps = pipeline_throughput(strokes, args.n)
    if args.json:
        print(json.dumps({"samples_per_s": round(sps, 1)}))
    else:
        print(f"render + augment + preprocess: {sps:.1f} samples/s (one core, CPU time)")
    return 0
