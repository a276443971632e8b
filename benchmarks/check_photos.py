"""Check my working on photos: the kept chains (benchmarks/check_chains.jsonl) of 2-4 lines written by held-out
CROHME writers (the crohme_val writer groups' glyphs, `data.synth`), one writer a chain, photographed as a pupil
would (`data.photo_render.page_photo`'s "working" layout: all lines in one pen, left-aligned, one under the
other), then read line by line and checked as
POST /check does (`api.checking.recognize_photo_lines`,
`check_working`).

    python benchmarks/check_photos.py [--bank runs/synth/glyphs_heldout.pkl] [--model DIR] [--seed 0] [--save DIR]

Two photos a chain: the sheet filling the frame (a close-up) and the whole sheet on a desk (desks in turn);
1600 x 1200 JPEG q85. Chains whose lines the bank cannot write (a class no held-out writer wrote, e.g. \\vee,
\\begin{cases}) are left out and counted. Prints JSON: for each kind of photo, in how many the right number of
lines was found, how many lines were read exactly, and how many chains got the typed chain's
`first_wrong_line`.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bank", default=str(ROOT / "runs" / "synth" / "glyphs_heldout.pkl"))
    p.add_argument("--chains", default=str(ROOT / "benchmarks" / "check_chains.jsonl"))
    p.add_argument("--model", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--save", default=None, help="write the photos here")
    args = p.parse_args(argv)

    import numpy as np
    import torch
    from PIL import Image

    from api.checking import recognize_photo_lines
    from data.photo_render import DESKS, PageConfig, page_photo
    from data.render import RenderConfig
    from data.synth.build import load_bank, written_chains
    from seq2latex.recognizer import Recognizer
    from seq2latex.solver.check import check_working

    torch.set_num_threads(1)
    rec = Recognizer.from_pretrained(args.model, device="cpu")
    bank = load_bank(args.bank)
    chains = [json.loads(line) for line in Path(args.chains).read_text(encoding="utf-8").splitlines() if line]
    rows, skipped = [], 0
    kinds = ("sheet_fills_frame", "whole_page")
    for i, chain, captions, inks in written_chains(chains, bank, args.seed):
        if inks is None:
            skipped += 1
            continue
        typed = check_working(captions, chain["lang"])["first_wrong_line"]
        row = {"id": chain["id"], "lines": captions, "expected": chain["first_wrong_line"], "typed": typed}
        for kind in kinds:
            desk = DESKS[i % len(DESKS)]
            cfg = PageConfig(
                desk=desk,
                paper="squared",
                fill_frame=kind == "sheet_fills_frame",
                p_pen=0.0,
                pen_width_px=RenderConfig.pen_width,
            )
            shot = page_photo(inks, np.random.default_rng([args.seed, i]), cfg)
            buf = io.BytesIO()
            shot.image.save(buf, format="JPEG", quality=85)
            if args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                (Path(args.save) / f"{chain['id']}-{kind}.jpg").write_bytes(buf.getvalue())
            try:
                read = [
                    r.latex
                    for r in recognize_photo_lines(rec, Image.open(io.BytesIO(buf.getvalue())), args.beam)
                ]
            except Exception as exc:  # noqa: BLE001 - an ApiError (nothing to read): counted as no lines
                row[kind] = {"found": 0, "error": str(getattr(exc, "code", exc))}
                continue
            got = check_working(read, chain["lang"])["first_wrong_line"] if len(read) >= 2 else None
            row[kind] = {
                "found": len(read),
                "read": read,
                "exact": sum(a == b for a, b in zip(read, captions, strict=False))
                if len(read) == len(captions)
                else 0,
                "first_wrong_line": got,
            }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    report: dict = {
        "model": f"{rec.card.get('name', '?')} {rec.card.get('version', '')}".strip(),
        "seed": args.seed,
        "beam": args.beam,
        "chains": len(rows),
        "left_out": skipped,
        "lines": sum(len(r["lines"]) for r in rows),
    }
    for kind in kinds:
        right_count = sum(r[kind]["found"] == len(r["lines"]) for r in rows)
        report[kind] = {
            "line_count_right": f"{right_count}/{len(rows)}",
            "line_count_right_pct": round(100.0 * right_count / max(1, len(rows)), 1),
            "lines_read_exactly": f"{sum(r[kind].get('exact', 0) for r in rows)}/{report['lines']}",
            "first_wrong_line_as_typed": f"{sum(r[kind].get('first_wrong_line') == r['typed'] and r[kind]['found'] == len(r['lines']) for r in rows)}/{len(rows)}",
        }
    report["rows"] = rows
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
