"""`data.photo`: tilt, printed-line removal that keeps crossing strokes, the expression's crop, blank sheets;
and `preprocess` on phone photos of squared paper (`data.photo_render.phone_photo`)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import data.preprocess as pre
from data import photo
from data.augment import AugmentConfig, augment
from data.inkml import read_inkml
from data.photo_render import phone_photo
from data.render import render_strokes


def _grid(h: int = 300, w: int = 400, spacing: int = 25, level: float = 0.2) -> np.ndarray:
    """An ink map of squared paper: faint 2-px lines every `spacing` px."""
    ink = np.zeros((h, w), dtype=np.float32)
    for y in range(spacing // 2, h, spacing):
        ink[y : y + 2] = level
    for x in range(spacing // 2, w, spacing):
        ink[:, x : x + 2] = level
    return ink


def test_tilt_sign_and_size() -> None:
    im = Image.new("L", (600, 400), 0)
    d = ImageDraw.Draw(im)
    for y0 in range(20, 400, 40):  # ruled lines falling 2 degrees to the right
        d.line([(0, y0), (600, y0 + 600 * math.tan(math.radians(2)))], fill=200, width=2)
    marks = np.asarray(im) > 100
    assert photo.estimate_tilt(marks) == pytest.approx(2.0, abs=0.3)
    assert photo.estimate_tilt(marks[:, ::-1]) == pytest.approx(-2.0, abs=0.3)
    ink = np.asarray(im, dtype=np.float32) / 255.0
    turned, angle = photo.straighten(ink, 0.1)
    assert angle == pytest.approx(2.0, abs=0.3)
    assert (ink > 0.3).mean(axis=1).max() < 0.3  # a tilted line crosses many rows ...
    assert (turned > 0.3).mean(axis=1).max() > 0.6  # ... a straightened one fills its row


def test_lines_go_and_crossing_strokes_stay() -> None:
    ink = _grid()
    ink[40:260, 200:205] = 0.9  # a vertical stroke crossing many horizontal lines
    ink[112:114, 60:140] = np.maximum(ink[112:114, 60:140], 0.9)  # a minus sign written ON a line
    out, bands = photo.remove_lines(ink, 0.05)
    assert bands > 0
    stroke = out[40:260, 200:205]
    assert stroke.min() > 0.8  # not cut where it crosses the lines
    assert out[112:114, 60:140].min() > 0.8  # the minus on the line is darker than the line: kept
    line_rows = out[[12, 13, 37, 38, 262, 263], :]
    assert line_rows[:, 300:].max() < 0.05  # the lines themselves are gone
    assert out[:, 312:314].max() < 0.05


def test_no_lines_no_change_and_dark_rules_are_writing() -> None:
    ink = np.zeros((200, 300), dtype=np.float32)
    ink[90:94, 20:280] = 0.9  # a long fraction bar across the page
    ink[40:80, 100:104] = 0.9
    out, bands = photo.remove_lines(ink, 0.05)
    assert bands == 0 and out is ink
    dark = _grid(level=0.9)  # printed lines as dark as the writing cannot be told apart: kept
    out, bands = photo.remove_lines(dark, 0.05)
    assert bands == 0


def test_expression_box_leaves_out_far_specks() -> None:
    marks = np.zeros((400, 600), dtype=bool)
    marks[180:220, 100:140] = True  # two symbols close together
    marks[185:215, 160:190] = True
    marks[10:14, 560:564] = True  # a speck in a corner
    y0, y1, x0, x1 = photo.expression_box(marks)
    assert y0 <= 180 and y1 >= 220 and x0 <= 100 and x1 >= 190
    assert x1 < 560 and y0 > 14
    assert photo.expression_box(np.zeros((100, 100), dtype=bool)) is None


def test_clean_images_look_clean(fixtures_dir: Path) -> None:
    assert photo.looks_clean(Image.open(fixtures_dir / "images" / "x2_minus_4.png").convert("L"))
    photo_like = Image.open(fixtures_dir / "images" / "2x_plus_1_photo.webp").convert("L")
    assert not photo.looks_clean(photo_like)


@pytest.fixture(scope="module")
def ink(fixtures_dir: Path) -> Image.Image:
    strokes = read_inkml(fixtures_dir / "crohme" / "inkml" / "test2014" / "34_em_225.inkml").strokes
    return render_strokes(strokes, height=160, pen_width=4.0)


def _jpeg(im: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _aspect(x: torch.Tensor) -> float:
    """Width / height of the ink in a model input (1, H, W)."""
    ys, xs = torch.nonzero(x[0] > 0.5, as_tuple=True)
    return float((xs.max() - xs.min() + 1) / (ys.max() - ys.min() + 1))


def _ink(x: torch.Tensor) -> float:
    """Ink pixels per unit of ink-box area."""
    ys, xs = torch.nonzero(x[0] > 0.5, as_tuple=True)
    return float(xs.numel() / ((xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)))


@pytest.mark.parametrize("paper", ["squared", "lined"])
def test_phone_photo_on_lined_paper_reads_like_the_clean_render(ink: Image.Image, paper: str) -> None:
    clean = pre.preprocess(ink)
    data = _jpeg(phone_photo(ink, np.random.default_rng(1), size=(1600, 1200), paper=paper))
    after = pre.preprocess(data)
    # the expression found on the page, its lines gone: as wide and as inked as the clean render's
    assert 0.5 < _aspect(after) / _aspect(clean) < 1.5
    assert 0.5 < _ink(after) / _ink(clean) < 2.0


@pytest.mark.parametrize("paper", ["plain", "lined", "squared"])
@pytest.mark.parametrize("seed", [0, 1])
def test_photo_of_an_empty_sheet_is_blank(paper: str, seed: int) -> None:
    empty = Image.new("L", (400, 100), 0)
    data = _jpeg(phone_photo(empty, np.random.default_rng(seed), size=(1600, 1200), paper=paper))
    assert float(pre.preprocess(data).max()) == 0.0


def test_augment_draws_lines_only_when_asked(ink: Image.Image) -> None:
    plain = augment(ink, np.random.default_rng(5), AugmentConfig(strength=0.0))
    again = augment(ink, np.random.default_rng(5), AugmentConfig(strength=0.0, p_lines=0.0))
    assert np.array_equal(np.asarray(plain), np.asarray(again))
    cfg = AugmentConfig(strength=0.0, p_lines=1.0, p_squared=0.0, line_opacity=(0.6, 0.6))
    lined = np.asarray(augment(ink, np.random.default_rng(5), cfg), dtype=np.float32)
    base = np.asarray(plain, dtype=np.float32)
    assert lined.shape == base.shape
    changed = lined != base  # the same photo but for the printed lines, darker than the paper
    assert changed.mean() > 0.003
    assert (lined[changed] < base[changed]).all()


def test_stroke_width_and_thin_photo_strokes_widened(
    fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bars = np.zeros((64, 200), dtype=np.float32)
    bars[10:13, 10:190] = 1.0  # 3 px
    bars[40:45, 10:190] = 1.0  # 5 px
    assert photo.stroke_width(bars) == pytest.approx(4.0, abs=0.3)
    assert photo.stroke_width(np.zeros((8, 8), dtype=np.float32)) == 0.0
    fine = render_strokes(
        read_inkml(fixtures_dir / "crohme" / "inkml" / "test2014" / "34_em_225.inkml").strokes,
        height=240,
        pen_width=3.0,
    )
    data = _jpeg(phone_photo(fine, np.random.default_rng(3), size=(1600, 1200), paper="squared"))
    info: dict = {}
    gray = pre._to_gray(pre.to_pil(data))
    out = pre.preprocess_photo(gray, pre.PreprocessConfig(), info)
    assert info["stroke_width"] < pre.PHOTO_THIN_BELOW * pre.PHOTO_STROKE_WIDTH  # a fine pen, scaled down
    monkeypatch.setattr(pre, "PHOTO_THIN_BELOW", 0.0)
    thin = pre.preprocess_photo(gray, pre.PreprocessConfig())
    assert out.shape == thin.shape and float(out.sum()) > 1.2 * float(thin.sum())  # read more boldly
