"""Symbol classes, per-class counts and the single-symbol crop dataset."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from data.augment import AugmentConfig
from data.inkml import Symbol
from data.records import Record, iter_inkml_records, iter_offline_records
from data.render import render_symbol
from data.symbols import (
    CROHME_SYMBOL_CLASSES,
    SymbolDataset,
    build_symbol_classes,
    load_symbol_classes,
    median_symbol_extent,
    normalize_label,
    save_symbol_classes,
    symbol_counts,
    symbol_tensor,
    symbol_views,
)


@pytest.fixture(scope="module")
def ink_records(fixtures_dir: Path) -> list[Record]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(iter_inkml_records(fixtures_dir / "crohme" / "inkml"))


def test_class_list(ink_records: list[Record], tmp_path: Path) -> None:
    assert len(CROHME_SYMBOL_CLASSES) == 101 and len(set(CROHME_SYMBOL_CLASSES)) == 101
    classes = build_symbol_classes(ink_records)
    assert classes == sorted(classes) and set(classes) <= set(CROHME_SYMBOL_CLASSES)
    assert normalize_label("\\lt") == "<" and normalize_label(" x ") == "x"
    save_symbol_classes(classes, tmp_path / "symbols.json")
    assert load_symbol_classes(tmp_path / "symbols.json") == classes


def test_full_train_classes_match_constant(crohme_root: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recs = iter_inkml_records(crohme_root / "inkml" / "train")
        assert tuple(build_symbol_classes(recs)) == CROHME_SYMBOL_CLASSES


def test_counts_from_groups_and_from_captions_agree(ink_records: list[Record], fixtures_dir: Path) -> None:
    classes = list(CROHME_SYMBOL_CLASSES)
    offline = {r.name: r for r in iter_offline_records(fixtures_dir / "crohme" / "offline" / "train")}
    pairs = [(r, offline[r.name]) for r in ink_records if r.name in offline]
    assert len(pairs) >= 25
    agree = 0
    for ink, off in pairs:
        a = symbol_counts(ink, classes)
        b = symbol_counts(off, classes)
        assert a is not None and b is not None and a.shape == (101,) and a.dtype == np.float32
        assert a.sum() == len(ink.symbols or [])
        agree += bool(np.array_equal(a, b))
    assert agree >= 0.9 * len(pairs)
    frac = Record(name="f", latex="\\frac { 1 } { x } + \\sqrt [ 3 ] { [ 2 ] }")
    c = symbol_counts(frac, classes)
    assert c is not None
    got = {classes[i]: int(v) for i, v in enumerate(c) if v}
    assert got == {"-": 1, "1": 1, "x": 1, "+": 1, "\\sqrt": 1, "3": 1, "[": 1, "2": 1, "]": 1}
    assert symbol_counts(Record(name="e", latex=""), classes) is None


def test_symbol_dataset(ink_records: list[Record]) -> None:
    classes = list(CROHME_SYMBOL_CLASSES)
    ds = SymbolDataset(ink_records, classes, size=48)
    assert len(ds) == sum(len(r.symbols or []) for r in ink_records)
    seen = set()
    for i in range(0, len(ds), max(1, len(ds) // 25)):
        x, y = ds[i]
        assert x.shape == (1, 48, 48) and x.dtype == torch.float32
        assert 0 <= y < len(classes) and x.max() > 0.5 and x.mean() < 0.5
        seen.add(y)
    assert len(seen) > 5
    # the crop is the symbol: a crop of "-" is wide and flat, of "1" tall and thin
    minus = next(i for i, c in enumerate(ds.labels()) if classes[c] == "-")
    x, _ = ds[minus]
    rows = torch.nonzero(x[0].amax(dim=1) > 0.5).flatten()
    cols = torch.nonzero(x[0].amax(dim=0) > 0.5).flatten()
    assert (cols[-1] - cols[0]) > 2 * (rows[-1] - rows[0])
    aug = SymbolDataset(ink_records, classes, size=48, augment_cfg=AugmentConfig())
    a1, y1 = aug[minus]
    a2, _ = aug[minus]
    assert torch.equal(a1, a2) and y1 == ds[minus][1]
    aug.set_epoch(1)
    assert not torch.equal(aug[minus][0], a1)


def test_symbol_tensor_from_a_user_image() -> None:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (300, 200), (235, 230, 220))
    ImageDraw.Draw(im).line([(140, 40), (160, 160)], fill=(20, 20, 60), width=6)  # a tall thin "1"
    x = symbol_tensor(im, size=64)
    assert x.shape == (1, 64, 64) and x.max() > 0.9
    cols = torch.nonzero(x[0].amax(dim=0) > 0.5).flatten()
    rows = torch.nonzero(x[0].amax(dim=1) > 0.5).flatten()
    assert rows[-1] - rows[0] > 50 and cols[-1] - cols[0] < 25  # tall, thin, centred
    assert abs((cols[0] + cols[-1]) / 2 - 31.5) < 3


def _tilt_degrees(x: torch.Tensor) -> float:
    """Counter-clockwise tilt from vertical of the ink's principal axis in a (1, S, S) crop."""
    ys, xs = torch.nonzero(x[0] > 0.5, as_tuple=True)
    dx, dy = xs.float() - xs.float().mean(), ys.float() - ys.float().mean()
    cov = torch.tensor([[(dx * dx).mean(), (dx * dy).mean()], [(dx * dy).mean(), (dy * dy).mean()]])
    vx, vy = torch.linalg.eigh(cov).eigenvectors[:, -1].tolist()  # the long axis, in image (x, y down)
    if vy < 0:
        vx, vy = -vx, -vy  # point it down the page
    return float(np.degrees(np.arctan2(vx, vy)))  # > 0: the foot lies right of the head


