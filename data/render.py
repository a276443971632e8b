"""Anti-aliased rendering of pen strokes to grayscale images.

Renders are white ink (255) on black (0), like the standard CROHME offline images;
`data.preprocess` detects the polarity, so either convention feeds the model the same way.
Anti-aliasing is done by drawing at `supersample` times the size and box-reducing.
Rendering is deterministic: the same strokes and options give the same pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

# A flat expression (a lone "-") is scaled as if it were at most this wide per unit of height.
MAX_RENDER_ASPECT = 24.0
MAX_RENDER_WIDTH = 4096
MIN_EXTENT = 1e-6
MIN_INK_PEN_PX = 0.75  # a physical pen (render_symbol's ink_pen) never draws thinner than this
# Polyline vertices turning by more than ~25 degrees get a round cap (no notches in wide strokes).
SHARP_TURN_COS = 0.9


@dataclass
class RenderConfig:
    """How InkML strokes become an image."""

    height: int = 72  # output height in pixels; the ink spans height - 2 * pad
    pen_width: float = 2.5  # in output pixels; 2.5 matches the ink density of the offline CROHME images
    pad: int = 6
    supersample: int = 2


def stroke_bounds(strokes: Sequence[np.ndarray]) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the points of the non-empty strokes, each (N, 2)."""
    pts = np.concatenate([s for s in strokes if len(s)], axis=0)  # (N, 2)
    lo = pts.min(axis=0)
    hi = pts.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def _draw(
    strokes: Sequence[np.ndarray],
    size: tuple[int, int],
    origin: tuple[float, float],
    scale: float,
    offset: tuple[float, float],
    pen_width: float,
    supersample: int,
) -> Image.Image:
    """Map points to (x - ox) * scale + dx (output pixels), draw them at supersample resolution."""
    s = max(1, int(supersample))
    canvas = Image.new("L", (size[0] * s, size[1] * s), 0)
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(pen_width * s))
    radius = width / 2.0
    ox, oy = origin
    dx, dy = offset
    for stroke in strokes:
        if len(stroke) == 0:
            continue
        xy = np.empty_like(stroke, dtype=np.float64)  # (N, 2)
        xy[:, 0] = ((stroke[:, 0] - ox) * scale + dx) * s
        xy[:, 1] = ((stroke[:, 1] - oy) * scale + dy) * s
        # Drop consecutive duplicates (common in pen data), they only slow drawing down.
        if len(xy) > 1:
            keep = np.ones(len(xy), dtype=bool)
            keep[1:] = np.any(np.abs(np.diff(xy, axis=0)) > 0.25, axis=1)
            xy = xy[keep]
        pts = [tuple(p) for p in xy.tolist()]
        round_at = [pts[0], pts[-1]]
        if len(pts) > 1:
            # PIL's joint="curve" is ~8x slower for wide lines; round only the sharp corners.
            draw.line(pts, fill=255, width=width)
            if len(xy) > 2 and width > 2:
                seg = np.diff(xy, axis=0)  # (N-1, 2)
                seg /= np.maximum(np.linalg.norm(seg, axis=1, keepdims=True), 1e-9)
                cos_turn = (seg[1:] * seg[:-1]).sum(axis=1)  # (N-2,)
                round_at += [pts[i + 1] for i in np.flatnonzero(cos_turn < SHARP_TURN_COS).tolist()]
        for x, y in round_at:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return canvas.reduce(s) if s > 1 else canvas


def render_strokes(
    strokes: Sequence[np.ndarray],
    height: int = RenderConfig.height,
    pen_width: float = RenderConfig.pen_width,
    pad: int = RenderConfig.pad,
    supersample: int = RenderConfig.supersample,
) -> Image.Image:
    """Render a whole expression: mode "L", white ink on black, `height` pixels tall."""
    strokes = [np.asarray(s, dtype=np.float32).reshape(-1, 2) for s in strokes]  # each (N, 2)
    if not any(len(s) for s in strokes):
        return Image.new("L", (2 * pad + 1, height), 0)
    x0, y0, x1, y1 = stroke_bounds(strokes)
    w, h = x1 - x0, y1 - y0
    inner = max(1.0, height - 2.0 * pad - pen_width)
    scale = inner / max(h, w / MAX_RENDER_ASPECT, MIN_EXTENT)
    if w * scale + 2 * pad + pen_width > MAX_RENDER_WIDTH:
        scale = (MAX_RENDER_WIDTH - 2 * pad - pen_width) / max(w, MIN_EXTENT)
    out_w = max(1, math.ceil(w * scale + 2 * pad + pen_width))
    dy = (height - h * scale) / 2.0
    dx = pad + pen_width / 2.0
    return _draw(strokes, (out_w, height), (x0, y0), scale, (dx, dy), pen_width, supersample)


def render_symbol(
    strokes: Sequence[np.ndarray],
    size: int = 64,
    pen_width: float = 2.5,
    pad: int = 6,
    supersample: int = 2,
    ink_pen: float | None = None,
) -> Image.Image:
    """Render one symbol centred in a `size` x `size` square, aspect ratio kept.

    The pen is `pen_width` output pixels whatever the symbol's size, or, with `ink_pen`, that width in
    the strokes' own units (a physical pen): the ink (path plus pen) then fills the square, so a small
    symbol comes out with thick strokes and a large one with thin strokes, as in a photo of the page.
    """
    strokes = [np.asarray(s, dtype=np.float32).reshape(-1, 2) for s in strokes]  # each (N, 2)
    if not any(len(s) for s in strokes):
        return Image.new("L", (size, size), 0)
    x0, y0, x1, y1 = stroke_bounds(strokes)
    w, h = x1 - x0, y1 - y0
    if ink_pen is not None and ink_pen > 0:
        scale = max(1.0, size - 2.0 * pad) / (max(w, h) + ink_pen)  # a dot becomes a disk
        pen_width = max(MIN_INK_PEN_PX, ink_pen * scale)
    elif max(w, h) < MIN_EXTENT:  # a single point: a dot of the pen's size
        scale = 0.0
    else:
        scale = max(1.0, size - 2.0 * pad - pen_width) / max(w, h)
    offset = ((size - w * scale) / 2.0, (size - h * scale) / 2.0)
    return _draw(strokes, (size, size), (x0, y0), scale, offset, pen_width, supersample)


def symbol_strokes(strokes_by_id: dict[str, np.ndarray], trace_ids: Sequence[str]) -> list[np.ndarray]:
    """The strokes of one traceGroup; ids missing from the file (a real CROHME quirk) are ignored."""
    return [strokes_by_id[t] for t in trace_ids if t in strokes_by_id]
