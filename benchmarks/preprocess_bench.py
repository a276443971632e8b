"""Preprocessing speed on a phone photo: bytes of a 12 MP JPEG -> model input, decoding included, one core.

    python benchmarks/preprocess_bench.py [--image PHOTO.jpg | --page] [--repeat 20] [--save-photo photo.jpg]

Without `--image` it builds the photo (seeded): a CROHME 2014 expression of tests/fixtures drawn 500 px high
on squared paper, 4000 x 3000, through `data.photo_render.phone_photo`, JPEG quality 90. The process is pinned to
one CPU core with one torch thread. Prints JSON: image size and bytes, output shape, ms per call (min,
median, p90), and what the photo path did (tilt, line bands, crop).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INKML = ROOT / "tests" / "fixtures" / "crohme" / "inkml" / "test2014" / "34_em_225.inkml"


def build_photo(seed: int = 0, size: tuple[int, int] = (4000, 3000), paper: str = "squared") -> bytes:
    import numpy as np

    from data.inkml import read_inkml
    from data.photo_render import phone_photo
    from data.render import render_strokes

    ink = render_strokes(read_inkml(INKML).strokes, height=500, pen_width=12.0)
    photo = phone_photo(ink, np.random.default_rng(seed), size=size, paper=paper)
    buf = io.BytesIO()
    photo.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def build_page(seed: int = 0, size: tuple[int, int] = (4000, 3000), desk: str = "wood") -> bytes:
    """A 12 MP photo of a whole sheet of squared paper on a desk, the same expression written on it."""
    import numpy as np

    from data.inkml import read_inkml
    from data.photo_render import PageConfig, page_photo
    from data.render import render_strokes

    ink = render_strokes(read_inkml(INKML).strokes, height=200, pen_width=5.0)
    shot = page_photo([ink], np.random.default_rng(seed), PageConfig(size=size, desk=desk, paper="squared"))
    buf = io.BytesIO()
    shot.image.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--image", default=None, help="a photo to time (default: the built 12 MP squared-paper JPEG)"
    )
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--paper", default="squared", choices=["plain", "lined", "squared"])
    p.add_argument("--save-photo", default=None, help="write the built photo here")
    p.add_argument(
        "--page", action="store_true", help="build a whole sheet lying on a desk (data.photo_render.page_photo)"
    )
    p.add_argument("--core", type=int, default=None, help="CPU core to pin to (default: the first allowed)")
    args = p.parse_args(argv)

    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if cores:
        os.sched_setaffinity(0, {args.core if args.core is not None else cores[0]})
    import torch
    from PIL import Image

    from data.preprocess import PreprocessConfig, preprocess

    torch.set_num_threads(1)
    if args.image:
        data = Path(args.image).read_bytes()
    elif args.page:
        data = build_page(args.seed)
    else:
        data = build_photo(args.seed, paper=args.paper)
    if args.save_photo:
        Path(args.save_photo).write_bytes(data)
    cfg = PreprocessConfig()
    out = preprocess(data, cfg)  # warm-up
    times = []
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        out = preprocess(data, cfg)
        times.append((time.perf_counter() - t0) * 1000.0)
    info: dict = {}
    preprocess(data, cfg, info=info)
    with Image.open(io.BytesIO(data)) as full:
        size = list(full.size)
    times.sort()
    report = {
        "image": args.image
        or (
            f"built: {INKML.name} on a whole sheet of squared paper on a wood desk, seed {args.seed}, JPEG q90"
            if args.page
            else f"built: {INKML.name} on {args.paper} paper, seed {args.seed}, JPEG q90"
        ),
        "size": size,
        "megapixels": round(size[0] * size[1] / 1e6, 2),
        "bytes": len(data),
        "output_shape": list(out.shape),
        "repeat": len(times),
        "ms_min": round(times[0], 1),
        "ms_median": round(statistics.median(times), 1),
        "ms_p90": round(times[min(len(times) - 1, int(0.9 * len(times)))], 1),
        "cores": 1 if cores else None,
        "torch_threads": torch.get_num_threads(),
        "photo_path": info,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
