"""The drawn-equation check of issue 37: six school equations written by held-out CROHME writers (the glyphs of
the crohme_val writer groups, `data.synth`), on squared paper with the desk in view, read by a model.

    python benchmarks/page_drawn.py --bank runs/synth/glyphs_heldout.pkl [--model DIR] [--seed 0] [--save DIR]

Each equation is written by one held-out writer (`data.synth.layout.write`), drawn (`render_strokes`, 200 px,
pen 5) and photographed whole (`data.photo_render.page_photo`: squared paper on each desk in turn, 1600 x 1200,
JPEG q85; the same photo also with the sheet filling the frame). Greedy decoding. Prints JSON: per equation
the reading of the whole page, of the close-up and of the same photo without the sheet search, and the
counts read right.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The six school equations (the tokenizer's canonical captions) of the check.
EQUATIONS = (
    "2 x + 3 = 7",
    "x ^ { 2 } - 5 x + 6 = 0",
    "\\frac { x } { 3 } + \\frac { x } { 6 } = 3",
    "\\sqrt { x + 4 } = 3",
    "3 ( x - 2 ) = 1 2",
    "x ^ { 2 } = 1 6",
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bank", default=str(ROOT / "runs" / "synth" / "glyphs_heldout.pkl"))
    p.add_argument("--model", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", default=None, help="write the photos here")
    args = p.parse_args(argv)

    import numpy as np
    import torch
    from PIL import Image

    import data.preprocess as pre
    from data.photo_render import DESKS, PageConfig, page_photo
    from data.render import render_strokes
    from data.synth.build import choose_writer, load_bank
    from data.synth.layout import needed_classes, write
    from seq2latex.recognizer import Recognizer

    torch.set_num_threads(1)
    rec = Recognizer.from_pretrained(args.model, device="cpu")
    bank = load_bank(args.bank)
    rows = []
    for i, caption in enumerate(EQUATIONS):
        rng = random.Random(f"{args.seed}-{i}")
        writer = choose_writer(rng, bank, bank.writers, needed_classes(caption), 8)
        ink = render_strokes(write(caption, bank, writer, rng), height=200, pen_width=5.0)
        desk = DESKS[i % len(DESKS)]
        row = {"caption": caption, "writer": writer, "desk": desk}
        for name, fill in (("whole_page", False), ("sheet_fills_frame", True)):
            cfg = PageConfig(desk=desk, paper="squared", fill_frame=fill)
            shot = page_photo([ink], np.random.default_rng([args.seed, i]), cfg)
            buf = io.BytesIO()
            shot.image.save(buf, format="JPEG", quality=85)
            if args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                (Path(args.save) / f"{name}-{i}.jpg").write_bytes(buf.getvalue())
            im = Image.open(io.BytesIO(buf.getvalue()))
            row[name] = " ".join(rec([im])[0].tokens)
            if not fill:
                pre.SHEET_PATH = False
                try:
                    row["whole_page_without_sheet_search"] = " ".join(rec([im])[0].tokens)
                finally:
                    pre.SHEET_PATH = True
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
    report = {
        "model": f"{rec.card.get('name', '?')} {rec.card.get('version', '')}".strip(),
        "seed": args.seed,
        "equations": rows,
    }
    for key in ("whole_page", "sheet_fills_frame", "whole_page_without_sheet_search"):
        report[f"{key}_right"] = f"{sum(r[key] == r['caption'] for r in rows)}/{len(rows)}"
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
