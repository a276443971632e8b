"""Whole-page photos: the sheet on the desk, the writing on the sheet, and its lines (inference; NumPy + PIL).

`data.preprocess` calls these on a photo (an image that is not clean, see `data.photo.looks_clean`):

- `find_sheet`: the paper in view. The frame is reduced to ~160 px, ink, printed lines and thin objects are
  closed away (a grey closing: the paper becomes a flat bright region), and for a few brightness levels the
  largest bright region is fitted with a quadrilateral (its convex hull reduced to four corners). A region
  is a sheet when it fills its quadrilateral (a rectangle seen in perspective), covers at least
  MIN_SHEET of the frame, and its edges inside the frame are steps (bright inside, darker outside, over a
  pixel or two: a soft shadow's edge is no sheet's edge). The answer is one of: "sheet" (with its
  corners), "paper" (no sheet edge in view but a bright frame: a scan, a crop, a sheet filling the
  frame; it goes on exactly as before) or "none" (no paper in view: a dark frame, a desk).
- `rectify`: the sheet's quadrilateral warped to an upright rectangle (perspective undone, a sliver
  inside its edges so that no desk remains).
- `clean_sheet`: on the sheet's ink map, what is not writing is cleared: a band along the sheet's edges,
  thick dark objects (a pen lying across, punched holes, a shadow's core: anything wider than
  THICK_FRACTION of the sheet's short side) and pieces of ink that run into that band (a pen lying across
  the sheet's edge).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

# Images shorter than this on their long side are no photo of a page (a crop, a scan of a formula).
MIN_PAGE_SIDE = 480
# The sheet is looked for on a copy this many px on its long side ...
SHEET_SIDE = 160
# ... after a grey closing (maximum then minimum) of this window: ink, printed lines and a thin pen go.
CLOSE_WINDOW = 5
# A sheet covers at least this fraction of the frame; a region covering more than ALL_PAPER is the frame.
MIN_SHEET = 0.08
ALL_PAPER = 0.9
# The region fills at least this fraction of its quadrilateral (a rectangle in perspective).
MIN_FILL = 0.9
# Its edges inside the frame: inside at least MIN_EDGE_STEP brighter than outside (0..1, EDGE_FAR px either
# side), and the step as sharp as a sheet's: at least MIN_SHARPNESS of it within 2 px (a soft shadow's
# edge spreads over many pixels).
MIN_EDGE_STEP = 0.03
MIN_SHARPNESS = 0.5
# ... and a step all along it: at least MIN_SUPPORT of the points sampled along each edge have a sharp step
# of at least half the edge's (a region that leaks past the sheet's corner onto a lit desk has edges that
# are a sheet's edge only in part).
MIN_SUPPORT = 0.5
# Of the candidates that pass, the one with the largest cover x min(1, support / FULL_SUPPORT)^4, x FRAME_SIDE
# when only two of its edges lie inside the frame (a region leaking along the frame's border onto a lit desk
# looks so).
FULL_SUPPORT = 0.9
FRAME_SIDE = 0.5
# A quadrilateral between straight steps is listed in `SheetSearch.candidates` at this level; each of its sides
# along the frame's border multiplies its score by HOUGH_FRAME_SIDE.
HOUGH_LEVEL = -2.0
HOUGH_FRAME_SIDE = 0.85
# Such a quadrilateral passes with at least three sides in view and a support of at least this.
HOUGH_MIN_SUPPORT = 0.75
EDGE_NEAR = 2.0
EDGE_FAR = 6.0
# The corners found on the small copy are refined on a copy REFINE_SIDE px long (closed with a
# REFINE_CLOSE window): each edge inside the frame is moved to where the step across it is steepest, within
# REFINE_REACH small-copy px, at REFINE_POINTS points along it, and a line fitted to those (points further than
# REFINE_OUTLIER px from the first fit, a pen across the edge, are left out of the second); the corners are the
# refined lines' crossings. An edge with fewer than REFINE_MIN_POINTS of its points on a step keeps its place.
REFINE_SIDE = 640
REFINE_CLOSE = 3
REFINE_REACH = 2.5
REFINE_POINTS = 40
REFINE_OUTLIER = 1.5
REFINE_MIN_POINTS = 0.4
# A frame without a sheet whose bright end (90th percentile of the closed copy) is darker than this holds
# no paper (a dark frame, a desk).
NO_PAPER_LEVEL = 0.5
# Regions enclosed by steps sharper than this (the closed copy minus its 5 x 5 mean; the step of a light
# table's edge is ~0.05-0.1) are candidates too: the ENCLOSED_REGIONS largest.
EDGE_HIGHPASS = 0.015
ENCLOSED_REGIONS = 3
# Straight steps (a Hough transform of the closed copy's gradient): pixels whose gradient is at least
# HOUGH_MIN_GRADIENT and in its top (100 - HOUGH_PERCENTILE) %, voting over HOUGH_ANGLES directions (+-
# HOUGH_SPREAD bins of their own); the HOUGH_LINES strongest (at least HOUGH_MIN_VOTES of the strongest, a
# the pixels within HOUGH_NEAR px of a line found, their
# gradient along its normal, vote no more for the next); quadrilaterals whose sides turn by a quarter
# turn +- HOUGH_SKEW radians; the HOUGH_QUADS with the most votes are tried.
HOUGH_MIN_GRADIENT = 0.01
HOUGH_PERCENTILE = 85
HOUGH_ANGLES = 180
HOUGH_SPREAD = 5
HOUGH_LINES = 12
HOUGH_MIN_VOTES = 0.15
HOUGH_NEAR = 1.5
HOUGH_SKEW = 0.45
HOUGH_QUADS = 8
# Brightness levels tried: Otsu's, and below the paper's level in these steps.
LEVEL_STEPS = (0.04, 0.08, 0.12, 0.16, 0.22, 0.3)
# The quadrilateral is moved this fraction of the sheet's size inwards before it is rectified.
INSET = 0.012
# Printed lines are measured in this many strips across the sheet (a line a little off straight).
RULE_STRIPS = 6
# A line's level along a strip: this percentile of it (a printed line runs all along; writing along it, a fraction
# bar or an equals sign on a rule, covers less than 1 - RULE_RANK / 100 of the strip).
RULE_RANK = 25
# Ink darker than the line's level L keeps more of itself: above max(RULE_STRONG_FACTOR x L, L +
# RULE_STRONG_MARGIN) all of it (as `data.photo` keeps writing on a line).
RULE_STRONG_FACTOR = 2.5
RULE_STRONG_MARGIN = 0.25
RULE_KEEP_ABOVE = 0.1
RULE_MIN_LEVEL = 0.04
RULE_SPREAD = 1.5
RULE_SPREAD_MARGIN = 0.1
# Cleaning the sheet: a band of this fraction of its short side along its edges is not writing ...
EDGE_BAND = 0.02
# ... nor anything thicker than this fraction of the short side (a pen, a hole, a shadow's core) ...
THICK_FRACTION = 0.02
MIN_THICK = 11
THICK_LEVEL = 0.15  # at least this dark (0..1) in the ink map (a silver pen is pale)
LONG_OBJECT = 4.0  # a thick piece this many times THICK long is an object lying on the sheet
OBJECT_HALO = 2.0
HOLE_ZONE = 0.12  # a thick piece this close to the edge (fraction of the short side) is a punched hole
# On a sheet (its light and lines taken off) writing needs less contrast than `data.photo`'s: a fine pen on
# a whole page is a few pixels wide.
MIN_STROKE_CONTRAST = 0.1
# Ink this dark (0..1) is what may run into the edge band as one piece (fainter marks do not join pieces).
EDGE_PIECE_LEVEL = 0.3
# Pieces of ink (objects on the sheet, pieces running into the edge band) are found on cells this many px wide.
PIECE_CELL = 4


@dataclass(frozen=True)
class SheetSearch:
    """What `find_sheet` saw: kind "sheet" (with `corners`), "paper" or "none"."""

    kind: str
    corners: np.ndarray | None = (
        None  # (4, 2) x, y in the image searched: top-left, top-right, bottom-right, bottom-left
    )
    cover: float = 0.0  # the sheet's fraction of the frame
    level: float = 0.0  # the closed copy's bright end (0..1)
    candidates: list[dict] = field(default_factory=list)  # the levels tried (for debugging)


def extreme_filter(arr: np.ndarray, k: int, op: np.ufunc) -> np.ndarray:
    """Separable k x k minimum / maximum filter (`op` np.minimum / np.maximum), edges padded."""
    r = k // 2
    h, w = arr.shape
    out = np.pad(arr, r, mode="edge")
    rows = out[:, r : r + w].copy()
    for d in range(-r, r + 1):
        if d:
            op(rows, out[:, r + d : r + d + w], out=rows)
    res = rows[r : r + h].copy()
    for d in range(-r, r + 1):
        if d:
            op(res, rows[r + d : r + d + h], out=res)
    return res


def _otsu(values: np.ndarray) -> float:
    hist = np.bincount(np.clip((values * 255).astype(np.int64), 0, 255).ravel(), minlength=256).astype(
        np.float64
    )
    bins = np.arange(256, dtype=np.float64)
    w0 = np.cumsum(hist)
    m0 = np.cumsum(hist * bins)
    w1 = hist.sum() - w0
    between = w0 * w1 * (m0 / np.maximum(w0, 1) - (m0[-1] - m0) / np.maximum(w1, 1)) ** 2
    return float(np.argmax(between[:-1])) / 255.0


def labels(mask: np.ndarray) -> np.ndarray:
    """4-connected regions of a bool mask: each pixel's label (the smallest flat index in its region; h * w
    outside the mask). The mask's row runs are the nodes: runs in neighbouring rows that overlap are joined
    (minimum-label propagation with pointer jumping over the runs, not the pixels: a few passes)."""
    h, w = mask.shape
    big = h * w
    out = np.full(big, big, dtype=np.int64)
    if big == 0:
        return out.reshape(h, w)
    step = np.diff(np.pad(mask, ((0, 0), (1, 1))).view(np.int8), axis=1)  # (h, w + 1)
    rows, x0 = np.nonzero(step == 1)  # row-major: the runs in order
    x1 = np.nonzero(step == -1)[1]
    n = len(rows)
    if n == 0:
        return out.reshape(h, w)
    width = w + 2
    start_key = rows * width + x0  # increasing
    end_key = rows * width + x1  # increasing (runs in a row are disjoint)
    # the runs of the row above that overlap run b: end > b's start and start < b's end (a contiguous range)
    above = (rows - 1) * width
    first = np.searchsorted(end_key, above + x0, side="right")
    last = np.searchsorted(start_key, above + x1, side="left")
    count = np.maximum(last - first, 0)
    count[rows == 0] = 0
    b = np.repeat(np.arange(n), count)
    a = np.repeat(first - np.cumsum(count) + count, count) + np.arange(int(count.sum()))
    lab = np.arange(n)
    while True:
        new = lab.copy()
        np.minimum.at(new, a, lab[b])
        np.minimum.at(new, b, lab[a])
        new = new[new]
        new = new[new]
        if np.array_equal(new, lab):
            break
        lab = new
    first_pixel = rows * w + x0  # a region's smallest flat index: the start of its first run
    length = x1 - x0
    offset = np.cumsum(length) - length
    flat = np.repeat(first_pixel - offset, length) + np.arange(int(length.sum()))
    out[flat] = np.repeat(first_pixel[lab], length)
    return out.reshape(h, w)


def largest_region(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected region of a small bool mask."""
    lab = labels(mask)
    found = lab[mask]
    if found.size == 0:
        return np.zeros_like(mask)
    values, counts = np.unique(found, return_counts=True)
    return lab == values[np.argmax(counts)]


