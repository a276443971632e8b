"""Lines of writing on a page (inference; NumPy): a pupil's lines of working, each a formula, found without
reading them.

- `split_lines`: the writing's lines, top to bottom, from the row profile of the ink: bands of inked
  rows, where a thin band (a fraction bar, a limit's subscript, a dot) joins its neighbours and bands
  closer than LINE_GAP x the smaller one's height are one line (numerator and denominator, exponents and
  limits stay with their line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from data.page import extreme_filter, labels

# Lines of writing: rows with ink on this many cells are inked; a band thinner than THIN x its taller
# neighbour joins it when the gap is below THIN_GAP x that neighbour's height; bands whose gap is below
# LINE_GAP x the smaller one's height are one line (0.3: a pupil's lines of working written about a symbol
# apart stay apart; 0.5 joined them, with the same reading of single formulas on crohme_val photos).
LINE_CELL = 4
THIN = 0.2
THIN_GAP = 0.5
LINE_GAP = 0.3
# On a sheet, ink in a connected piece taller than this fraction of the sheet's height is no writing.
MAX_LINE_HEIGHT = 0.2
# A line whose marks are fainter than this fraction of the darkest line's is no writing (a remnant).
MIN_LINE_DARKNESS = 0.6


@dataclass(frozen=True)
class Line:
    """One line of writing: its box (y0, y1, x0, x1) in the ink map's pixels and its ink mass."""

    box: tuple[int, int, int, int]
    mass: float


def split_lines(marks: np.ndarray, max_height: float | None = None) -> list[Line]:
    """The lines of writing of an ink mask (H, W), top to bottom (see the module's docstring); with
    `max_height` (px), ink in connected pieces taller than that is left out first."""
    h, w = marks.shape
    cell = LINE_CELL
    gh, gw = math.ceil(h / cell), math.ceil(w / cell)
    m = np.zeros((gh * cell, gw * cell), dtype=np.float32)
    m[:h, :w] = marks
    mass = m.reshape(gh, cell, gw, cell).sum(axis=(1, 3))  # (gh, gw)
    occupied = mass >= 2  # a cell with a speck is not ink
    if max_height is not None:  # no line of writing is this tall: a pen's or a shadow's remnant
        grown = extreme_filter(occupied.view(np.uint8), 3, np.maximum).astype(bool)  # symbols a cell apart join
        lab = labels(grown)
        ids, inverse = np.unique(lab.ravel(), return_inverse=True)
        rows = np.broadcast_to(np.arange(gh)[:, None], (gh, gw)).ravel()
        top = np.full(len(ids), gh)
        bottom = np.zeros(len(ids), dtype=np.int64)
        np.minimum.at(top, inverse, rows)
        np.maximum.at(bottom, inverse, rows)
        tall = (bottom - top + 1) * cell > max_height
        tall[ids == lab.size] = False  # not a region
        occupied &= ~tall[inverse].reshape(gh, gw)
    row_cells = occupied.sum(axis=1)  # (gh,)
    inked = row_cells >= 1
    bands: list[list[int]] = []  # [r0, r1) in cells
    edges = np.diff(np.concatenate([[0], inked.astype(np.int8), [0]]))
    for r0, r1 in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        bands.append([int(r0), int(r1)])
    if not bands:
        return []
    merged = True
    while merged and len(bands) > 1:
        merged = False
        for i in range(len(bands) - 1):
            a, b = bands[i], bands[i + 1]
            ha, hb = a[1] - a[0], b[1] - b[0]
            gap = b[0] - a[1]
            thin = min(ha, hb) < THIN * max(ha, hb) and gap <= THIN_GAP * max(ha, hb)
            if thin or gap <= LINE_GAP * min(ha, hb):
                bands[i] = [a[0], b[1]]
                del bands[i + 1]
                merged = True
                break
    lines = []
    for r0, r1 in bands:
        sub = mass[r0:r1]
        cols = np.flatnonzero((sub >= 2).any(axis=0))
        rows = np.flatnonzero((sub >= 2).any(axis=1))
        if cols.size == 0:
            continue
        box = (
            int((r0 + rows[0]) * cell),
            int(min(h, (r0 + rows[-1] + 1) * cell)),
            int(cols[0] * cell),
            int(min(w, (cols[-1] + 1) * cell)),
        )
        lines.append(Line(box, float(sub.sum())))
    return lines
