"""The one-symbol detector: connected components, side-by-side parts, rendered CROHME symbols vs. formulas."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from data.ink_parts import MAX_GAP, image_layout, ink_layout, label_components
from data.records import iter_inkml_records
from data.render import render_strokes, render_symbol, symbol_strokes
from data.symbols import CROHME_SYMBOL_CLASSES, normalize_label

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "crohme" / "inkml"
CROHME = Path(os.environ.get("SEQ2LATEX_CROHME", Path(__file__).resolve().parents[3] / "shared" / "crohme"))
# Class names written as several letters: flagged like any word when the letters stand far apart.
WORDS = {"\\sin", "\\cos", "\\tan", "\\log", "\\lim"}


def test_components_are_8_connected_and_specks_dropped() -> None:
    m = np.zeros((10, 12), dtype=bool)
    m[1, 1] = m[2, 2] = m[3, 3] = True  # a diagonal line: one component
    m[1:4, 8:10] = True  # a block
    m[8, 5] = True  # a lone pixel: a speck
    comps = label_components(m)
    assert [(c.y0, c.y1, c.x0, c.x1, c.pixels) for c in comps] == [(1, 4, 1, 4, 3), (1, 4, 8, 10, 6)]
    ring = np.zeros((9, 9), dtype=bool)
    ring[1, 1:8] = ring[7, 1:8] = ring[1:8, 1] = ring[1:8, 7] = True
    ring[4, 4] = ring[4, 5] = True  # inside the ring, not touching it
    assert len(label_components(ring)) == 1  # the 2-pixel centre is a speck; the ring is one
    assert len(label_components(ring, min_pixels=1)) == 2


def _strokes(*polylines: list[tuple[float, float]]) -> list[np.ndarray]:
    return [np.array(p, dtype=np.float32) for p in polylines]


def _dot(x: float, y: float) -> list[tuple[float, float]]:
    return [(x, y), (x + 0.3, y + 0.3)]


# Multi-stroke symbols drawn as pen strokes (y grows downwards, units of the pen tablet).
MULTI_STROKE = {
    "=": _strokes([(0, 0), (10, 0)], [(0, 5), (10, 5.4)]),
    "i": _strokes([(0, 4), (0.3, 14)], _dot(0, 0)),
    "j": _strokes([(3, 4), (3, 16), (0, 18)], _dot(3, 0)),
    "!": _strokes([(0, 0), (0.5, 10)], _dot(0.5, 14)),
    "\\div": _strokes([(0, 6), (12, 6)], _dot(6, 1), _dot(6, 11)),
    "\\pm": _strokes([(0, 5), (10, 5)], [(5, 0), (5, 10)], [(0, 13), (10, 13)]),
    "\\leq": _strokes([(10, 0), (0, 4), (10, 8)], [(0, 11), (10, 11)]),
    "\\ldots": _strokes(_dot(0, 0), _dot(8, 0.5), _dot(16, -0.3)),
    "x": _strokes([(0, 0), (10, 10)], [(10, 0), (0, 10)]),
}


@pytest.mark.parametrize("name", sorted(MULTI_STROKE))
def test_multi_stroke_symbols_are_one_symbol(name: str) -> None:
    layout = image_layout(render_symbol(MULTI_STROKE[name], size=128))
    assert layout.single_symbol, (name, layout.parts, layout.gaps)
    if name != "x":
        assert len(layout.components) >= 2  # it is several components, and still one symbol


@pytest.mark.parametrize(
    "strokes",
    [
        _strokes([(0, 0), (10, 10)], [(10, 0), (0, 10)], [(16, 5), (26, 5)], [(21, 0), (21, 10)]),  # x +
        _strokes([(0, 0), (0, 10)], [(6, 0), (6, 10)]),  # 1 1 (gap 0.6 heights)
        _strokes(*[[(8.0 * k, 0), (8.0 * k, 10)] for k in range(5)]),  # 1 1 1 1 1, close together
    ],
)
def test_symbols_side_by_side_are_flagged(strokes: list[np.ndarray]) -> None:
    layout = image_layout(render_strokes(strokes))
    assert layout.reason == "several_symbols", (layout.parts, layout.gaps)


def test_no_ink() -> None:
    assert image_layout(Image.new("L", (64, 64), 255)).reason == "no_ink"
    assert ink_layout(np.zeros((8, 8))).reason == "no_ink"


def _canvas(lines: list[tuple[int, int, int, int]], dots: list[tuple[int, int]] = ()) -> Image.Image:
    """Like the demo page: dark round-capped pen on a white 600 x 260 canvas."""
    im = Image.new("RGB", (600, 260), "white")
    d = ImageDraw.Draw(im)
    for x0, y0, x1, y1 in lines:
        d.line((x0, y0, x1, y1), fill=(17, 24, 39), width=4)
    for x, y in dots:
        d.ellipse((x - 3, y - 3, x + 3, y + 3), fill=(17, 24, 39))
    return im


def test_canvas_drawings() -> None:
    assert image_layout(_canvas([(250, 100, 350, 100), (250, 140, 350, 142)])).single_symbol  # =
    assert image_layout(_canvas([(300, 90, 302, 180)], dots=[(300, 60)])).single_symbol  # i
    assert image_layout(_canvas([(240, 120, 360, 120)], dots=[(300, 80), (300, 160)])).single_symbol  # ÷
    formula = [(60, 150, 120, 80), (60, 80, 120, 150), (160, 80, 200, 80), (200, 80, 160, 150), (160, 150, 210, 150)]
    assert image_layout(_canvas(formula)).reason == "several_symbols"  # x2, as the browser test draws it


def _rates(inkml: Path, max_records: int) -> tuple[int, int, int, int, list[tuple[str, str]]]:
    """(one-glyph crops, of them flagged, expressions with >= 2 symbols, of them flagged, flagged crops)."""
    n_sym = bad_sym = n_expr = hit_expr = 0
    flagged = []
    for k, rec in enumerate(iter_inkml_records(inkml)):
        if k >= max_records:
            break
        by_id = rec.strokes_by_id()
        for s in rec.symbols or []:
            label = normalize_label(s.label)
            if label not in CROHME_SYMBOL_CLASSES or label in WORDS:
                continue
            layout = image_layout(render_symbol(symbol_strokes(by_id, s.trace_ids), size=128))
            n_sym += 1
            if not layout.single_symbol:
                bad_sym += 1
                flagged.append((rec.name, label))
        if len(rec.symbols or []) >= 2:
            n_expr += 1
            hit_expr += image_layout(render_strokes(rec.strokes or [])).reason == "several_symbols"
    return n_sym, bad_sym, n_expr, hit_expr, flagged


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fixture_symbols_pass_and_formulas_are_flagged() -> None:
    n_sym, bad_sym, n_expr, hit_expr, flagged = _rates(FIXTURES, 1000)
    assert n_sym > 150 and n_expr > 25
    assert bad_sym == 0, flagged  # every rendered one-glyph traceGroup of the fixtures is one symbol
    assert hit_expr / n_expr >= 0.55, (hit_expr, n_expr)


@pytest.mark.skipif(not (CROHME / "inkml" / "test2014").is_dir(), reason=f"CROHME not found at {CROHME}")
def test_crohme_2014_rates() -> None:
    """The first 150 CROHME 2014 test expressions (other writers than the fixtures): measured rates."""
    n_sym, bad_sym, n_expr, hit_expr, flagged = _rates(CROHME / "inkml" / "test2014", 150)
    assert n_sym > 1000
    assert bad_sym / n_sym <= 0.005, flagged  # full test2014: 6 of 9,744 (0.06 %)
    assert hit_expr / n_expr >= 0.6, (hit_expr, n_expr)  # full test2014: 693 of 985 (70 %)


def test_the_gap_threshold_matters() -> None:
    """Two strokes 1.5 x MAX_GAP heights apart are two symbols, 0.5 x MAX_GAP apart one part."""
    h = 10.0
    far = _strokes([(0, 0), (0, h)], [(1.5 * MAX_GAP * h + 1, 0), (1.5 * MAX_GAP * h + 1, h)])
    assert image_layout(render_strokes(far, height=128)).reason == "several_symbols"
    near = _strokes([(0, 0), (3, h)], [(3 + 0.5 * MAX_GAP * h, 0), (3 + 0.5 * MAX_GAP * h, h)])
    assert image_layout(render_strokes(near, height=128)).single_symbol