def _hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (K, 2) of points (N, 2), counter-clockwise in x-right / y-up terms (monotone chain)."""
    pts = np.unique(points, axis=0)
    if len(pts) < 3:
        return pts.astype(np.float64)
    pts = pts[np.lexsort((pts[:, 1], pts[:, 0]))].tolist()

    def cross(o: list, a: list, b: list) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1], dtype=np.float64)


def _area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _quad(hull: np.ndarray) -> np.ndarray | None:
    """The hull reduced to four corners: the vertex whose removal loses the least area goes, repeatedly."""
    poly = list(map(tuple, hull))
    if len(poly) < 4:
        return None
    while len(poly) > 4:
        n = len(poly)
        losses = []
        for i in range(n):
            (ax, ay), (bx, by), (cx, cy) = poly[i - 1], poly[i], poly[(i + 1) % n]
            losses.append(abs((bx - ax) * (cy - ay) - (by - ay) * (cx - ax)))
        poly.pop(int(np.argmin(losses)))
    return np.array(poly, dtype=np.float64)


def order_corners(quad: np.ndarray) -> np.ndarray:
    """Four corners (4, 2) in image terms (y down) ordered top-left, top-right, bottom-right, bottom-left:
    clockwise on screen, starting at the edge whose outward normal points most upwards."""
    c = quad.mean(axis=0)
    ang = np.arctan2(quad[:, 1] - c[1], quad[:, 0] - c[0])
    q = quad[np.argsort(ang)]  # clockwise on screen (angles grow clockwise with y down)
    mids = (q + np.roll(q, -1, axis=0)) / 2 - c  # edge i runs from q[i] to q[i + 1]
    up = -mids[:, 1] / np.maximum(np.linalg.norm(mids, axis=1), 1e-9)
    return np.roll(q, -int(np.argmax(up)), axis=0)


def _sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear samples of img (H, W) at points (N, 2) x, y (clamped to the image)."""
    h, w = img.shape
    x = np.clip(pts[:, 0], 0, w - 1.001)
    y = np.clip(pts[:, 1], 0, h - 1.001)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    return (
        img[y0, x0] * (1 - fx) * (1 - fy)
        + img[y0, x0 + 1] * fx * (1 - fy)
        + img[y0 + 1, x0] * (1 - fx) * fy
        + img[y0 + 1, x0 + 1] * fx * fy
    )