def test_symbol_views_turn_the_symbol_both_ways() -> None:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (300, 200), (235, 230, 220))
    ImageDraw.Draw(im).line([(150, 30), (150, 170)], fill=(20, 20, 60), width=8)  # an upright bar
    views = symbol_views(im, size=64, angles=(4.0, -4.0))
    assert views.shape == (3, 1, 64, 64)
    assert torch.equal(views[0], symbol_tensor(im, size=64))
    tilts = [_tilt_degrees(v) for v in views]
    assert abs(tilts[0]) < 0.5
    # PIL turns counter-clockwise for a positive angle: the bar's foot swings right
    assert 2.5 < tilts[1] < 5.5 and -5.5 < tilts[2] < -2.5
    for v in views[1:]:  # the same ink, still filling the crop's height
        rows = torch.nonzero(v[0].amax(dim=1) > 0.5).flatten()
        assert rows[-1] - rows[0] > 50
    assert symbol_views(im, size=64, angles=()).shape == (1, 1, 64, 64)
    blank = symbol_views(Image.new("L", (50, 50), 255), size=64)
    assert blank.shape == (3, 1, 64, 64) and float(blank.abs().sum()) == 0.0


def _padded_zero(pad: int) -> Image.Image:
    """A thin "0" 20 x 30 px (pen 2 px) with `pad` px of white paper around it, as a cropped photo."""
    im = Image.new("RGB", (20 + 2 * pad, 30 + 2 * pad), (255, 255, 255))
    ImageDraw.Draw(im).ellipse((pad, pad, pad + 20, pad + 30), outline=(0, 0, 0), width=2)
    return im


@pytest.mark.parametrize("pad", [0, 10, 20])
def test_turned_views_of_a_padded_crop_keep_the_ink(pad: int) -> None:
    """The turned views hold the same ink as the crop itself, with or without a margin around the
    symbol (they once came out almost all ink with 10 px of margin: mean 0.62 against 0.14)."""
    views = symbol_views(_padded_zero(pad), size=64, angles=(4.0, -4.0))
    means = [float(v.mean()) for v in views]
    assert 0.05 < means[0] < 0.25
    for m in means[1:]:
        assert abs(m - means[0]) < 0.2 * means[0], means
    for v in views[1:]:  # background stays background: the crop's corners hold no ink
        assert float(v[0, :4, :4].max()) == 0.0 and float(v[0, -4:, -4:].max()) == 0.0


def _cross_record(extents: list[float]) -> Record:
    """One expression of "x" crosses side by side, one per extent (ink units), two strokes each."""
    strokes, symbols, left = [], [], 0.0
    for k, e in enumerate(extents):
        t = np.linspace(0.0, 1.0, 20)[:, None]  # (20, 1)
        strokes.append(np.hstack([left + t * e, t * e]).astype(np.float32))  # (20, 2), "\"
        strokes.append(np.hstack([left + t * e, (1 - t) * e]).astype(np.float32))  # (20, 2), "/"
        symbols.append(Symbol("x", [str(2 * k), str(2 * k + 1)]))
        left += e + 10.0
    return Record(name="crosses", latex="x x x", strokes=strokes, symbols=symbols)


def test_ink_pen_keeps_the_symbols_size_in_its_stroke_width() -> None:
    record = _cross_record([20.0, 60.0, 60.0, 60.0, 180.0])  # small, three of the median, large
    assert median_symbol_extent(record) == 60.0
    classes = ["x"]
    fixed = SymbolDataset([record], classes, size=48)
    ink = SymbolDataset([record], classes, size=48, pen="ink")
    fixed_ink = [float(fixed[i][0].mean()) for i in range(5)]
    ink_ink = [float(ink[i][0].mean()) for i in range(5)]
    # a fixed pen draws the same cross whatever its size
    assert max(fixed_ink) - min(fixed_ink) < 0.1 * fixed_ink[1]
    # a physical pen: thick on the small cross, thin on the large one, unchanged at the median size
    # (the large one's pen is held at MIN_INK_PEN_PX, so it is only a little thinner)
    assert ink_ink[0] > 1.8 * ink_ink[1] and ink_ink[1] > 1.05 * ink_ink[4]
    assert abs(ink_ink[1] - fixed_ink[1]) < 0.1 * fixed_ink[1]


def test_ink_pen_draws_a_dot_as_a_disk() -> None:
    dot = np.array([[5.0, 5.0], [5.0, 5.0]], dtype=np.float32)  # (2, 2), one point
    disk = np.asarray(render_symbol([dot], size=64, ink_pen=3.0), dtype=np.float32) / 255.0
    assert disk.mean() > 0.5  # it fills the square
    assert np.asarray(render_symbol([dot], size=64)).mean() / 255.0 < 0.01  # the fixed pen: a speck
    with pytest.raises(ValueError, match="pen"):
        SymbolDataset([], ["x"], pen="marker")  # type: ignore[arg-type]
