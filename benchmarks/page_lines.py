"""Lines of working on a page, for "Check my working": photos of 2-4 lines of school-maths steps, each written by
a held-out CROHME writer (the glyphs of the crohme_val writer groups, `data.synth`), and how often
`data.preprocess.find_lines` finds the number of lines written.

    python benchmarks/page_lines.py --bank runs/synth/glyphs_heldout.pkl [--n 40] [--seed 0]

Each photo: one chain of steps (its first 2-4 lines, one writer for the page), drawn (`render_strokes`, 200 px,
pen 5) and photographed (`data.photo_render.page_photo`, 1600 x 1200, JPEG q85) twice: the whole sheet on a
desk (wood, dark, grey and light in turn; plain, ruled or squared paper at random) and the same sheet filling
the frame. Prints JSON: per view the share of photos whose line count is right and whose every box lies on its
line (each written line's centre inside one box found, in order), and the photos that missed.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Chains of school-maths steps (the tokenizer's canonical captions), one step a line.
CHAINS = (
    ("3 ( x - 2 ) = 9", "3 x - 6 = 9", "3 x = 1 5", "x = 5"),
    ("2 x + 3 = 7", "2 x = 4", "x = 2"),
    ("5 x - 4 = 2 x + 8", "3 x - 4 = 8", "3 x = 1 2", "x = 4"),
    ("\\frac { x } { 2 } + 1 = 4", "\\frac { x } { 2 } = 3", "x = 6"),
    ("x ^ { 2 } - 9 = 0", "x ^ { 2 } = 9", "x = 3"),
    ("4 ( x + 1 ) = 2 0", "x + 1 = 5", "x = 4"),
    ("\\frac { 2 x + 1 } { 3 } = 5", "2 x + 1 = 1 5", "2 x = 1 4", "x = 7"),
    ("7 - x = 3", "- x = - 4", "x = 4"),
    ("x ^ { 2 } + 2 x = 0", "x ( x + 2 ) = 0", "x = 0"),
    ("\\sqrt { x } = 3", "x = 9"),
)


def on_lines(boxes: list, truths: list, size: tuple[int, int]) -> bool:
    """Each written line's centre inside the box found for it (same order)."""
    import numpy as np

    if len(boxes) != len(truths):
        return False
    for box, truth in zip(boxes, truths, strict=True):
        b = np.array(box) * np.array(size)
        cx, cy = truth.mean(axis=0)
        if not (b[:, 0].min() <= cx <= b[:, 0].max() and b[:, 1].min() <= cy <= b[:, 1].max()):
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bank", default=str(ROOT / "runs" / "synth" / "glyphs_heldout.pkl"))
    p.add_argument("--n", type=int, default=40, help="photos per view")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import numpy as np

    import data.preprocess as pre
    from data.photo_render import DESKS, PageConfig, page_photo
    from data.render import render_strokes
    from data.synth.build import choose_writer, load_bank
    from data.synth.layout import needed_classes, write

    bank = load_bank(args.bank)
    views = {"desk_in_view": False, "sheet_fills_frame": True}
    report: dict = {"bank": args.bank, "n": args.n, "seed": args.seed, "views": {}}
    t0 = time.perf_counter()
    rows = {name: [] for name in views}
    for i in range(args.n):
        rng = random.Random(f"{args.seed}-{i}")
        chain = CHAINS[i % len(CHAINS)]
        lines = list(chain[: rng.randint(2, len(chain))]) if len(chain) > 2 else list(chain)
        need = set().union(*(needed_classes(c) for c in lines))
        writer = choose_writer(rng, bank, bank.writers, need, 8)
        inks = [render_strokes(write(c, bank, writer, rng), height=200, pen_width=5.0) for c in lines]
        for name, fill in views.items():
            cfg = PageConfig(desk=DESKS[i % len(DESKS)], fill_frame=fill)
            shot = page_photo(inks, np.random.default_rng([args.seed, i]), cfg)
            buf = io.BytesIO()
            shot.image.save(buf, format="JPEG", quality=85)
            found = pre.find_lines(buf.getvalue())
            rows[name].append(
                {
                    "i": i,
                    "desk": shot.desk or None,
                    "paper": shot.paper,
                    "written": len(lines),
                    "found": found.count,
                    "boxes_on_lines": on_lines(found.boxes, shot.lines, shot.image.size),
                    "sheet": found.sheet is not None,
                    "first": lines[0],
                }
            )
    for name, got in rows.items():
        right = [r for r in got if r["found"] == r["written"]]
        placed = [r for r in right if r["boxes_on_lines"]]
        report["views"][name] = {
            "count_right": f"{len(right)}/{len(got)}",
            "count_right_pct": round(100.0 * len(right) / max(1, len(got)), 1),
            "boxes_on_lines_pct": round(100.0 * len(placed) / max(1, len(got)), 1),
            "missed": [r for r in got if r["found"] != r["written"] or not r["boxes_on_lines"]],
        }
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