def _edges(img: np.ndarray, quad: np.ndarray) -> tuple[float, float, int]:
    """(step, sharpness, edges measured) of a quadrilateral's edges that lie inside the frame: the smallest
    brightness step across an edge (EDGE_FAR px in, against EDGE_FAR px out; medians along the edge), and the
    smallest share of an edge's step that happens within 2 px anywhere across it (1 for a clean step)."""
    h, w = img.shape
    c = quad.mean(axis=0)
    offsets = np.arange(-EDGE_FAR, EDGE_FAR + 0.01, 0.5)  # across the edge, inside (-) to outside (+)
    near = round(2 * EDGE_NEAR)  # samples 0.5 px apart spanning EDGE_NEAR px
    steps, sharps, supports = [], [], []
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        pts = a + (b - a) * np.linspace(0.1, 0.9, 24)[:, None]  # (24, 2)
        m = EDGE_FAR + 1
        keep = (pts[:, 0] > m) & (pts[:, 0] < w - 1 - m) & (pts[:, 1] > m) & (pts[:, 1] < h - 1 - m)
        if keep.mean() < 0.5:  # along the frame's border: the sheet runs out of view there
            continue
        pts = pts[keep]
        d = b - a
        n = np.array([d[1], -d[0]]) / max(float(np.hypot(*d)), 1e-9)
        if np.dot((a + b) / 2 - c, n) < 0:
            n = -n  # outwards
        grid = pts[:, None, :] + offsets[None, :, None] * n  # (P, K, 2)
        each = _sample(img, grid.reshape(-1, 2)).reshape(len(pts), -1)  # (P, K)
        profile = np.median(each, axis=0)  # (K,)
        step = float(profile[:3].mean() - profile[-3:].mean())
        jump = float((profile[:-near] - profile[near:]).max())
        steps.append(step)
        sharps.append(jump / step if step > 1e-6 else 0.0)
        local = (each[:, :-near] - each[:, near:]).max(axis=1)  # (P,)
        supports.append(float((local >= max(0.5 * step, 0.02)).mean()))
    if not steps:
        return 0.0, 0.0, 0, 0.0
    return min(steps), min(sharps), len(steps), min(supports)


