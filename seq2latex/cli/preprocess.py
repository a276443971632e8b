"""`seq2latex preprocess IMAGE --out view.png`: write what the model reads from an image (its input).

Prints JSON (shape, which path of `data.preprocess` the image took, blank); exit 0, 3 when no writing was
found (the view is then empty), 2 for an unreadable image or model directory."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def model_preprocess_config(model_dir: str | None) -> object:
    """The `PreprocessConfig` of a model directory (default: the shipped model), from its config.json only."""
    from seq2latex.config import ModelConfig, from_dict, preprocess_config

    root = Path(model_dir) if model_dir else Path(__file__).resolve().parents[1] / "weights" / "default"
    raw = json.loads((root / "config.json").read_text())
    return preprocess_config(from_dict(ModelConfig, raw["model"]))


def view_image(tensor: object, dark_on_light: bool = True) -> object:
    """A model input (1, H, W), ink = 1, as an 8-bit PIL image (dark ink on white unless told otherwise)."""
    import numpy as np
    from PIL import Image

    arr = tensor[0].clamp(0, 1).numpy()  # (H, W)
    if dark_on_light:
        arr = 1.0 - arr
    return Image.fromarray((arr * 255.0 + 0.5).astype(np.uint8), "L")


def run_preprocess(args: argparse.Namespace) -> int:
    from data.photo import looks_clean
    from data.preprocess import PreprocessError, _to_gray, preprocess, to_pil

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
        clean = looks_clean(_to_gray(to_pil(data)))
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
