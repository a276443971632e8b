"""data.photo_render: the page renderer's layouts of several lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data.inkml import read_inkml
from data.photo_render import MM, PageConfig, page_photo
from data.synth.build import render_offline

INKML = Path(__file__).resolve().parents[1] / "fixtures" / "crohme" / "inkml"
FILES = ("RIT_2014_97.inkml", "RIT_2014_225.inkml", "RIT_2014_97.inkml")


def _inks() -> list:
    return [render_offline(read_inkml(INKML / "test2014" / name).strokes) for name in FILES]


def test_working_is_one_hand_left_aligned_and_scattered_is_not() -> None:
    inks = _inks()
    cfg = PageConfig(desk="wood", paper="plain", p_pen=0.0, tilt_deg=0.0, perspective=0.0)
    working = page_photo(inks, np.random.default_rng([7, 2]), cfg)
    lefts = [box[:, 0].min() for box in working.lines]
    mm = MM * np.linalg.norm(working.sheet[1] - working.sheet[0])  # one mm in the photo (a sheet upright)
    assert max(lefts) - min(lefts) <= 4.5 * mm  # under one another, within +-2 mm
    # one scale: each line's height in the photo is its ink's height times the same factor
    ratios = [np.ptp(box[:, 1]) / ink.height for box, ink in zip(working.lines, inks, strict=True)]
    assert max(ratios) / min(ratios) == pytest.approx(1.0, abs=0.05)
    # the same line twice: the same size; scattered, each line is scaled to the symbol height alone
    assert np.ptp(working.lines[0][:, 1]) == pytest.approx(np.ptp(working.lines[2][:, 1]), abs=1.0)
    scattered = page_photo(
        inks, np.random.default_rng([7, 2]), PageConfig(**{**cfg.__dict__, "layout": "scattered"})
    )
    spread = [box[:, 0].min() for box in scattered.lines]
    assert max(spread) - min(spread) > 4.5 * mm


def test_one_line_is_drawn_the_same_in_either_layout() -> None:
    ink = _inks()[:1]
    a = page_photo(ink, np.random.default_rng(3), PageConfig(layout="working"))
    b = page_photo(ink, np.random.default_rng(3), PageConfig(layout="scattered"))
    assert a.image.tobytes() == b.image.tobytes()
    with pytest.raises(ValueError, match="layout"):
        page_photo(ink, np.random.default_rng(3), PageConfig(layout="diagonal"))