def _flatten(img: np.ndarray) -> np.ndarray:
    """The image divided by a plane fitted to its log-brightness (a lamp's gradient across the frame)."""
    h, w = img.shape
    yy, xx = np.mgrid[0:h, 0:w]
    a = np.c_[np.ones(h * w), xx.ravel() / w - 0.5, yy.ravel() / h - 0.5]
    coef, *_ = np.linalg.lstsq(a, np.log(np.maximum(img.ravel(), 0.02)), rcond=None)
    coef[0] = 0.0
    return img / np.exp(a @ coef).reshape(h, w)


def _levels(closed: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """(level, image) pairs to threshold: Otsu's and below the bright end in LEVEL_STEPS, of the closed copy
    and of the copy with a lamp's gradient divided out."""
    out = []
    for view in (closed, _flatten(closed)):
        top = float(np.percentile(view, 90))
        levels = {round(_otsu(np.clip(view, 0, 1)), 3)} | {round(top - s, 3) for s in LEVEL_STEPS}
        out += [(lv, view) for lv in sorted(levels, reverse=True) if lv > 0.15]
    return out


def _regions(closed: np.ndarray) -> Iterator[tuple[float, np.ndarray]]:
    """Candidate sheet regions: the largest region above each of `_levels`, then the largest regions that
    sharp steps enclose (a light table: the paper only a little brighter, a lamp's gradient over both)."""
    for level, view in _levels(closed):
        yield level, largest_region(view > level)
    grey = Image.fromarray((np.clip(closed, 0, 1) * 255 + 0.5).astype(np.uint8))
    blur = np.asarray(grey.filter(ImageFilter.BoxBlur(2)), dtype=np.float32) / 255.0
    edges = np.abs(np.asarray(grey, dtype=np.float32) / 255.0 - blur) > EDGE_HIGHPASS
    lab = labels(~extreme_filter(edges.view(np.uint8), 3, np.maximum).astype(bool))
    ids, counts = np.unique(lab[lab < lab.size], return_counts=True)
    for i in np.argsort(-counts)[:ENCLOSED_REGIONS]:
        region = extreme_filter(
            extreme_filter((lab == ids[i]).view(np.uint8), 5, np.maximum), 5, np.minimum
        ).astype(bool)
        yield -1.0, region


def _region_quads(closed: np.ndarray) -> Iterator[tuple[float, np.ndarray, float]]:
    """(level, quadrilateral, fill) of each candidate region (`_regions`) of a plausible size: its convex
    hull reduced to four corners, and the fraction of that quadrilateral the region fills."""
    sh, sw = closed.shape
    counts_seen: list[int] = []
    for level, region in _regions(closed):
        count = int(region.sum())
        if count < MIN_SHEET * sh * sw or count > ALL_PAPER * sh * sw:
            continue  # too small, or the whole frame
        if counts_seen and min(abs(count - c) for c in counts_seen) < 0.005 * count:
            continue  # the same region as at a level tried already
        counts_seen.append(count)
        rows = np.flatnonzero(region.any(axis=1))
        first = region[rows].argmax(axis=1)
        last = sw - 1 - region[rows, ::-1].argmax(axis=1)
        ys = np.r_[rows, rows].astype(np.float64)
        xs = np.r_[first, last].astype(np.float64)
        quad = _quad(_hull(np.c_[xs, ys]))
        if quad is None:
            continue
        quad = order_corners(quad)
        area = _area(quad) + 0.5 * float(np.sum(np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)))
        yield level, quad, count / max(area, 1.0)


