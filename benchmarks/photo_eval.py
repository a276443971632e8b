"""ExpRate of one model on clean CROHME 2014 and on seeded photo-style copies of it, with the photo path of
`data.preprocess` off (before: every image read as a clean one) and on (after).

    python benchmarks/photo_eval.py [--data ../shared/crohme/offline/2014] [--limit N] [--json runs/photo_eval.json]

The copies are those of `seq2latex eval --augment 1 --seed 0 --paper plain|mixed|squared` (data.augment,
RGB, each image with its own generator seeded by (seed, position)): test data only, never used to choose a
model. Greedy decoding, one thread. Prints JSON: per condition n, ExpRate, <=1, <=2 and the gap to clean.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def iter_inkml(folder: str, limit: int):  # noqa: ANN201
    """(name, strokes, reference) of the first `limit` InkML expressions, in iter_eval_samples' order."""
    from data.records import discover_sources, read_source

    count = 0
    for src in discover_sources(folder):
        for rec in read_source(src).records:
            if count >= limit:
                return
            if rec.strokes is None:
                continue
            count += 1
            yield rec


def phone_sample(rec, seed: int, i: int):  # noqa: ANN001, ANN201
    """A seeded phone photo (squared paper, 1600 x 1200, JPEG q85) of one InkML expression."""
    import io

    import numpy as np
    from PIL import Image

    from data.photo_render import phone_photo
    from data.render import render_strokes
    from seq2latex.evaluation import EvalSample

    ink = render_strokes(rec.strokes, height=200, pen_width=5.0)
    photo = phone_photo(ink, np.random.default_rng([seed, i]), size=(1600, 1200), paper="squared", fill=0.5)
    buf = io.BytesIO()
    photo.save(buf, format="JPEG", quality=85)
    return EvalSample(rec.name, Image.open(io.BytesIO(buf.getvalue())), rec.latex)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "crohme" / "offline" / "2014"))
    p.add_argument("--model", default=None)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--papers", default="plain,mixed,squared")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--phone",
        type=int,
        default=0,
        help="also N phone photos (1600 x 1200 JPEG, squared paper) of the first N InkML test expressions",
    )
    p.add_argument("--inkml", default=str(ROOT.parent / "shared" / "crohme" / "inkml" / "test2014"))
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    import torch

    import data.preprocess as pre
    from seq2latex.evaluation import augment_samples, evaluate, iter_eval_samples
    from seq2latex.recognizer import Recognizer

    torch.set_num_threads(args.threads)
    rec = Recognizer.from_pretrained(args.model, device="cpu")
    clean = list(iter_eval_samples(args.data, limit=args.limit))
    report: dict = {
        "model": f"{rec.card.get('name', '?')} {rec.card.get('version', '')}".strip(),
        "data": args.data,
        "seed": args.seed,
        "beam": 1,
        "conditions": {},
    }

    def run(name: str, samples: list, photo_path: bool) -> None:
        pre.PHOTO_PATH = photo_path
        t0 = time.perf_counter()
        metrics, _ = evaluate(rec, samples, beam=1)
        report["conditions"][name] = {
            "n": metrics["n"],
            "exprate": round(metrics["exprate"], 2),
            "le1": round(metrics["le1"], 2),
            "le2": round(metrics["le2"], 2),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(name, report["conditions"][name], file=sys.stderr, flush=True)

    run("clean", clean, True)
    report["clean_path_identical"] = True  # clean images never take the photo path (tests/data)
    for paper in args.papers.split(","):
        photos = list(augment_samples(iter(clean), 1.0, args.seed, paper=paper))
        run(f"photo_{paper}_before", photos, False)
        run(f"photo_{paper}_after", photos, True)
    base = report["conditions"]["clean"]["exprate"]
    for c in report["conditions"].values():
        c["gap_to_clean"] = round(c["exprate"] - base, 2)
    if args.phone:
        renders = list(iter_eval_samples(args.inkml, limit=args.phone))
        run("phone_clean_render", renders, True)
        phones = [phone_sample(s, args.seed, i) for i, s in enumerate(iter_inkml(args.inkml, args.phone))]
        run("phone_squared_before", phones, False)
        run("phone_squared_after", phones, True)
        base = report["conditions"]["phone_clean_render"]["exprate"]
        for name in ("phone_clean_render", "phone_squared_before", "phone_squared_after"):
            c = report["conditions"][name]
            c["gap_to_clean"] = round(c["exprate"] - base, 2)
    pre.PHOTO_PATH = True
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
