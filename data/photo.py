"""Photos of handwriting on paper: tilt straightened, ruled / squared lines removed, the expression found.

`data.preprocess` sends an image here when it does not look clean (no uniform background: a phone
photo, a scan of tinted or squared paper). Everything works on an ink map (H, W) float32 in [0, 1]
(ink high, paper 0, the light already evened out by `data.preprocess.ink_map`), with numpy only:

- `looks_clean`: renderings, CROHME images and screenshots have one background level; they keep the
  clean path, untouched;
- `estimate_tilt` / `straighten`: the angle (within +-MAX_TILT_DEG) at which the row profile of the
  marks is sharpest: the paper's lines when there are any, else the writing's baseline;
- `remove_lines`: rows (and columns) covered by faint marks across most of the page are printed lines;
  their pixels are cleared unless ink continues through them (the rows just outside the line are inked)
  or they are much darker than the lines (a minus sign written on a line);
- `expression_box`: the largest cluster of ink and the pieces near it, so that specks, line remnants
  and the page's edge do not stretch the crop.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter

# An image whose most common grey level covers at least this fraction of it is clean (uniform background).
CLEAN_MODE_FRACTION = 0.5
# Tilt search range and steps (degrees); smaller tilts than MIN_DESKEW_DEG are left alone.
MAX_TILT_DEG = 6.0
COARSE_STEP_DEG = 1.0
FINE_STEP_DEG = 0.2
MIN_DESKEW_DEG = 0.5
# Vertical lines keep a slant of their own after the rows are straightened (perspective, a sheared
# view): up to this much, undone by shifting columns before they are found.
MAX_SLANT_DEG = 12.0
# The angle is applied only when it lines up at least this many printed lines (in one direction).
MIN_LINES_TO_DESKEW = 1
# Larger ink maps (pixels) are turned with nearest-neighbour sampling.
NEAREST_ABOVE = 250_000
# At most this many marked pixels take part in the tilt search (a strided subsample).
TILT_SAMPLES = 16_000
# A mark (line candidate) is at least this dark in the ink map, and above the paper's noise.
MIN_MARK = 0.04
MAX_MARK = 0.15
# Lines are found in strips about this wide (perspective bends long lines a little).
STRIP = 160
MIN_STRIPS = 6
# A strip's row is a line when marks cover this fraction of it ...
LINE_COVER = 0.4
# ... and rows within LINE_ALIGN px are lines in at least this fraction of the strips.
LINE_SUPPORT = 0.75
LINE_ALIGN = 3
# A band thicker than this fraction of the short side (at least MIN_BAND px) is no printed line.
MAX_BAND_FRACTION = 0.02
MIN_BAND = 5
# Lines must be faint: their level at most this fraction of the ink's; pixels darker than
# max(STRONG_FACTOR * line level, line level + STRONG_MARGIN) on a line are ink and kept.
MAX_LINE_TO_INK = 0.75
BAND_SPREAD = 1.5  # a band up to this many times the lines' median level is a line
STRONG_FACTOR = 2.5
STRONG_MARGIN = 0.25
# Expression clustering: grid cells about 1/CLUSTER_CELLS of the long side; pieces within
# CLUSTER_GAP x the group's height of it join it; a group lighter than MIN_INK_FRACTION of the
# image's pixels (and MIN_INK_PIXELS) is no writing. Across the writing (y) the gap is CLUSTER_GAP x the
# group's height, along it CLUSTER_GAP_ALONG x.
CLUSTER_CELLS = 96
CLUSTER_GAP = 0.75
CLUSTER_GAP_ALONG = 2.5  # along the writing (x): wide spaces between the parts of an expression
MIN_INK_FRACTION = 1e-4
MIN_INK_PIXELS = 24
# Writing has edges: its marks are at least this much darker (median) than the ring just around them;
# smooth shading that a threshold happens to cut is not writing.
MIN_STROKE_CONTRAST = 0.15
STROKE_RING = 7  # px: width of the window that draws that ring
INK_LEVEL = 0.5  # data.preprocess.INK_LEVEL
# The crop around the expression keeps this fraction of its height on every side.
BOX_MARGIN = 0.15


def looks_clean(gray: Image.Image) -> bool:
    """True for an image with a uniform background (one grey level covers most of it)."""
    hist = gray.histogram()
    return max(hist) >= CLEAN_MODE_FRACTION * gray.width * gray.height


def mark_threshold(ink: np.ndarray) -> float:
    """Darkness above which a pixel is a mark (ink or printed line): above the paper's noise."""
    sample = ink[::4, ::4] if ink.size > 65536 else ink
    med = float(np.median(sample))
    mad = float(np.median(np.abs(sample - med)))
    return float(np.clip(med + 4.0 * 1.4826 * mad, MIN_MARK, MAX_MARK))


