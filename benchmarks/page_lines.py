"""Lines of working on a page, for "Check my working": the kept chains of school-maths steps
(benchmarks/check_chains.jsonl, 2-4 lines each), each written by a held-out CROHME writer (the glyphs of the
crohme_val writer groups, `data.synth`), photographed, and how often `data.preprocess.find_lines` finds the
number of lines written (nothing is read: no model).

    python benchmarks/page_lines.py [--bank runs/synth/glyphs_heldout.pkl] [--seed 0] [--n N]

Each chain is drawn (`data.synth.build.render_offline`: every line at one scale, as one hand writes) and photographed (`data.photo_render.page_photo`,
1600 x 1200, JPEG q85) four times: as a pupil writes it (layout "working": one pen, left-aligned) and with
its lines scattered across the sheet (layout "scattered": each line scaled alone, anywhere), each as the whole
sheet on a desk (wood, dark, grey and light in turn; plain, ruled or squared paper at random) and the same
sheet filling the frame. Chains the bank cannot write (a class no held-out writer wrote) are left out. Prints
JSON: per view the share of photos whose line count is right and whose every box lies on its line (each
written line's centre inside one box found, in order), and the photos that missed.
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
    p.add_argument("--chains", default=str(ROOT / "benchmarks" / "check_chains.jsonl"))
    p.add_argument("--n", type=int, default=None, help="at most this many chains")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import numpy as np

    import data.preprocess as pre
    from data.photo_render import DESKS, PageConfig, page_photo
    from data.render import RenderConfig
    from data.synth.build import load_bank, written_chains

    bank = load_bank(args.bank)
    chains = [json.loads(line) for line in Path(args.chains).read_text(encoding="utf-8").splitlines() if line]
    views = {
        f"{layout}_{name}": (layout, fill)
        for layout in ("working", "scattered")
        for name, fill in (("desk_in_view", False), ("sheet_fills_frame", True))
    }
    report: dict = {"bank": args.bank, "seed": args.seed, "left_out": 0, "views": {}}
    t0 = time.perf_counter()
    rows: dict[str, list] = {name: [] for name in views}
    done = 0
    for i, chain, captions, inks in written_chains(chains, bank, args.seed):
        if inks is None:
            report["left_out"] += 1
            continue
        if args.n is not None and done >= args.n:
            break
        done += 1
        for name, (layout, fill) in views.items():
            cfg = PageConfig(
                desk=DESKS[i % len(DESKS)],
                fill_frame=fill,
                layout=layout,
                pen_width_px=RenderConfig.pen_width,
            )
            shot = page_photo(inks, np.random.default_rng([args.seed, i]), cfg)
            buf = io.BytesIO()
            shot.image.save(buf, format="JPEG", quality=85)
            found = pre.find_lines(buf.getvalue())
            rows[name].append(
                {
                    "i": i,
                    "id": chain["id"],
                    "desk": shot.desk or None,
                    "paper": shot.paper,
                    "written": len(captions),
                    "found": found.count,
                    "boxes_on_lines": on_lines(found.boxes, shot.lines, shot.image.size),
                    "sheet": found.sheet is not None,
                }
            )
    report["chains"] = done
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
