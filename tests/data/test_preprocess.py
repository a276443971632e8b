"""`preprocess`: polarity, illumination, EXIF, geometry, errors; a synthetic phone photo."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter, ImageOps

from data.inkml import read_inkml
from data.preprocess import PreprocessConfig, PreprocessError, preprocess
from data.render import render_strokes


@pytest.fixture(scope="module")
def clean(fixtures_dir: Path) -> Image.Image:
    ink = read_inkml(fixtures_dir / "crohme" / "inkml" / "train" / "KAIST" / "TrainData2_14_sub_9.inkml")
    return render_strokes(ink.strokes, height=96, pen_width=3.0)


def _compare(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """(IoU of the ink masks, mean abs difference) after bringing both to the narrower width."""
    w = min(a.shape[-1], b.shape[-1])
    a = torch.nn.functional.interpolate(a[None], size=(a.shape[-2], w), mode="area")[0]
    b = torch.nn.functional.interpolate(b[None], size=(b.shape[-2], w), mode="area")[0]
    ma, mb = a > 0.5, b > 0.5
    return float((ma & mb).sum() / (ma | mb).sum()), float((a - b).abs().mean())


def _phone_photo(clean: Image.Image) -> bytes:
    """Dark blue ink on off-white paper, big, a shadow and a gradient, noise, blur, stored rotated
    90 degrees with EXIF orientation 6 (as phones do), JPEG."""
    rng = np.random.default_rng(0)
    big = clean.resize((clean.width * 4, clean.height * 4), Image.Resampling.BICUBIC)
    big = ImageOps.expand(big, border=120, fill=0)
    a = np.asarray(big, dtype=np.float32)[..., None] / 255.0  # (H, W, 1)
    h, w = a.shape[:2]
    paper = np.array([0.93, 0.91, 0.86], dtype=np.float32)
    ink = np.array([0.10, 0.12, 0.45], dtype=np.float32)
    rgb = paper * (1 - a) + ink * a  # (H, W, 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.0 - 0.35 * xx / w  # gradient
    light *= np.where(xx + 0.6 * yy > 0.55 * w, 0.55, 1.0)  # a hard-edged shadow, softened below
    light = np.asarray(Image.fromarray((light * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(25)))
    rgb = rgb * (light[..., None] / 255.0) + rng.normal(0, 0.02, size=rgb.shape)
    photo = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2))
    stored = photo.transpose(Image.Transpose.ROTATE_90)  # the sensor's orientation
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buf = io.BytesIO()
    stored.save(buf, format="JPEG", quality=80, exif=exif)
    return buf.getvalue()


def test_phone_photo_close_to_clean_render(clean: Image.Image) -> None:
    ref = preprocess(clean)
    photo = preprocess(_phone_photo(clean))
    assert photo.shape[-2] == 64 and abs(photo.shape[-1] - ref.shape[-1]) <= 16
    iou, mad = _compare(photo, ref)
    assert iou > 0.6 and mad < 0.08, (iou, mad)
    # Without the EXIF transpose the image would be portrait and nothing like the render.
    assert photo.shape[-1] > 2 * 64


def test_polarity_and_formats_agree(clean: Image.Image) -> None:
    ref = preprocess(clean)
    inverted = ImageOps.invert(clean)
    arr = np.asarray(inverted)
    for variant in (inverted, inverted.convert("RGB"), arr, arr.astype(np.float32) / 255.0, _png(inverted)):
        out = preprocess(variant)
        assert out.shape == ref.shape
        assert torch.allclose(out, ref, atol=0.05)


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_output_contract(clean: Image.Image) -> None:
    out = preprocess(clean)
    assert out.dtype == torch.float32 and out.shape[0] == 1 and out.shape[1] == 64
    assert out.shape[2] % 16 == 0 and 0.0 <= out.min() and out.max() <= 1.0
    cfg = PreprocessConfig()
    # margins blank, ink touches the content box
    assert out[0, : cfg.margin - 1].max() == 0 and out[0, :, : cfg.margin - 1].max() == 0
    assert out[0, cfg.margin : cfg.margin + 2].max() > 0.5 or out[0, -cfg.margin - 2 :].max() > 0.5
    assert out.mean() < 0.3  # ink is the minority, as 1


def test_wide_input_clamped_and_small_height() -> None:
    wide = Image.new("L", (5000, 60), 255)
    wide.paste(0, (10, 20, 4990, 40))
    out = preprocess(wide, PreprocessConfig(height=32, max_width=256))
    assert out.shape == (1, 32, 256)


def test_blank_and_transparent_and_broken_inputs() -> None:
    for blank in (Image.new("L", (300, 100), 255), Image.new("RGB", (50, 40), (0, 0, 0)), np.zeros((5, 5))):
        out = preprocess(blank)
        assert out.shape[1] == 64 and out.shape[2] <= 32 and out.max() == 0
    rgba = Image.new("RGBA", (200, 80), (0, 0, 0, 0))
    rgba.paste((0, 0, 0, 255), (50, 30, 150, 50))
    assert preprocess(rgba).max() == 1.0
    tiny = Image.new("L", (1, 1), 0)
    assert preprocess(tiny).shape[1] == 64
    for bad in (b"", b"definitely not an image", _png(Image.new("L", (10, 10)))[:30]):
        with pytest.raises(PreprocessError):
            preprocess(bad)
    assert issubclass(PreprocessError, ValueError)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "CMYK", "P", "1", "I;16", "F"])
@pytest.mark.parametrize("size", [(1, 1), (3, 2), (700, 5), (5, 700), (120, 40)])
def test_never_raises_on_valid_images(mode: str, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(size))
    channels = {"RGB": 3, "RGBA": 4, "CMYK": 4, "LA": 2}.get(mode, 1)
    arr = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    im = Image.fromarray(arr, mode) if channels > 1 else Image.fromarray(arr[..., 0]).convert(mode)
    out = preprocess(im)
    assert out.shape[:2] == (1, 64) and out.shape[2] % 16 == 0 and out.shape[2] <= 1024
    assert torch.isfinite(out).all() and 0 <= out.min() and out.max() <= 1


def _strokes_image(levels: int, symbol_px: int = 40, cols: int = 6) -> Image.Image:
    """Dark-on-white drawing: `cols` symbols (box outlines `symbol_px` high, gaps between them) on the
    middle line, then one column stacking `levels` symbols (a fraction-like tower)."""
    from PIL import ImageDraw

    w = (cols + 1) * symbol_px * 2
    h = (levels + 1) * symbol_px * 2
    im = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(im)
    mid = h // 2 - symbol_px // 2
    for c in range(cols):
        x0 = c * 2 * symbol_px + symbol_px // 2
        d.rectangle([x0, mid, x0 + symbol_px * 0.7, mid + symbol_px], outline=0, width=4)
    x0 = cols * 2 * symbol_px + symbol_px // 2
    top = h // 2 - levels * symbol_px * 3 // 4
    for r in range(levels):
        y0 = top + r * symbol_px * 3 // 2
        d.rectangle([x0, y0, x0 + symbol_px * 0.7, y0 + symbol_px], outline=0, width=4)
    return im


def test_symbol_height_estimate_follows_the_symbols_not_the_expression() -> None:
    from data.preprocess import estimate_symbol_height, ink_map

    for px in (30, 60):
        flat = ink_map(_strokes_image(1, px).convert("L"))
        assert estimate_symbol_height(flat) == pytest.approx(px + 1, abs=2)
    assert estimate_symbol_height(np.zeros((10, 10), dtype=np.float32)) is None


def test_variable_height_keeps_symbols_readable() -> None:
    cfg = PreprocessConfig(max_height=128, symbol_height=30)
    flat, tall, huge = (preprocess(_strokes_image(r, 40), cfg) for r in (1, 3, 8))
    assert flat.shape[1] == 64  # one line: the minimum height, as with the fixed 64 px
    assert 64 < tall.shape[1] <= 128 and tall.shape[1] % 16 == 0  # three levels: taller output
    assert huge.shape[1] == 128  # capped
    fixed = preprocess(_strokes_image(3, 40))
    assert fixed.shape[1] == 64
    # in the tall output a symbol is ~30 px high; squeezed into 64 px it would be ~11 px
    rows = torch.nonzero(tall[0].amax(dim=1) > 0.5).flatten()
    assert (rows[-1] - rows[0] + 1) > 2 * 64 - 2 * 4 - 10
    with pytest.raises(ValueError):
        PreprocessConfig(max_height=100)  # not a multiple of 16


# ------------------------------------------------------------------ the clean path does not change


def _clean_inputs(fixtures_dir: Path) -> dict[str, object]:
    """The images of tests/fixtures/preprocess_clean.json, rebuilt as they were hashed."""
    from data.inkml import read_inkml as _read

    out: dict[str, object] = {}
    for f in (
        "crohme/offline/2014/img/34_em_225.png",
        "crohme/offline/2014/img/RIT_2014_97.png",
        "crohme/offline/2014/img/502_em_12.png",
        "images/x2_minus_4.png",
        "images/z3_plus_z.png",
        "images/15_div_5.png",
    ):
        out[f] = (fixtures_dir / f).read_bytes()
    im = Image.open(fixtures_dir / "images" / "2x_plus_1.png").convert("L")
    out["images/2x_plus_1.png inverted (dark ink on white)"] = ImageOps.invert(im)
    ink = _read(fixtures_dir / "crohme" / "inkml" / "train" / "KAIST" / "TrainData2_14_sub_9.inkml")
    out["render_strokes(KAIST/TrainData2_14_sub_9, height=96, pen_width=3.0)"] = render_strokes(
        ink.strokes, height=96, pen_width=3.0
    )
    out["render_strokes(KAIST/TrainData2_14_sub_9) RGB dark on white"] = ImageOps.invert(
        render_strokes(ink.strokes)
    ).convert("RGB")
    return out


def test_clean_images_give_the_same_bytes_as_before_the_photo_path(fixtures_dir: Path) -> None:
    import hashlib
    import json

    expected = json.loads((fixtures_dir / "preprocess_clean.json").read_text())["outputs"]
    inputs = _clean_inputs(fixtures_dir)
    assert len(expected) == 2 * len(inputs)
    for row in expected:
        out = preprocess(inputs[row["image"]], PreprocessConfig(**row["config"]))
        assert list(out.shape) == row["shape"], row["image"]
        assert hashlib.sha256(out.numpy().tobytes()).hexdigest() == row["sha256"], (
            row["image"],
            row["config"],
        )


def test_crohme_2014_images_all_take_the_clean_path(crohme_root: Path) -> None:
    from data.photo import looks_clean
    from data.preprocess import _to_gray, to_pil

    files = sorted((crohme_root / "offline" / "2014" / "img").glob("*.png"))
    assert len(files) == 986
    photo_like = [f.name for f in files if not looks_clean(_to_gray(to_pil(f.read_bytes())))]
    assert photo_like == []


def test_large_jpeg_is_decoded_reduced_but_at_least_the_photo_working_size() -> None:
    from data.preprocess import PHOTO_DECODE_SIDE, to_pil

    buf = io.BytesIO()
    Image.new("RGB", (4000, 3000), (200, 190, 180)).save(buf, format="JPEG", quality=80)
    im = to_pil(buf.getvalue())
    assert PHOTO_DECODE_SIDE <= max(im.size) <= 2 * PHOTO_DECODE_SIDE and im.mode == "L"
