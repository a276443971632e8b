"""Lines of writing on a page (inference; NumPy): a pupil's lines of working, each a formula, found without
reading them.

- `split_lines`: the writing's lines, top to bottom, from the row profile of the ink on a grid of
  LINE_CELL px cells, taken along the writing's own slant (the slope, within SKEW_MAX_DEG, at which the
  profile is sharpest: a page photographed a little turned keeps its lines apart): bands of inked rows,
  where a thin band (a fraction bar, a limit's subscript, a dot) joins its neighbours and bands closer
  than LINE_GAP x the smaller one's height are one line (numerator and denominator, exponents and limits
  stay with their line).
- `writing_lines`: those that are writing: not scattered specks (the end of a printed grid), not much
  fainter than the darkest (a shadow's remnant), not tiny next to the heaviest line (a pen's tip, a punched
  hole's rim, a stray mark).
- `line_mask`: where a line's ink is, to read it alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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
# Two bands closer than BAR_GAP x the smaller one's height are one line when a fraction bar lies between
# them: in the lower BAR_ZONE of the upper band (at least BAR_ZONE_PX px) or the upper BAR_ZONE of the lower
# one, one stroke (holes of at most BAR_HOLE px) reaching across the other band's ink within BAR_SLACK of its
# width at each end (a denominator under its bar; the next line of working is not under one stroke).
BAR_GAP = 1.0
BAR_ZONE = 0.25
BAR_ZONE_PX = 4
BAR_HOLE = 2
BAR_SLACK = 0.1
# Within a band, ink more than SPLIT_GAP x the band's height apart across it is two lines (side by side).
SPLIT_GAP = 2.5
# The writing's slope is looked for within +-SKEW_MAX_DEG in SKEW_STEP_DEG steps; a slope is taken only
# when it sharpens the row profile by SKEW_GAIN over level rows.
SKEW_MAX_DEG = 8.0
SKEW_STEP_DEG = 0.5
SKEW_GAIN = 1.1
# On a sheet, ink in a connected piece taller than this fraction of the sheet's height is no writing.
MAX_LINE_HEIGHT = 0.2
# Anywhere, a piece over RULE_HEIGHT of the image high and under RULE_WIDTH x its height wide is a printed
# margin or a page's edge left by the photo path, not writing.
RULE_HEIGHT = 0.5
RULE_WIDTH = 0.1
# A line whose marks are fainter than this fraction of the darkest line's is no writing (a remnant): the
# lines of one page are written with one pen, but pressed harder or softer.
MIN_LINE_DARKNESS = 0.4
# Next to the heaviest line, no line of working has less ink than MIN_LINE_MASS x its (a speck); a small
# piece (narrower than SMALL_WIDTH x its width, less ink than SMALL_MASS x its) that is compact (no wider
# than COMPACT x its own height) or low (under LOW x the heaviest line's height), and lies apart (no other
# line within the heaviest line's height), is a pen's tip, a hole's rim or a stray mark, not a step (a
# short answer is written next to the working: under it, or beside it); a line whose inked
# cells cover less than MIN_DENSITY of its band is scattered remnants (the end of a printed grid).
MIN_LINE_MASS = 0.06
SMALL_WIDTH = 0.25
SMALL_MASS = 0.3
COMPACT = 1.5
LOW = 0.6
MIN_DENSITY = 0.04


@dataclass(frozen=True)
class Line:
    """One line of writing in an ink map's pixels: its box (y0, y1, x0, x1), its ink mass, and its band:
    rows [top, bottom) once each column x is shifted up by slope * x (slope 0: the rows themselves)."""

    box: tuple[int, int, int, int]
    mass: float
    slope: float = 0.0
    band: tuple[float, float] = (0.0, 0.0)

    def corners(self) -> np.ndarray:
        """(4, 2) x, y: top-left, top-right, bottom-right, bottom-left, along the slope."""
        _, _, x0, x1 = self.box
        top, bottom = self.band
        return np.array(
            [
                [x0, top + self.slope * x0],
                [x1, top + self.slope * x1],
                [x1, bottom + self.slope * x1],
                [x0, bottom + self.slope * x0],
            ],
            dtype=np.float64,
        )


def _cells(marks: np.ndarray) -> np.ndarray:
    """An ink mask (H, W) -> which of its LINE_CELL px cells hold ink (more than a speck), (gh, gw)."""
    h, w = marks.shape
    cell = LINE_CELL
    gh, gw = math.ceil(h / cell), math.ceil(w / cell)
    m = np.zeros((gh * cell, gw * cell), dtype=np.float32)
    m[:h, :w] = marks
    return m.reshape(gh, cell, gw, cell).sum(axis=(1, 3)) >= 2  # (gh, gw)


def _without_tall(occupied: np.ndarray, max_cells: float | None) -> np.ndarray:
    """`occupied` (gh, gw) without the connected pieces taller than `max_cells` (a pen's or a shadow's
    remnant: no line of writing is that tall) and the tall thin ones (a printed margin, a page's edge: over
    RULE_HEIGHT of the image high and under RULE_WIDTH x that wide)."""
    gh, gw = occupied.shape
    grown = extreme_filter(occupied.view(np.uint8), 3, np.maximum).astype(bool)  # symbols a cell apart join
    lab = labels(grown)
    ids, inverse = np.unique(lab.ravel(), return_inverse=True)
    rows = np.broadcast_to(np.arange(gh)[:, None], (gh, gw)).ravel()
    cols = np.broadcast_to(np.arange(gw)[None, :], (gh, gw)).ravel()
    top, left = np.full(len(ids), gh), np.full(len(ids), gw)
    bottom, right = np.zeros(len(ids), dtype=np.int64), np.zeros(len(ids), dtype=np.int64)
    np.minimum.at(top, inverse, rows)
    np.maximum.at(bottom, inverse, rows)
    np.minimum.at(left, inverse, cols)
    np.maximum.at(right, inverse, cols)
    height, width = bottom - top + 1, right - left + 1
    tall = (height > RULE_HEIGHT * gh) & (width < RULE_WIDTH * height)
    if max_cells is not None:
        tall |= height > max_cells
    tall[ids == lab.size] = False  # not a region
    return occupied & ~tall[inverse].reshape(gh, gw)


def _slope(occupied: np.ndarray) -> float:
    """The writing's slope (rows per column) at which its row profile is sharpest (the sum of squared row
    counts), 0 unless another slope beats it by SKEW_GAIN."""
    r, c = np.nonzero(occupied)
    if r.size == 0:
        return 0.0
    best, best_score = 0.0, 0.0
    level = None
    steps = round(SKEW_MAX_DEG / SKEW_STEP_DEG)
    for k in range(-steps, steps + 1):
        t = math.tan(math.radians(k * SKEW_STEP_DEG))
        rows = r - np.round(t * c).astype(np.int64)
        hist = np.bincount(rows - rows.min())
        score = float(np.dot(hist, hist))
        if k == 0:
            level = score
        if score > best_score:
            best, best_score = t, score
    return best if level is None or best_score > SKEW_GAIN * level else 0.0


def _bands(inked: np.ndarray, barred: Callable[[list[int], list[int]], bool]) -> list[list[int]]:
    """Runs of inked rows [r0, r1), joined where they are one line: a thin band next to its neighbour, a
    gap small next to the bands, or two bands close together with a fraction bar between them (`barred`)."""
    edges = np.diff(np.concatenate([[0], inked.astype(np.int8), [0]]))
    bands = [
        [int(a), int(b)] for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True)
    ]
    merged = True
    while merged and len(bands) > 1:
        merged = False
        for i in range(len(bands) - 1):
            a, b = bands[i], bands[i + 1]
            ha, hb = a[1] - a[0], b[1] - b[0]
            gap = b[0] - a[1]
            thin = min(ha, hb) < THIN * max(ha, hb) and gap <= THIN_GAP * max(ha, hb)
            if thin or gap <= LINE_GAP * min(ha, hb) or (gap <= BAR_GAP * min(ha, hb) and barred(a, b)):
                bands[i] = [a[0], b[1]]
                del bands[i + 1]
                merged = True
                break
    return bands


def _longest_run(cols: np.ndarray) -> tuple[int, int]:
    """The longest run [start, end] of columns in `cols` (sorted, unique) with gaps of at most BAR_HOLE px."""
    if cols.size == 0:
        return 0, -1
    breaks = np.flatnonzero(np.diff(cols) > BAR_HOLE + 1)
    starts, ends = np.r_[cols[0], cols[breaks + 1]], np.r_[cols[breaks], cols[-1]]
    k = int(np.argmax(ends - starts))
    return int(starts[k]), int(ends[k])


def split_lines(marks: np.ndarray, max_height: float | None = None) -> list[Line]:
    """The lines of writing of an ink mask (H, W), top to bottom (see the module's docstring); a printed
    margin or a page's edge (a tall thin piece) is left out first, and with `max_height` (px) so is ink in
    connected pieces taller than that."""
    return _split(marks, _cells(marks), max_height)


def _split(marks: np.ndarray, inked_cells: np.ndarray, max_height: float | None) -> list[Line]:
    """`split_lines` with the mask's inked cells (`_cells`) given."""
    h, w = marks.shape
    cell = LINE_CELL
    occupied = _without_tall(inked_cells, None if max_height is None else max_height / cell)
    slope = _slope(occupied)
    # the bands on the pixels (cells would blur a turned line's edges by a cell): the marks in inked cells
    cells = np.repeat(np.repeat(occupied, cell, axis=0), cell, axis=1)[:h, :w]  # (H, W)
    ys, xs = np.nonzero(marks & cells)
    if ys.size == 0:
        return []
    sheared = ys - np.round(slope * xs).astype(np.int64)  # each mark's row along the slope
    low = int(sheared.min())
    inked = np.bincount(sheared - low) > 0

    def barred(
        a: list[int], b: list[int]
    ) -> bool:  # a fraction bar at a's foot over all of b, or at b's head
        rows = sheared - low
        in_a, in_b = (rows >= a[0]) & (rows < a[1]), (rows >= b[0]) & (rows < b[1])
        foot = in_a & (rows >= a[1] - max(BAR_ZONE_PX, BAR_ZONE * (a[1] - a[0])))
        head = in_b & (rows < b[0] + max(BAR_ZONE_PX, BAR_ZONE * (b[1] - b[0])))
        for zone, other in ((foot, in_b), (head, in_a)):
            start, end = _longest_run(np.unique(xs[zone]))
            lo, hi = xs[other].min(), xs[other].max()
            if start <= lo + BAR_SLACK * (hi - lo) and end >= hi - BAR_SLACK * (hi - lo):
                return True
        return False

    lines = []
    for r0, r1 in _bands(inked, barred):
        inside = (sheared >= r0 + low) & (sheared < r1 + low)
        rows, cols = ys[inside], xs[inside]
        # pieces of a band far apart across it are lines of their own (writing beside a hole's rim, a pen)
        used = np.flatnonzero(np.bincount(cols - cols.min()) > 0) + cols.min()
        breaks = np.flatnonzero(np.diff(used) > SPLIT_GAP * (r1 - r0))
        for a, b in zip(np.r_[used[0], used[breaks + 1]], np.r_[used[breaks], used[-1]], strict=True):
            part = (cols >= a) & (cols <= b)
            box = (int(rows[part].min()), int(rows[part].max()) + 1, int(a), int(b) + 1)
            lines.append(Line(box, float(part.sum()), slope, (float(r0 + low), float(r1 + low))))
    return lines


def _dense(occupied: np.ndarray, line: Line) -> bool:
    """Whether the line's inked cells cover MIN_DENSITY of its band (over its columns)."""
    y0, y1, x0, x1 = line.box
    band_cells = (line.band[1] - line.band[0]) * (x1 - x0) / LINE_CELL**2
    inked = occupied[y0 // LINE_CELL : -(-y1 // LINE_CELL), x0 // LINE_CELL : -(-x1 // LINE_CELL)].sum()
    return inked >= MIN_DENSITY * band_cells


def writing_lines(
    ink: np.ndarray, marks: np.ndarray, max_height: float | None = None
) -> list[tuple[Line, float]]:
    """The lines of an ink map (H, W, 0..1) and its mask that are writing (see the module's docstring), top
    to bottom, each with its weight: its pixels darker than half its own darkness (the default line to
    read is the heaviest)."""
    occupied = _cells(marks)
    found = _split(marks, occupied, max_height)
    if not found:
        return []
    if len(found) > 1:  # what is no formula whatever else is on the page
        found = [f for f in found if _dense(occupied, f)] or found
    # a line is as dark as the 95th percentile of its marks
    dark = []
    for f in found:
        y0, y1, x0, x1 = f.box
        values = ink[y0:y1, x0:x1][marks[y0:y1, x0:x1]]
        dark.append(float(np.percentile(values, 95)) if values.size else 0.0)
    darkest = max(dark)
    kept = [
        (f, d) for f, d in zip(found, dark, strict=True) if darkest > 0 and d >= MIN_LINE_DARKNESS * darkest
    ]
    if len(kept) > 1:  # next to the heaviest line: what is too small to be a step
        main = max(kept, key=lambda fd: fd[0].mass)[0]
        main_h, main_w = main.box[1] - main.box[0], main.box[3] - main.box[2]

        def doubtful(f: Line) -> bool:  # small, and compact or low
            h, w = f.box[1] - f.box[0], f.box[3] - f.box[2]
            small = w < SMALL_WIDTH * main_w and f.mass < SMALL_MASS * main.mass
            return small and (w < COMPACT * h or h < LOW * main_h)

        sure = [f for f, _ in kept if f is main or (f.mass >= MIN_LINE_MASS * main.mass and not doubtful(f))]

        def apart(f: Line) -> bool:  # no sure line within the heaviest line's height of it
            y0, y1, x0, x1 = f.box
            return all(
                g.box[0] - y1 > main_h
                or y0 - g.box[1] > main_h
                or g.box[2] - x1 > main_h
                or x0 - g.box[3] > main_h
                for g in sure
            )

        def is_step(f: Line) -> bool:
            return f.mass >= MIN_LINE_MASS * main.mass and not (doubtful(f) and apart(f))

        kept = [(f, d) for f, d in kept if f is main or is_step(f)]
    return [(f, _weight(ink, f, d)) for f, d in kept]


def _weight(ink: np.ndarray, line: Line, dark: float) -> float:
    y0, y1, x0, x1 = line.box
    return float((ink[y0:y1, x0:x1] > 0.5 * dark).sum())


def line_mask(lines: list[Line], k: int, shape: tuple[int, int]) -> np.ndarray:
    """Where line k's ink is in an ink map of `shape` (H, W): its band with a margin of a quarter of its
    height, up to the middle of the gap to the bands above and below, across its columns with the same
    margin."""
    h, w = shape
    line = lines[k]
    top, bottom = line.band
    m = max(2.0, 0.25 * (bottom - top))
    above = max((g.band[1] for g in lines if g.band[1] <= top), default=-math.inf)
    below = min((g.band[0] for g in lines if g.band[0] >= bottom), default=math.inf)
    lo = max(top - m, (above + top) / 2)
    hi = min(bottom + m, (bottom + below) / 2)
    _, _, x0, x1 = line.box
    ys = np.arange(h, dtype=np.float64)[:, None]  # (H, 1)
    xs = np.arange(w, dtype=np.float64)[None, :]  # (1, W)
    along = ys - line.slope * xs  # (H, W) each pixel's row along the slope
    return (along >= lo) & (along < hi) & (xs >= x0 - m) & (xs < x1 + m)