def _hough_lines(closed: np.ndarray) -> list[tuple[float, float, np.ndarray]]:
    """The strongest straight steps of the closed copy: (normal angle, distance from the origin, where along it
    its pixels lie), the
    normal pointing from the bright side to the dark side (a sheet's edges point outwards). Each pixel with a
    steep enough gradient votes, by its steepness, for the lines through it within HOUGH_SPREAD bins of its
    gradient's direction."""
    k3 = np.ones(3, dtype=np.float32) / 3  # a 3 x 3 mean first: the closing leaves its edges in steps
    smooth = np.apply_along_axis(np.convolve, 0, np.pad(closed, 1, mode="edge"), k3, "valid")
    smooth = np.apply_along_axis(np.convolve, 1, smooth, k3, "valid")
    gy, gx = np.gradient(smooth)
    mag = np.hypot(gx, gy)
    h, w = closed.shape
    strong = mag >= max(HOUGH_MIN_GRADIENT, float(np.percentile(mag, HOUGH_PERCENTILE)))
    ys, xs = np.nonzero(strong)
    if len(ys) == 0:
        return []
    weight = mag[ys, xs]
    ang = np.arctan2(-gy[ys, xs], -gx[ys, xs])  # bright -> dark
    nb = HOUGH_ANGLES
    diag = int(math.ceil(math.hypot(h, w)))
    width = 2 * diag + 1
    centre_bin = np.round(ang / (2 * math.pi) * nb).astype(np.int64)
    spread = np.arange(-HOUGH_SPREAD, HOUGH_SPREAD + 1)
    k = (centre_bin[:, None] + spread[None, :]) % nb  # (N, S)
    theta = k * (2 * math.pi / nb)
    rho = np.round(xs[:, None] * np.cos(theta) + ys[:, None] * np.sin(theta)).astype(np.int64) + diag
    cells = (k * width + rho).ravel()
    votes_each = np.broadcast_to(weight[:, None], k.shape).ravel()
    live = np.ones(len(ys), dtype=bool)
    lines: list[tuple[float, float, np.ndarray]] = []
    first = 0.0
    for _ in range(HOUGH_LINES):
        alive = np.repeat(live, len(spread))
        acc = np.bincount(cells[alive], votes_each[alive], minlength=nb * width)
        best = int(np.argmax(acc))
        votes = float(acc[best])
        if votes <= 0 or votes < HOUGH_MIN_VOTES * first:
            break
        first = first or votes
        t, r = (best // width) * 2 * math.pi / nb, float(best % width - diag)
        # the pixels on this line (close to it, their gradient along its normal) vote no more
        near = np.abs(xs * math.cos(t) + ys * math.sin(t) - r) <= HOUGH_NEAR
        turned = (
            np.abs((ang - t + math.pi) % (2 * math.pi) - math.pi) <= (HOUGH_SPREAD + 1) * 2 * math.pi / nb
        )
        on = near & turned
        # where along the line its pixels lie (px from the foot of the normal, along the line's direction)
        lines.append((t, r, np.unique(np.round(-xs[on] * math.sin(t) + ys[on] * math.cos(t)))))
        live &= ~on
    return lines


def _hough_quads(closed: np.ndarray) -> Iterator[tuple[float, np.ndarray, float]]:
    """Quadrilaterals bounded by four of the strongest straight steps (`_hough_lines`; the frame's own borders
    may stand in for sides out of view), their outward normals about a quarter turn apart in turn, of a
    plausible size: the HOUGH_QUADS whose sides are steps along most of their length, as (HOUGH_LEVEL, quad,
    1.0)."""
    h, w = closed.shape
    lines = _hough_lines(closed)
    frame = np.zeros(0)
    pool = lines + [
        (math.pi, 0.0, frame),
        (0.0, w - 1.0, frame),
        (1.5 * math.pi, 0.0, frame),
        (0.5 * math.pi, h - 1.0, frame),
    ]
    found = []
    for combo in itertools.combinations(range(len(pool)), 4):
        if sum(i >= len(lines) for i in combo) > 2:
            continue
        chosen = sorted((pool[i] for i in combo), key=lambda t: t[0])
        angles = np.array([t[0] for t in chosen])
        turns = np.diff(np.r_[angles, angles[0] + 2 * math.pi])
        if np.any(np.abs(turns - math.pi / 2) > HOUGH_SKEW):
            continue
        quad = []
        for i in range(4):
            (t1, r1, _), (t2, r2, _) = chosen[i - 1], chosen[i]
            a = np.array([[math.cos(t1), math.sin(t1)], [math.cos(t2), math.sin(t2)]])
            quad.append(np.linalg.solve(a, np.array([r1, r2])))  # corner i: where side i-1 meets side i
        quad = np.array(quad)
        if np.any(quad < -0.5 * np.array([w, h])) or np.any(quad > 1.5 * np.array([w, h])):
            continue
        clipped = np.clip(quad, 0, [w - 1, h - 1])
        cover = _area(clipped) / (h * w)
        if not MIN_SHEET <= cover <= ALL_PAPER:
            continue
        # each side's share of its length (inside the frame) that its line's pixels cover
        shares = []
        for i, (t, _, along) in enumerate(chosen):
            if along is frame:
                continue
            ends = [
                float(-p[0] * math.sin(t) + p[1] * math.cos(t)) for p in (clipped[i], clipped[(i + 1) % 4])
            ]
            lo, hi = min(ends), max(ends)
            if hi - lo < 2:
                shares.append(0.0)
                continue
            shares.append(float(((along >= lo) & (along <= hi)).sum()) / (hi - lo + 1))
        if len(shares) < 2:
            continue
        found.append((min(shares), cover, order_corners(clipped)))
    found.sort(key=lambda t: (-round(t[0], 1), -t[1]))
    for _, _, quad in found[:HOUGH_QUADS]:
        yield HOUGH_LEVEL, quad, 1.0


def _line_through(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a point on, unit direction of) the total-least-squares line through points (N, 2)."""
    c = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - c, full_matrices=False)
    return c, vt[0]


def _cross_lines(p: np.ndarray, d: np.ndarray, q: np.ndarray, e: np.ndarray) -> np.ndarray | None:
    """Where the lines p + t d and q + u e cross; None when (nearly) parallel."""
    det = d[0] * (-e[1]) - d[1] * (-e[0])
    if abs(det) < 1e-6:
        return None
    t = ((q[0] - p[0]) * (-e[1]) - (q[1] - p[1]) * (-e[0])) / det
    return p + t * d


def refine_corners(gray: Image.Image, corners: np.ndarray, reach: float) -> np.ndarray:
    """Corners (4, 2) in `gray`'s pixels moved onto the sheet's edges (see REFINE_SIDE); `reach`: how far (in
    `gray`'s pixels) an edge may be off."""
    w, h = gray.size
    g = min(1.0, REFINE_SIDE / max(w, h))
    im = gray.resize((max(8, round(w * g)), max(8, round(h * g))), Image.Resampling.BOX) if g < 1 else gray
    arr = np.asarray(im, dtype=np.float32) / 255.0
    arr = extreme_filter(extreme_filter(arr, REFINE_CLOSE, np.maximum), REFINE_CLOSE, np.minimum)
    rh, rw = arr.shape
    quad = (corners + 0.5) * g - 0.5
    c = quad.mean(axis=0)
    r = reach * g
    offsets = np.arange(-r, r + 0.01, 0.5)  # across the edge, inside (-) to outside (+)
    lines = []
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        d = (b - a) / max(float(np.hypot(*(b - a))), 1e-9)
        lines.append((a, d))
        pts = a + (b - a) * np.linspace(0.08, 0.92, REFINE_POINTS)[:, None]  # (P, 2)
        n = np.array([d[1], -d[0]])
        if np.dot((a + b) / 2 - c, n) < 0:
            n = -n  # outwards
        m = r + 2
        keep = (pts[:, 0] > m) & (pts[:, 0] < rw - 1 - m) & (pts[:, 1] > m) & (pts[:, 1] < rh - 1 - m)
        if keep.mean() < 0.5:  # along the frame's border
            continue
        pts = pts[keep]
        grid = pts[:, None, :] + offsets[None, :, None] * n  # (P, K, 2)
        prof = _sample(arr, grid.reshape(-1, 2)).reshape(len(pts), -1)  # (P, K)
        jump = prof[:, :-2] - prof[:, 2:]  # inside minus outside over 1 px, (P, K - 2)
        k = jump.argmax(axis=1)
        best = jump[np.arange(len(pts)), k]
        good = best >= max(MIN_EDGE_STEP, 0.5 * float(np.median(best)))
        if good.sum() < REFINE_MIN_POINTS * REFINE_POINTS:
            continue
        on = pts[good] + (offsets[k[good]] + 0.5)[:, None] * n  # the steepest point, (G, 2)
        p0, d0 = _line_through(on)
        resid = np.abs((on - p0) @ np.array([-d0[1], d0[0]]))
        close = resid <= REFINE_OUTLIER
        if close.sum() < REFINE_MIN_POINTS * REFINE_POINTS:
            continue
        lines[i] = _line_through(on[close])
    out = []
    for i in range(4):
        p = _cross_lines(*lines[i - 1], *lines[i])  # corner i is where edge i-1 meets edge i
        if p is None or np.hypot(*(p - quad[i])) > 2 * r:
            return corners
        out.append(p)
    # a corner out of view stays on the frame's border (the warp has no pixels beyond it)
    return np.clip((np.array(out) + 0.5) / g - 0.5, 0, [w - 1, h - 1])


def find_sheet(gray: Image.Image) -> SheetSearch:
    """The sheet in a grey photo (see the module's docstring); corners in `gray`'s pixels."""
    w, h = gray.size
    if max(w, h) < MIN_PAGE_SIDE:  # a crop or a scan of a formula, not a photo of a page
        return SheetSearch("paper")
    f = SHEET_SIDE / max(w, h)
    small = gray.resize((max(8, round(w * f)), max(8, round(h * f))), Image.Resampling.BOX)
    arr = np.asarray(small, dtype=np.float32) / 255.0  # (h', w')
    closed = extreme_filter(extreme_filter(arr, CLOSE_WINDOW, np.maximum), CLOSE_WINDOW, np.minimum)
    top = float(np.percentile(closed, 90))
    sh, sw = closed.shape
    best: tuple[float, float, np.ndarray] | None = None
    tried: list[dict] = []
    for candidates in (_region_quads(closed), _hough_quads(closed)):  # straight steps: only without a region
        for level, quad, fill in candidates:
            area = _area(quad) + 0.5 * float(np.sum(np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)))
            cover = area / (sh * sw)
            step, sharp, measured, support = _edges(closed, quad)
            tried.append(
                {
                    "level": level,
                    "cover": round(cover, 3),
                    "fill": round(fill, 3),
                    "step": round(step, 3),
                    "sharp": round(sharp, 2),
                    "edges": measured,
                    "support": round(support, 2),
                    "quad": np.round((quad + 0.5) / f - 0.5).astype(int).tolist(),
                }
            )
            ok = (
                cover >= MIN_SHEET
                and cover <= ALL_PAPER
                and fill >= MIN_FILL
                and measured >= 2
                and step >= MIN_EDGE_STEP
                and sharp >= MIN_SHARPNESS
                and support >= MIN_SUPPORT
            )
            if level == HOUGH_LEVEL:  # no region vouches for it: most of its sides in view, steps all along
                ok = ok and measured >= 3 and support >= HOUGH_MIN_SUPPORT
            # the largest region whose edges are a sheet's all along; one with two sides along the frame's
            # border (two edges measured) is less sure, and so is each side that stands in for a straight step
            score = cover * min(1.0, support / FULL_SUPPORT) ** 4 * (FRAME_SIDE if measured < 3 else 1.0)
            if level == HOUGH_LEVEL:
                score *= HOUGH_FRAME_SIDE ** (4 - measured)
            if ok and (best is None or score > best[0]):
                best = (score, cover, quad)
        if best is not None:
            break
    if best is not None:
        _, cover, quad = best
        corners = (quad + 0.5) / f - 0.5  # small pixel centres -> gray pixels
        corners = refine_corners(gray, corners, REFINE_REACH / f)
        return SheetSearch("sheet", corners, round(cover, 4), top, tried)
    kind = "paper" if top >= NO_PAPER_LEVEL else "none"
    return SheetSearch(kind, None, 0.0, top, tried)


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3 x 3 H with dst ~ H @ src for 4 point pairs (each (4, 2))."""
    a = np.zeros((8, 8))
    b = np.zeros(8)
    for i, ((x, y), (u, v)) in enumerate(zip(src, dst, strict=True)):
        a[2 * i] = [x, y, 1, 0, 0, 0, -u * x, -u * y]
        a[2 * i + 1] = [0, 0, 0, x, y, 1, -v * x, -v * y]
        b[2 * i], b[2 * i + 1] = u, v
    return np.append(np.linalg.solve(a, b), 1.0).reshape(3, 3)


def apply(hom: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Points (N, 2) through a homography."""
    p = np.c_[pts, np.ones(len(pts))] @ hom.T
    return p[:, :2] / p[:, 2:3]


@dataclass(frozen=True)
class Rectified:
    """The sheet upright, and the map from its pixels to the photo's."""

    image: Image.Image
    to_photo: np.ndarray  # 3 x 3: sheet pixel (x, y) -> photo pixel


def rectify(gray: Image.Image, corners: np.ndarray, max_side: int) -> Rectified:
    """The quadrilateral `corners` (TL, TR, BR, BL in `gray`'s pixels) warped to an upright rectangle of its
    own proportions (the mean lengths of opposite edges), at most `max_side` px on its long side."""
    c = corners.mean(axis=0)
    quad = corners + (c - corners) * 2 * INSET
    width = 0.5 * (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3]))
    height = 0.5 * (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1]))
    s = min(1.0, max_side / max(width, height, 1.0))
    out_w, out_h = max(8, round(width * s)), max(8, round(height * s))
    rect = np.array([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]], dtype=np.float64)
    hom = homography(rect, quad)  # output pixel -> photo pixel (PIL's transform wants this direction)
    hom /= hom[2, 2]
    out = gray.transform(
        (out_w, out_h),
        Image.Transform.PERSPECTIVE,
        tuple(hom.ravel()[:8].tolist()),
        Image.Resampling.BILINEAR,
    )
    return Rectified(out, hom)


