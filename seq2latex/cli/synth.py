"""`seq2latex synth --n 40 --out grid.png`: a grid of synthetic handwritten expressions with their LaTeX
(the work: `data.synth.sheet`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from data.synth.glyphs import GlyphBank, build_bank
from data.synth.sheet import default_inkml, synth_sheet


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("synth", help="write a grid of synthetic handwritten expressions (data/synth)")
    p.add_argument("--n", type=int, default=40, help="number of expressions")
    p.add_argument("--out", type=Path, required=True, help="output PNG")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bank", type=Path, default=None, help="a glyph bank pickle (python -m data.synth bank)")
    p.add_argument("--inkml", type=Path, default=None, help="CROHME InkML train folder (when no --bank)")
    p.add_argument(
        "--split",
        choices=["train", "heldout"],
        default="train",
        help="writers: train (crohme_val writers left out) or heldout (crohme_val writers only)",
    )
    p.add_argument("--school-only", action="store_true", help="no CROHME caption variations")
    p.set_defaults(func=cmd_synth)


def cmd_synth(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    if args.bank is not None:
        bank = GlyphBank.load(args.bank)
    else:
        inkml = args.inkml or default_inkml()
        if not inkml.is_dir():
            print(f"seq2latex synth: no InkML training folder at {inkml} (give --inkml or --bank)")
            return 2
        bank = build_bank(inkml, args.split)
    sheet, n = synth_sheet(bank, args.n, args.seed, args.school_only)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"{args.out}: {n} expressions from {len(bank.writers)} writers in {time.monotonic() - t0:.1f} s")
    return 0