def estimate_tilt(marks: np.ndarray, max_deg: float = MAX_TILT_DEG) -> float:
    """Angle (degrees within +-max_deg, positive: lines fall to the right) at which the marks' row
    profile is sharpest."""
    ys, xs = np.nonzero(marks)
    if ys.size < 32:
        return 0.0
    step = max(1, ys.size // TILT_SAMPLES)
    ys = ys[::step].astype(np.float32)
    xs = xs[::step].astype(np.float32)
    xs -= xs.mean()

    def sharpness(deg: float) -> float:
        t = math.radians(deg)
        r = np.rint(ys * math.cos(t) - xs * math.sin(t)).astype(np.int64)
        counts = np.bincount(r - r.min())
        return float(np.dot(counts, counts))

    coarse = np.arange(-max_deg, max_deg + 1e-6, COARSE_STEP_DEG)
    best = float(max(coarse, key=sharpness))
    fine = np.arange(best - COARSE_STEP_DEG, best + COARSE_STEP_DEG + 1e-6, FINE_STEP_DEG)
    fine = fine[np.abs(fine) <= max_deg + 1e-6]
    return float(max(fine, key=sharpness))


def straighten(ink: np.ndarray, threshold: float) -> tuple[np.ndarray, float]:
    """The ink map turned so that its lines (or writing) run horizontally, and the angle removed."""
    angle = estimate_tilt(ink > threshold)
    if abs(angle) < MIN_DESKEW_DEG:
        return ink, 0.0
    im = Image.fromarray((ink * 255.0 + 0.5).astype(np.uint8))
    # nearest is 8x cheaper; at a photo's working size its steps vanish when the crop is scaled down
    method = Image.Resampling.NEAREST if ink.size > NEAREST_ABOVE else Image.Resampling.BILINEAR
    turned = im.rotate(angle, resample=method, expand=True, fillcolor=0)
    return np.asarray(turned, dtype=np.float32) / 255.0, angle


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of the True runs of a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _line_bands(marks: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Horizontal printed lines of a mark mask (H, W): (row0, row1, col0, col1) bands, one per strip."""
    h, w = marks.shape
    n = max(1, min(w, max(MIN_STRIPS, w // STRIP)))  # no empty strip in a tiny image
    edges = np.linspace(0, w, n + 1).round().astype(int)
    cover = np.stack(
        [marks[:, a:b].mean(axis=1) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    )  # (n, H)
    is_line = cover >= LINE_COVER
    near = is_line.copy()
    for d in range(1, LINE_ALIGN + 1):
        near[:, d:] |= is_line[:, :-d]
        near[:, :-d] |= is_line[:, d:]
    supported = near.mean(axis=0) >= LINE_SUPPORT  # (H,)
    max_band = max(MIN_BAND, round(MAX_BAND_FRACTION * min(h, w)))
    bands = []
    for s in range(n):
        rows = is_line[s] & supported
        rows = rows | np.roll(rows, 1) | np.roll(rows, -1)  # the line's anti-aliased edges
        for r0, r1 in _runs(rows):
            if r1 - r0 <= max_band + 2:
                bands.append((r0, r1, int(edges[s]), int(edges[s + 1])))
    return bands


def _clear_bands(ink: np.ndarray, bands: list[tuple[int, int, int, int]], strong: float) -> None:
    """Clear line bands in place, keeping ink that continues through a band or is darker than `strong`."""
    h = ink.shape[0]
    for r0, r1, c0, c1 in bands:
        band = ink[r0:r1, c0:c1]
        above = ink[max(r0 - 1, 0), c0:c1]
        below = ink[min(r1, h - 1), c0:c1]
        keep = np.maximum(above, below)
        keep[1:] = np.maximum(keep[1:], keep[:-1].copy())  # a stroke crossing at a slant
        keep[:-1] = np.maximum(keep[:-1], keep[1:].copy())
        ink[r0:r1, c0:c1] = np.where(band > strong, band, np.minimum(band, keep))


def _band_level(ink: np.ndarray, band: tuple[int, int, int, int], threshold: float) -> float:
    """A band's darkness: the median, over its marked columns, of each column's darkest pixel."""
    r0, r1, c0, c1 = band
    peaks = ink[r0:r1, c0:c1].max(axis=0)
    peaks = peaks[peaks > threshold]
    return float(np.median(peaks)) if peaks.size else 0.0


def _distinct_lines(bands: list[tuple[int, int, int, int]]) -> int:
    """How many separate lines a list of per-strip bands makes (bands within 2 LINE_ALIGN px are one)."""
    starts = sorted(b[0] for b in bands)
    return (1 + int(np.count_nonzero(np.diff(starts) > 2 * LINE_ALIGN))) if starts else 0


def _shift_columns(a: np.ndarray, shift: np.ndarray, sign: int = 1) -> np.ndarray:
    """out[i, j] = a[i + sign * shift[j], j] (0 outside): a shear along the rows, exact and invertible."""
    h, w = a.shape
    pad = int(np.abs(shift).max(initial=0))
    padded = np.pad(a, ((pad, pad), (0, 0)))
    rows = np.arange(h)[:, None] + pad + sign * shift[None, :]  # (h, w)
    return padded[rows, np.arange(w)[None, :]]


def remove_lines(ink: np.ndarray, threshold: float) -> tuple[np.ndarray, int]:
    """Ink map without its printed horizontal and vertical lines, and how many lines were cleared (the
    larger count of the two directions: squared paper in view has several of both).

    Horizontal lines are expected straight (see `straighten`); vertical ones are found after undoing
    their own slant (`MAX_SLANT_DEG`). A band counts as a printed line only when it is faint next to the
    writing (its level at most MAX_LINE_TO_INK of the ink's): a fraction bar or an equals sign as long
    as the page stays."""
    marks = ink > threshold
    cols = marks.T  # vertical lines as rows
    slant = estimate_tilt(cols, MAX_SLANT_DEG)
    shift = None
    if abs(slant) >= MIN_DESKEW_DEG:
        t = math.tan(math.radians(slant))
        shift = np.rint((np.arange(cols.shape[1]) - cols.shape[1] / 2) * t).astype(np.int64)
        cols = _shift_columns(cols, shift)
    found = [_line_bands(marks), _line_bands(cols)]
    if not found[0] and not found[1]:
        return ink, 0
    on_band = np.zeros(ink.shape, dtype=bool)
    for r0, r1, c0, c1 in found[0]:
        on_band[max(0, r0 - 1) : r1 + 1, c0:c1] = True  # with the line's halo
    on_cols = np.zeros(cols.shape, dtype=bool)
    for r0, r1, c0, c1 in found[1]:
        on_cols[max(0, r0 - 1) : r1 + 1, c0:c1] = True
    on_band |= (_shift_columns(on_cols, shift, -1) if shift is not None else on_cols).T
    ink_px = ink[(ink > max(2 * threshold, 0.25)) & ~on_band]
    # without writing off the lines (an empty sheet) they are judged against full-contrast ink
    enough = ink_px.size >= max(MIN_INK_PIXELS, MIN_INK_FRACTION * ink.size)
    ink_level = float(np.percentile(ink_px, 90)) if enough else 1.0
    out = ink.copy()
    count = 0
    for direction, bands in enumerate(found):
        # rows first: a crossing is cleared by the columns' pass, whose neighbours are then clear
        if direction == 0:
            view = out
        else:
            view = _shift_columns(out.T, shift) if shift is not None else out.T.copy()
        levels = [(b, _band_level(view, b, threshold)) for b in bands]
        if not levels:
            continue
        line_level = float(np.median([lv for _, lv in levels]))
        if line_level > MAX_LINE_TO_INK * ink_level:  # as dark as the writing: cannot tell them apart
            continue
        # the printed lines are alike: a band much darker than the others is writing lying along a line
        levels = [(b, lv) for b, lv in levels if lv <= max(BAND_SPREAD * line_level, line_level + 0.1)]
        strong = max(STRONG_FACTOR * line_level, line_level + STRONG_MARGIN)
        before = view.copy() if direction else None
        _clear_bands(view, [b for b, _ in levels], strong)
        if direction:
            removed = before - view
            out.T[...] -= _shift_columns(removed, shift, -1) if shift is not None else removed
        count = max(count, _distinct_lines([b for b, _ in levels]))
    return (out, count) if count else (ink, 0)


def _components(occupied: np.ndarray, mass: np.ndarray) -> list[tuple[float, int, int, int, int]]:
    """8-connected components of a small bool grid: (mass, y0, y1, x0, x1) in cells, heaviest first."""
    gh, gw = occupied.shape
    seen = np.zeros_like(occupied)
    comps = []
    for y, x in zip(*np.nonzero(occupied), strict=True):
        if seen[y, x]:
            continue
        seen[y, x] = True
        stack = [(int(y), int(x))]
        m, y0, y1, x0, x1 = 0.0, int(y), int(y), int(x), int(x)
        while stack:
            cy, cx = stack.pop()
            m += float(mass[cy, cx])
            y0, y1, x0, x1 = min(y0, cy), max(y1, cy), min(x0, cx), max(x1, cx)
            for ny in (cy - 1, cy, cy + 1):
                for nx in (cx - 1, cx, cx + 1):
                    if 0 <= ny < gh and 0 <= nx < gw and occupied[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        comps.append((m, y0, y1 + 1, x0, x1 + 1))
    comps.sort(key=lambda c: -c[0])
    return comps


def expression_box(marks: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the written expression in an ink mask (H, W): the heaviest cluster of ink
    and every piece within CLUSTER_GAP x its height; None when there is too little ink to be writing."""
    h, w = marks.shape
    cell = max(2, round(max(h, w) / CLUSTER_CELLS))
    gh, gw = math.ceil(h / cell), math.ceil(w / cell)
    m = np.zeros((gh * cell, gw * cell), dtype=np.float32)
    m[:h, :w] = marks
    mass = m.reshape(gh, cell, gw, cell).sum(axis=(1, 3))  # (gh, gw) ink pixels per cell
    comps = _components(mass > 0, mass)
    if not comps or comps[0][0] < max(MIN_INK_PIXELS, MIN_INK_FRACTION * h * w):
        return None
    total, y0, y1, x0, x1 = comps[0]
    rest = comps[1:]
    grown = True
    while grown:
        grown = False
        height = y1 - y0
        left = []
        for c in rest:
            _, cy0, cy1, cx0, cx1 = c
            dy = max(cy0 - y1, y0 - cy1, 0)
            dx = max(cx0 - x1, x0 - cx1, 0)
            if dy <= CLUSTER_GAP * height + 1 and dx <= CLUSTER_GAP_ALONG * height + 1:
                y0, y1, x0, x1 = min(y0, cy0), max(y1, cy1), min(x0, cx0), max(x1, cx1)
                total += c[0]
                grown = True
            else:
                left.append(c)
        rest = left
    return y0 * cell, min(h, y1 * cell), x0 * cell, min(w, x1 * cell)


def stroke_contrast(ink: np.ndarray, marks: np.ndarray) -> float:
    """Median darkness of the marks minus that of the ring of pixels just around them (0 without marks)."""
    if not marks.any():
        return 0.0
    grown = Image.fromarray(marks.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(STROKE_RING))
    ring = (np.asarray(grown) > 0) & ~marks
    if not ring.any():
        return float(np.median(ink[marks]))
    return float(np.median(ink[marks]) - np.median(ink[ring]))


def stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width (px) of an ink map: twice the ink area over its edge length (0 without ink)."""
    m = ink > INK_LEVEL
    area = int(m.sum())
    if area == 0:
        return 0.0
    edge = np.zeros_like(m)
    edge[1:] |= ~m[:-1]
    edge[:-1] |= ~m[1:]
    edge[:, 1:] |= ~m[:, :-1]
    edge[:, :-1] |= ~m[:, 1:]
    edge[[0, -1], :] = True
    edge[:, [0, -1]] = True
    return 2.0 * area / max(1, int((m & edge).sum()))


def pad_box(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A box grown by BOX_MARGIN of its height on every side, within an image of `shape` (H, W)."""
    y0, y1, x0, x1 = box
    m = max(2, round(BOX_MARGIN * (y1 - y0)))
    return max(0, y0 - m), min(shape[0], y1 + m), max(0, x0 - m), min(shape[1], x1 + m)
