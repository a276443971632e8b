"""The pictures of docs/photos.md: phone photos (data.photo_render.phone_photo, seeded) of CROHME 2014 test
expressions on squared, ruled and plain paper, and what the model reads from each with the photo path of
data.preprocess off (before) and on (after).

    python benchmarks/photo_figures.py [--out docs/photos-before-after.png]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INKML = ROOT / "tests" / "fixtures" / "crohme" / "inkml" / "test2014"
EXAMPLES = (("34_em_225", "squared", 0), ("RIT_2014_225", "lined", 1), ("34_em_225", "plain", 2))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "photos-before-after.png"))
    p.add_argument("--photo", default=str(ROOT / "docs" / "photos-squared.jpg"), help="one photo, as sent")
    args = p.parse_args(argv)

    import numpy as np
    from PIL import Image, ImageDraw

    import data.preprocess as pre
    from data.inkml import read_inkml
    from data.photo_render import phone_photo
    from data.render import render_strokes

    thumb_w, gap, label_h = 360, 12, 22
    rows = []
    for name, paper, seed in EXAMPLES:
        ink = render_strokes(read_inkml(INKML / f"{name}.inkml").strokes, height=200, pen_width=5.0)
        photo = phone_photo(ink, np.random.default_rng(seed), size=(1600, 1200), paper=paper, fill=0.5)
        buf = io.BytesIO()
        photo.save(buf, format="JPEG", quality=85)
        data = buf.getvalue()
        if paper == "squared":
            photo.resize((800, 600), Image.Resampling.BOX).save(args.photo, quality=80)
        pre.PHOTO_PATH = False
        before = pre.preprocess(data)[0].numpy()
        pre.PHOTO_PATH = True
        after = pre.preprocess(data)[0].numpy()
        views = [
            photo.resize((thumb_w, thumb_w * 3 // 4), Image.Resampling.BOX).convert("L"),
            Image.fromarray((255 - before * 255).astype(np.uint8)),
            Image.fromarray((255 - after * 255).astype(np.uint8)),
        ]
        rows.append((f"{name}, {paper} paper", views))
    col_w = [thumb_w, max(r[1][1].width for r in rows), max(r[1][2].width for r in rows)]
    row_h = thumb_w * 3 // 4 + label_h
    sheet = Image.new("L", (sum(col_w) + 4 * gap, len(rows) * (row_h + gap) + gap + label_h), 255)
    draw = ImageDraw.Draw(sheet)
    heads = ["phone photo (1600 x 1200 JPEG)", "model input before (clean path)", "model input after (photo path)"]
    x = gap
    for head, w in zip(heads, col_w, strict=True):
        draw.text((x, 4), head, fill=0)
        x += w + gap
    for i, (label, views) in enumerate(rows):
        y = label_h + gap + i * (row_h + gap)
        draw.text((gap, y), label, fill=0)
        x = gap
        for view, w in zip(views, col_w, strict=True):
            sheet.paste(view, (x, y + label_h))
            draw.rectangle([x - 1, y + label_h - 1, x + view.width, y + label_h + view.height], outline=160)
            x += w + gap
    sheet.save(args.out, optimize=True)
    print(args.out, sheet.size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