def remove_rules(ink: np.ndarray) -> np.ndarray:
    """An upright sheet's ink map without its printed lines (squares, rules, a margin): in each of RULE_STRIPS
    strips, every column's level (a line running down the whole strip: the RULE_RANK percentile along it of the
    column and its two neighbours' maximum, so that a line a pixel off straight counts and a stroke written
    along the line, covering less of the strip, does not) is taken off the column, then every row's off the
    row. Ink darker than the line (writing on it: a fraction bar or an equals sign along a rule, a stroke
    crossing it) keeps its level: from the line's level L to STRONG = max(RULE_STRONG_FACTOR x L, L +
    RULE_STRONG_MARGIN) the map rises linearly from 0 to STRONG, above STRONG it is unchanged."""
    out = ink.copy()
    for axis in (0, 1):
        view = out if axis == 0 else out.T  # columns of `view` run along the strips
        n = view.shape[0]
        edges = np.linspace(0, n, RULE_STRIPS + 1).round().astype(int)
        levels = []
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            strip = view[a:b:2]
            wide = strip.copy()
            np.maximum(wide[:, 1:], strip[:, :-1], out=wide[:, 1:])
            np.maximum(wide[:, :-1], strip[:, 1:], out=wide[:, :-1])
            kth = int(RULE_RANK / 100 * (len(wide) - 1))
            levels.append(np.partition(wide, kth, axis=0)[kth])  # (columns,)
        # the printed lines are alike: a level far above theirs is writing along a line (a long fraction bar)
        found = np.concatenate(levels)
        found = found[found > RULE_MIN_LEVEL]
        if found.size:
            typical = float(np.median(found))
            cap = max(RULE_SPREAD * typical, typical + RULE_SPREAD_MARGIN)
            levels = [np.minimum(level, cap) for level in levels]
        for (a, b), level in zip(zip(edges[:-1], edges[1:], strict=True), levels, strict=True):
            strong = np.maximum(RULE_STRONG_FACTOR * level, level + RULE_STRONG_MARGIN)
            # x - level up to level + RULE_KEEP_ABOVE, then a ramp up to x at STRONG (it is below x before STRONG)
            x = view[a:b]
            ramp = x - (level + RULE_KEEP_ABOVE)
            ramp *= (strong - RULE_KEEP_ABOVE) / (strong - level - RULE_KEEP_ABOVE)
            ramp += RULE_KEEP_ABOVE
            np.minimum(ramp, x, out=ramp)
            np.maximum(ramp, x - level, out=ramp)
            np.maximum(ramp, 0.0, out=x)
    return out


