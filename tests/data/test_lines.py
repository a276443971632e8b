"""data.lines: the lines of writing of an ink mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from data.inkml import read_inkml
from data.lines import split_lines
from data.render import render_strokes

INKML = Path(__file__).resolve().parents[1] / "fixtures" / "crohme" / "inkml"
FRACTION = INKML / "train" / "expressmatch" / "70_Frank.inkml"  # \cos \theta = \frac{x}{\sqrt{x^2 + y^2}}
SIMPLE = INKML / "test2014" / "RIT_2014_97.inkml"


def _ink(path: Path, height: int = 200) -> Image.Image:
    return render_strokes(read_inkml(path).strokes, height=height, pen_width=5.0)


def _two_lines(top: Image.Image, bottom: Image.Image, gap: int) -> np.ndarray:
    w = max(top.width, bottom.width) + 40
    canvas = np.zeros((top.height + bottom.height + gap + 40, w), dtype=bool)
    canvas[20 : 20 + top.height, 20 : 20 + top.width] = np.asarray(top) > 127
    y = 20 + top.height + gap
    canvas[y : y + bottom.height, 20 : 20 + bottom.width] = np.asarray(bottom) > 127
    return canvas


def test_line_splitting_keeps_a_fraction_whole() -> None:
    frac = _ink(FRACTION, height=120)  # cos theta = x / sqrt(x^2 + y^2): three tiers
    simple = _ink(SIMPLE, height=50)
    marks = _two_lines(frac, simple, gap=40)
    lines = split_lines(marks)
    assert len(lines) == 2
    (y0, y1, _, _), (z0, _, _, _) = lines[0].box, lines[1].box
    assert y0 <= 20 + 8 and y1 >= 20 + frac.height - 8  # numerator, bar and denominator in one line
    assert z0 >= 20 + frac.height
    alone = split_lines(np.asarray(frac) > 127)
    assert len(alone) == 1
    # lines that touch (no empty row between them) are one line: nothing is cut through
    assert len(split_lines(_two_lines(frac, simple, gap=0))) == 1


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
