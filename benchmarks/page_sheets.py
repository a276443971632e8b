"""How often the sheet is found on each kind of desk: whole-page photos (`data.photo_render.page_photo`, the
default PageConfig at 1600 x 1200, a CROHME 2014 fixture expression, JPEG q85), seeds [7, start..start+n-1] per desk.

    python benchmarks/page_sheets.py [--n 25] [--start 0] [--desks wood dark grey light] [--tolerance 40]

A sheet counts as found when `data.page.find_sheet` answers "sheet" and each of the true corners inside the
frame is within `--tolerance` px of the one found (the test `tests/data/test_page.py::
test_the_sheet_is_found_on_each_desk` uses the same photos). Prints JSON: per desk the count found, the
seeds missed and what was answered for them (kind, worst corner error), and each seed's worst corner error
(px; null where no sheet was found).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INKML = ROOT / "tests" / "fixtures" / "crohme" / "inkml" / "test2014" / "RIT_2014_97.inkml"


def corner_error(found, truth, size: tuple[int, int]) -> float:
    """The largest distance (px, per axis) between found and true corners, over the true corners in view."""
    import numpy as np

    w, h = size
    inside = (truth[:, 0] >= 0) & (truth[:, 0] < w) & (truth[:, 1] >= 0) & (truth[:, 1] < h)
    return float(np.abs(found - truth)[inside].max(initial=0.0))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=25)
    p.add_argument("--start", type=int, default=0, help="the first seed")
    p.add_argument("--desks", nargs="+", default=None)
    p.add_argument("--tolerance", type=float, default=40.0)
    args = p.parse_args(argv)

    import numpy as np

    import data.preprocess as pre
    from data import page
    from data.inkml import read_inkml
    from data.photo_render import DESKS, PageConfig, page_photo
    from data.render import render_strokes

    ink = render_strokes(read_inkml(INKML).strokes, height=200, pen_width=5.0)
    report: dict = {
        "seeds": [args.start, args.start + args.n - 1],
        "tolerance_px": args.tolerance,
        "desks": {},
    }
    t0 = time.perf_counter()
    for desk in args.desks or DESKS:
        found, missed, errors = 0, [], []
        for seed in range(args.start, args.start + args.n):
            shot = page_photo([ink], np.random.default_rng([7, seed]), PageConfig(desk=desk))
            buf = io.BytesIO()
            shot.image.save(buf, format="JPEG", quality=85)
            gray = pre._to_gray(pre.to_pil(buf.getvalue()))
            got = page.find_sheet(gray)
            err = corner_error(got.corners, shot.sheet, gray.size) if got.kind == "sheet" else None
            errors.append(None if err is None else round(err))
            if err is not None and err < args.tolerance:
                found += 1
            else:
                missed.append(
                    {"seed": seed, "kind": got.kind, "error_px": None if err is None else round(err)}
                )
        report["desks"][desk] = {"found": found, "missed": missed, "errors_px": errors}
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
