"""data.lines: the lines of writing of an ink mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from data.inkml import read_inkml
from data.lines import line_mask, split_lines, writing_lines
from data.render import render_strokes

INKML = Path(__file__).resolve().parents[1] / "fixtures" / "crohme" / "inkml"
FRACTION = INKML / "train" / "expressmatch" / "70_Frank.inkml"  # \cos \theta = \frac{x}{\sqrt{x^2 + y^2}}
SIMPLE = INKML / "test2014" / "RIT_2014_97.inkml"


def _ink(path: Path, height: int = 200) -> Image.Image:
    return render_strokes(read_inkml(path).strokes, height=height, pen_width=5.0)


def _two_lines(top: Image.Image, bottom: Image.Image, gap: int) -> np.ndarray:
    """Two renders one under the other, `gap` px apart (negative: their rows overlap)."""
    w = max(top.width, bottom.width) + 40
    canvas = np.zeros((top.height + bottom.height + max(gap, 0) + 40, w), dtype=bool)
    canvas[20 : 20 + top.height, 20 : 20 + top.width] = np.asarray(top) > 127
    y = 20 + top.height + gap
    canvas[y : y + bottom.height, 20 : 20 + bottom.width] |= np.asarray(bottom) > 127
    return canvas


def test_line_splitting_keeps_a_fraction_whole() -> None:
    frac = _ink(FRACTION, height=120)  # cos theta = x / sqrt(x^2 + y^2): three tiers
    simple = _ink(SIMPLE, height=50)
    frac, simple = frac.crop(frac.getbbox()), simple.crop(simple.getbbox())  # to the ink: gap 0 is touching
    marks = _two_lines(frac, simple, gap=40)
    lines = split_lines(marks)
    assert len(lines) == 2
    (y0, y1, _, _), (z0, _, _, _) = lines[0].box, lines[1].box
    assert y0 <= 20 + 8 and y1 >= 20 + frac.height - 8  # numerator, bar and denominator in one line
    assert z0 >= 20 + frac.height
    alone = split_lines(np.asarray(frac) > 127)
    assert len(alone) == 1
    # lines whose rows overlap are one line: nothing is cut through
    assert len(split_lines(_two_lines(frac, simple, gap=-6))) == 1


def test_lines_of_working_a_symbol_apart_stay_apart_and_a_fraction_stays_whole() -> None:
    marks = np.zeros((200, 300), dtype=bool)
    for top in (20, 60, 100):  # three lines 28 px high, 12 px apart (a pupil's working, a symbol apart)
        marks[top : top + 28, 20:260:6] = True
    assert [line.box[0] for line in split_lines(marks)] == [20, 60, 100]
    frac = np.zeros((120, 200), dtype=bool)
    frac[10:38, 40:160:6] = True  # numerator
    frac[44:47, 30:170] = True  # the bar
    frac[53:81, 40:160:6] = True  # denominator
    assert len(split_lines(frac)) == 1


def _tilted_page(slope: float) -> tuple[np.ndarray, list[int]]:
    """Three lines of 'symbols' (28 px high, 12 px apart, 600 px long) climbing `slope` px a px: their rows
    overlap once the page is turned, and the lines' tops at x = 0."""
    marks = np.zeros((200, 640), dtype=bool)
    tops = [40, 80, 120]
    for top in tops:
        for x in range(20, 620, 6):
            y = top + round(slope * x)
            marks[y : y + 28, x : x + 2] = True
    return marks, tops


def test_lines_of_a_turned_page_are_split_along_their_slope() -> None:
    marks, tops = _tilted_page(slope=-0.06)  # 3.4 degrees: a line drifts 36 px, three times the gap
    lines = split_lines(marks)
    assert len(lines) == 3, lines
    for line, top in zip(lines, tops, strict=True):
        assert abs(line.slope - (-0.06)) < 0.01
        assert abs(line.band[0] - top) <= 4 and abs(line.band[1] - (top + 28)) <= 4
        (x0, y0), _, _, (x3, y3) = line.corners()  # left edge, along the slope
        assert abs(y0 - (top - 0.06 * x0)) <= 4 and abs(y3 - y0 - 28) <= 4
    # reading line 2 alone: its ink and none of its neighbours'
    keep = line_mask(lines, 1, marks.shape)
    assert (marks & keep).sum() == (marks & _tilted_page(-0.06)[0] & keep).sum()
    only = np.zeros_like(marks)
    for x in range(20, 620, 6):
        y = 80 + round(-0.06 * x)
        only[y : y + 28, x : x + 2] = True
    assert (marks & keep).sum() == only.sum() and not (marks & keep & ~only).any()
    # a printed margin down the whole page (a close-up of ruled paper) does not join the lines into one
    marks[:, 2:4] = True
    assert len(split_lines(marks)) == 3
    # level (the page not turned) the same lines are found with slope 0
    level, _ = _tilted_page(slope=0.0)
    assert [line.slope for line in split_lines(level)] == [0.0, 0.0, 0.0]


def test_what_is_no_step_is_left_out_and_a_paler_step_kept() -> None:
    ink = np.zeros((400, 700), dtype=np.float32)
    for x in range(30, 530, 8):  # a long line of working
        ink[40:76, x : x + 3] = 0.8
    for x in range(30, 190, 8):  # a short one, written with less pressure (0.55 of the darkest)
        ink[100:136, x : x + 3] = 0.45
    ink[180:192, 600:612] = 0.8  # a pen's tip: compact and small
    ink[240:380:30, 60:660:40] = 0.6  # specks where a printed grid ends: scattered over a wide band
    ink[240:244, 60:64] = 0.6
    marks = ink > 0.2
    assert len(split_lines(marks)) == 4  # all found as bands
    kept = writing_lines(ink, marks)
    assert [line.box[0] for line, _ in kept] == [40, 100]
    weights = [w for _, w in kept]
    assert weights[0] > weights[1] > 0  # the long line is the default


def test_a_denominator_under_its_bar_stays_with_its_line_and_the_next_line_does_not() -> None:
    marks = np.zeros((160, 400), dtype=bool)
    for x in range(60, 300, 8):  # a numerator, 30 px high
        marks[20:50, x : x + 3] = True
    marks[52:55, 50:310] = True  # the fraction bar at its foot
    for x in range(150, 210, 8):  # the denominator, 20 px high, 12 px under the bar
        marks[67:87, x : x + 3] = True
    lines = split_lines(marks)
    assert len(lines) == 1 and lines[0].box[:2] == (20, 87)
    # the same lower band left-aligned under a line without a bar: the next line of working
    marks[52:55, 50:310] = False
    marks[67:87, :] = False
    for x in range(60, 120, 8):
        marks[67:87, x : x + 3] = True
    assert [line.box[0] for line in split_lines(marks)] == [20, 67]
