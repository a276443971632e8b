"""`seq2latex preprocess IMAGE --out view.png`: write what the model reads from an image (its input).

Prints JSON (shape, which path of `data.preprocess` the image took, blank); exit 0, 3 when no writing was
found (the view is then empty), 2 for an unreadable image or model directory. The work: `data.preprocess`
(the input, the path, `view_image`) and `seq2latex.config.model_preprocess_config`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def run_preprocess(args: argparse.Namespace) -> int:
    from data.preprocess import PreprocessError, looks_clean_image, preprocess, view_image
    from seq2latex.config import model_preprocess_config

    try:
        cfg = model_preprocess_config(args.model)
    except (OSError, KeyError, ValueError) as exc:
        print(f"error: cannot read the model's config: {exc}", file=sys.stderr)
        return 2
    try:
        data = Path(args.image).read_bytes()
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        tensor = preprocess(data, cfg)
        clean = looks_clean_image(data)
    except PreprocessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    blank = float(tensor.max()) <= 0.0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    view_image(tensor, dark_on_light=not args.model_polarity).save(out)
    print(
        json.dumps(
            {
                "image": str(args.image),
                "out": str(out),
                "shape": list(tensor.shape),
                "path": "clean" if clean else "photo",
                "blank": blank,
            }
        )
    )
    if blank:
        print("no handwriting found in the image", file=sys.stderr)
    return 3 if blank else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("preprocess", help="write the model's input for an image (what it reads)")
    p.add_argument("image", help="a photo, scan or render")
    p.add_argument("--out", required=True, help="PNG to write (the model input, dark ink on white)")
    p.add_argument(
        "--model", default=None, help="model directory whose input size is used (default: shipped)"
    )
    p.add_argument(
        "--model-polarity",
        action="store_true",
        help="write it as the model sees it: white ink (1) on black (0)",
    )
    p.set_defaults(func=run_preprocess)
