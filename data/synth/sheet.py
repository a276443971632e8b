"""A contact sheet of synthetic handwritten expressions with their LaTeX: the work of `seq2latex synth`
(`seq2latex.cli.synth`)."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from data.synth.build import SynthConfig, render_offline, synthesize
from data.synth.expressions import ExpressionConfig
from data.synth.glyphs import GlyphBank

CELL_WIDTH = 560
CELL_IMAGE_HEIGHT = 110
CAPTION_HEIGHT = 30
COLUMNS = 4


def default_inkml() -> Path:
    """The CROHME InkML training folder (`$SEQ2LATEX_CROHME`, else ../shared/crohme beside the repository)."""
    root = Path(
        os.environ.get("SEQ2LATEX_CROHME", Path(__file__).resolve().parents[2].parent / "shared" / "crohme")
    )
    return root / "inkml" / "train"


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


def synth_sheet(bank: GlyphBank, n: int, seed: int = 0, school_only: bool = False) -> tuple[Image.Image, int]:
    """`n` synthetic expressions written from `bank` (school captions only if asked), as a `grid` captioned
    `[kind] LaTeX`, and how many there are."""
    expr = ExpressionConfig(school_fraction=1.0) if school_only else ExpressionConfig()
    records = list(synthesize(bank, SynthConfig(n=n, seed=seed, expressions=expr)))
    sheet = grid([render_offline(r.strokes) for r in records], [f"[{r.kind}] {r.latex}" for r in records])
    return sheet, len(records)
