"""ExpRate of whole-page photos against the same expressions with the sheet filling the frame, and clean.

    python benchmarks/page_eval.py [--set test2014|crohme_val] [--n 300] [--seed 0] [--before] [--json OUT]

The test set is built here, seeded, from InkML expressions (`--set test2014`: the first N of CROHME 2014's
test set, for reporting only; `--set crohme_val`: the first N expressions the crohme_val split keeps out of
training, for development). Each expression is drawn (`data.render.render_strokes`, 200 px, pen 5) and
photographed by `data.photo_render.page_photo` twice with the same generator (seed, position): the whole
sheet lying on a desk (wood, dark, grey or a light table in turn; 1600 x 1200, perspective, light, shadow,
a pen, holes, margin), and the same sheet close up, filling the frame (`fill_frame`); both saved as JPEG
quality 85. `--save DIR` writes the photos and a `labels.tsv`. Greedy decoding, one thread. Prints JSON:
per condition n, ExpRate, <=1, <=2; for the whole page also per desk and how often the sheet was found;
`--before` adds the whole-page photos read without the sheet search (`data.preprocess.SHEET_PATH = False`).
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
CROHME = ROOT.parent / "shared" / "crohme"


def records(which: str, n: int) -> list:  # noqa: ANN201
    """The first `n` InkML records of CROHME 2014's test set or of the crohme_val held-out expressions."""
    from data.records import iter_inkml_records

    if which == "test2014":
        out = []
        for rec in iter_inkml_records(CROHME / "inkml" / "test2014"):
            if rec.strokes is not None:
                out.append(rec)
            if len(out) >= n:
                break
        return out
    from data.splits import load_heldout

    out = []
    for name in sorted(load_heldout("crohme_val")):
        found = sorted((CROHME / "inkml" / "train").glob(f"*/{name}.inkml"))
        if not found:
            continue
        out += [r for r in iter_inkml_records(found[0]) if r.strokes is not None]
        if len(out) >= n:
            break
    return out[:n]


def build(recs: list, seed: int, start: int = 0) -> dict[str, list]:
    """{condition: [(name, jpeg bytes or image, reference, desk)]} for the three conditions."""
    import numpy as np

    from data.photo_render import DESKS, PageConfig, page_photo
    from data.render import render_strokes

    out: dict[str, list] = {"clean": [], "sheet_fills_frame": [], "whole_page": []}
    for i, rec in enumerate(recs, start=start):
        ink = render_strokes(rec.strokes, height=200, pen_width=5.0)
        desk = DESKS[i % len(DESKS)]
        out["clean"].append((rec.name, render_strokes(rec.strokes), rec.latex, ""))
        for name, fill in (("whole_page", False), ("sheet_fills_frame", True)):
            shot = page_photo([ink], np.random.default_rng([seed, i]), PageConfig(desk=desk, fill_frame=fill))
            buf = io.BytesIO()
            shot.image.save(buf, format="JPEG", quality=85)
            out[name].append((rec.name, buf.getvalue(), rec.latex, desk))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--set", default="test2014", choices=["test2014", "crohme_val"])
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--start", type=int, default=0, help="skip this many (a run in parts: the same photos)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--before", action="store_true", help="also the whole page without the sheet search")
    p.add_argument("--save", default=None, help="write the photos and labels.tsv here")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    import torch
    from PIL import Image

    import data.preprocess as pre
    from seq2latex.evaluation import EvalSample, evaluate
    from seq2latex.recognizer import Recognizer

    torch.set_num_threads(args.threads)
    rec = Recognizer.from_pretrained(args.model, device="cpu")
    t0 = time.perf_counter()
    sets = build(records(args.set, args.start + args.n)[args.start :], args.seed, args.start)
    build_s = time.perf_counter() - t0
    if args.save:
        folder = Path(args.save)
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for cond in ("whole_page", "sheet_fills_frame"):
            for name, data, ref, desk in sets[cond]:
                (folder / f"{cond}-{name}.jpg").write_bytes(data)
                rows.append(f"{cond}-{name}.jpg\t{desk}\t{ref}")
        (folder / "labels.tsv").write_text("\n".join(rows) + "\n")
    report: dict = {
        "model": f"{rec.card.get('name', '?')} {rec.card.get('version', '')}".strip(),
        "set": args.set,
        "seed": args.seed,
        "start": args.start,
        "beam": 1,
        "build_seconds": round(build_s, 1),
        "conditions": {},
    }

    def samples(cond: str) -> list:
        return [
            EvalSample(name, data if isinstance(data, Image.Image) else Image.open(io.BytesIO(data)), ref)
            for name, data, ref, _ in sets[cond]
        ]

    def run(name: str, cond: str) -> list:
        t = time.perf_counter()
        metrics, results = evaluate(rec, samples(cond), beam=1)
        report["conditions"][name] = {
            "n": metrics["n"],
            "exprate": round(metrics["exprate"], 2),
            "le1": round(metrics["le1"], 2),
            "le2": round(metrics["le2"], 2),
            "seconds": round(time.perf_counter() - t, 1),
        }
        print(name, report["conditions"][name], file=sys.stderr, flush=True)
        return results

    run("clean", "clean")
    run("sheet_fills_frame", "sheet_fills_frame")
    results = run("whole_page", "whole_page")
    by_desk: dict[str, list[int]] = {}
    found: dict[str, int] = {}
    for (_, data, _, desk), r in zip(sets["whole_page"], results, strict=True):
        by_desk.setdefault(desk, []).append(int(r.edits == 0))
        info: dict = {}
        pre.preprocess_array(data, info=info)
        found[desk] = found.get(desk, 0) + int(info.get("sheet_search") == "sheet")
    report["whole_page_by_desk"] = {
        d: {"n": len(v), "exprate": round(100.0 * sum(v) / len(v), 2), "sheet_found": found[d]}
        for d, v in by_desk.items()
    }
    if args.before:
        pre.SHEET_PATH = False
        try:
            run("whole_page_before", "whole_page")
        finally:
            pre.SHEET_PATH = True
    c = report["conditions"]
    report["whole_page_minus_sheet_fills_frame"] = round(
        c["whole_page"]["exprate"] - c["sheet_fills_frame"]["exprate"], 2
    )
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
