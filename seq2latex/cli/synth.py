"""`seq2latex synth --n 40 --out grid.png`: a grid of synthetic handwritten expressions with their LaTeX."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from data.synth.build import SynthConfig, render_offline, synthesize
from data.synth.expressions import ExpressionConfig
from data.synth.glyphs import GlyphBank, build_bank

CELL_WIDTH = 560
CELL_IMAGE_HEIGHT = 110
CAPTION_HEIGHT = 30
COLUMNS = 4


def default_inkml() -> Path:
    root = Path(
        os.environ.get("SEQ2LATEX_CROHME", Path(__file__).resolve().parents[2].parent / "shared" / "crohme")
    )
    return root / "inkml" / "train"


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


def grid(images: list[Image.Image], captions: list[str], columns: int = COLUMNS) -> Image.Image:
    """Images (white ink on black) shown dark on white, each fitted in a cell over its caption."""
    rows = (len(images) + columns - 1) // columns
    cell_h = CELL_IMAGE_HEIGHT + CAPTION_HEIGHT
    sheet = Image.new("L", (columns * CELL_WIDTH, max(1, rows) * cell_h), 255)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (im, cap) in enumerate(zip(images, captions, strict=True)):
        x, y = (i % columns) * CELL_WIDTH, (i // columns) * cell_h
        s = min((CELL_WIDTH - 8) / im.width, (CELL_IMAGE_HEIGHT - 8) / im.height, 1.0)
        shown = im.resize(
            (max(1, round(im.width * s)), max(1, round(im.height * s))), Image.Resampling.LANCZOS
        )
        sheet.paste(Image.eval(shown, lambda v: 255 - v), (x + 4, y + 4))
        text = cap if len(cap) <= 88 else cap[:85] + "..."
        draw.text((x + 4, y + CELL_IMAGE_HEIGHT), text, fill=0, font=font)
        draw.rectangle((x, y, x + CELL_WIDTH - 1, y + cell_h - 1), outline=200)
    return sheet


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
    expr = ExpressionConfig(school_fraction=1.0) if args.school_only else ExpressionConfig()
    records = list(synthesize(bank, SynthConfig(n=args.n, seed=args.seed, expressions=expr)))
    sheet = grid([render_offline(r.strokes) for r in records], [f"[{r.kind}] {r.latex}" for r in records])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(
        f"{args.out}: {len(records)} expressions from {len(bank.writers)} writers in {time.monotonic() - t0:.1f} s"
    )
    return 0