def boxes(lab: np.ndarray) -> list[tuple[int, int, int, int, np.ndarray]]:
    """(y0, y1, x0, x1, label) of each region of a label image (`labels`)."""
    gh, gw = lab.shape
    ids, inverse = np.unique(lab.ravel(), return_inverse=True)
    rows = np.broadcast_to(np.arange(gh)[:, None], (gh, gw)).ravel()
    cols = np.broadcast_to(np.arange(gw)[None, :], (gh, gw)).ravel()
    n = len(ids)
    y0, x0 = np.full(n, gh), np.full(n, gw)
    y1, x1 = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    np.minimum.at(y0, inverse, rows)
    np.maximum.at(y1, inverse, rows)
    np.minimum.at(x0, inverse, cols)
    np.maximum.at(x1, inverse, cols)
    return [
        (int(y0[i]), int(y1[i]) + 1, int(x0[i]), int(x1[i]) + 1, ids[i : i + 1])
        for i in range(n)
        if ids[i] < lab.size
    ]


def clean_sheet(ink: np.ndarray, level: float = 0.0) -> np.ndarray:
    """The ink map (H, W) of a rectified sheet without what is not writing (see the module's docstring)."""
    h, w = ink.shape
    short = min(h, w)
    out = ink.copy()
    band = max(2, round(EDGE_BAND * short))
    out[:band] = 0
    out[-band:] = 0
    out[:, :band] = 0
    out[:, -band:] = 0
    marks = out > max(level, THICK_LEVEL)
    k = max(MIN_THICK, round(THICK_FRACTION * short)) | 1
    solid = extreme_filter(
        extreme_filter(marks.view(np.uint8), CLOSE_WINDOW, np.maximum), CLOSE_WINDOW, np.minimum
    )  # a highlight
    core = extreme_filter(solid, k, np.minimum).astype(bool)  # what is thicker than k
    if core.any():
        # a long thick piece is an object (a pen), a compact one near the edge a punched hole; a compact one
        # elsewhere may be dense writing (a filled loop) and stays
        cell = PIECE_CELL
        gh, gw = math.ceil(h / cell), math.ceil(w / cell)
        grid = np.zeros((gh * cell, gw * cell), dtype=bool)
        grid[:h, :w] = core
        occupied = grid.reshape(gh, cell, gw, cell).any(axis=(1, 3))
        lab = labels(occupied)
        drop = np.zeros((gh, gw), dtype=bool)
        zone = HOLE_ZONE * short / cell
        for y0, y1, x0, x1, ids in boxes(lab):
            long = max(y1 - y0, x1 - x0) * cell >= LONG_OBJECT * k
            near_edge = min(y0, x0, gh - y1, gw - x1) <= zone
            if long or near_edge:
                drop |= np.isin(lab, ids)
        if drop.any():
            gone = np.repeat(np.repeat(drop, cell, 0), cell, 1)[:h, :w] & core
            halo = 2 * round(OBJECT_HALO * k) + 1  # its outline, tip, shadow
            out[extreme_filter(gone.view(np.uint8), halo, np.maximum).astype(bool)] = 0
    out = remove_rules(out)  # after the thick objects: a pen across a strip would be taken for a line
    # pieces that run into the edge band are not writing either (a pen lying across the sheet's edge)
    cell = PIECE_CELL
    gh, gw = math.ceil(h / cell), math.ceil(w / cell)
    grid = np.zeros((gh * cell, gw * cell), dtype=bool)
    grid[:h, :w] = out > max(level, EDGE_PIECE_LEVEL)  # faint remnants of lines would join everything
    occupied = grid.reshape(gh, cell, gw, cell).any(axis=(1, 3))
    lab = labels(extreme_filter(occupied.view(np.uint8), 3, np.maximum).astype(bool))
    rim = max(1, math.ceil(band / cell)) + 1
    edge = np.zeros((gh, gw), dtype=bool)
    edge[:rim] = edge[-rim:] = True
    edge[:, :rim] = edge[:, -rim:] = True
    touching = np.unique(lab[edge & (lab < lab.size)])
    if touching.size:
        drop = np.isin(lab, touching) & occupied
        out[np.repeat(np.repeat(drop, cell, 0), cell, 1)[:h, :w]] = 0
    return out
