"""Ink input: JSON `strokes` (`[[[x, y, ...], ...], ...]`) or InkML text -> checked (N, 2) point arrays,
and the images the model reads them from, drawn by the project's own renderer (`data.render.render_strokes`
with `RenderConfig`'s pen) at the scale of the CROHME offline images; a symbol as
`data.symbols.SymbolDataset` draws a traceGroup crop."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from api.errors import ApiError
from api.limits import (
    MAX_INK_COORDINATE,
    MAX_INK_POINT_VALUES,
    MAX_INK_POINTS,
    MAX_INK_STROKE_POINTS,
    MAX_INK_STROKES,
)
from data.inkml import InkmlError, read_inkml
from data.render import MAX_RENDER_ASPECT, MIN_EXTENT, RenderConfig, render_strokes, render_symbol
from data.symbols import INK_PEN_FRACTION

Strokes = list[np.ndarray]  # each (N, 2) float32 x, y; y grows downwards

# The scale of the CROHME offline images (../shared/crohme/offline/2014, measured on 124 of them against
# their InkML): the median stroke spans 28 px (10-90 %: 20-39 px), the blank border is 12 px. Ink drawn at
# this scale reads as those images do (ExpRate 19 % on 100 other 2014 test expressions, offline images 20 %);
# drawn 72 px high as the training renders (RenderConfig) it read 12 %.
OFFLINE_STROKE_EXTENT_PX = 28.0
OFFLINE_PAD_PX = 12
MIN_RENDER_HEIGHT = 32  # a lone "-" or "." still gets a few rows
MAX_RENDER_HEIGHT = 640  # ink with one huge stroke among tiny ones is not drawn taller than this


def _invalid(message: str, nl: str) -> ApiError:
    return ApiError(422, "invalid_ink", message, nl=nl)


def _empty() -> ApiError:
    return ApiError(422, "empty_ink", "the ink has no points", nl="de inkt bevat geen punten")


def _too_large(what: str, count: int, limit: int, nl_what: str) -> ApiError:
    return ApiError(
        413,
        "ink_too_large",
        f"the ink has {count} {what}; the limit is {limit}",
        nl=f"de inkt heeft {count} {nl_what}; de grens is {limit}",
    )


def _coordinate(value: Any, where: str) -> float:
    """One x or y value: a finite JSON number within MAX_INK_COORDINATE."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"{where} is not a number", nl=f"{where} is geen getal")
    v = float(value)
    if not math.isfinite(v):
        raise _invalid(f"{where} is not a finite number", nl=f"{where} is geen eindig getal")
    if abs(v) > MAX_INK_COORDINATE:
        raise ApiError(
            422,
            "ink_out_of_range",
            f"{where} is {v:g}; coordinates must lie within ±{MAX_INK_COORDINATE:g}",
            nl=f"{where} is {v:g}; coördinaten moeten binnen ±{MAX_INK_COORDINATE:g} liggen",
        )
    return v


def _stroke(raw: Any, i: int) -> np.ndarray:
    if not isinstance(raw, list):
        raise _invalid(
            f"strokes[{i}] must be a list of points [x, y]",
            nl=f"strokes[{i}] moet een lijst van punten [x, y] zijn",
        )
    if len(raw) > MAX_INK_STROKE_POINTS:
        raise _too_large(
            f"points in strokes[{i}]", len(raw), MAX_INK_STROKE_POINTS, f"punten in strokes[{i}]"
        )
    out = np.empty((len(raw), 2), dtype=np.float64)
    for j, point in enumerate(raw):
        where = f"strokes[{i}][{j}]"
        if not isinstance(point, list) or not 2 <= len(point) <= MAX_INK_POINT_VALUES:
            raise _invalid(
                f"{where} must be a point [x, y] (at most {MAX_INK_POINT_VALUES} values; those after y are ignored)",
                nl=f"{where} moet een punt [x, y] zijn (hoogstens {MAX_INK_POINT_VALUES} waarden)",
            )
        out[j, 0] = _coordinate(point[0], f"{where}[0]")
        out[j, 1] = _coordinate(point[1], f"{where}[1]")
    return out.astype(np.float32)


def parse_strokes(raw: Any) -> Strokes:
    """JSON `strokes` -> the non-empty strokes as (N, 2) arrays; 413/422 `ApiError` when it is not ink
    or more than the limits of `api.limits`."""
    if not isinstance(raw, list):
        raise _invalid(
            "'strokes' must be a list of strokes, each a list of points [x, y]",
            nl="'strokes' moet een lijst van streken zijn, elk een lijst van punten [x, y]",
        )
    if len(raw) > MAX_INK_STROKES:
        raise _too_large("strokes", len(raw), MAX_INK_STROKES, "streken")
    total = sum(len(s) for s in raw if isinstance(s, list))
    if total > MAX_INK_POINTS:
        raise _too_large("points", total, MAX_INK_POINTS, "punten")
    strokes = [s for s in (_stroke(r, i) for i, r in enumerate(raw)) if len(s)]
    if not strokes:
        raise _empty()
    return strokes


def parse_inkml(text: str) -> Strokes:
    """InkML text -> its traces as strokes, under the same limits as JSON `strokes`."""
    if "<!ENTITY" in text or "<!DOCTYPE" in text:  # no entity expansion from a request
        raise ApiError(
            422,
            "invalid_inkml",
            "the InkML may not declare a DOCTYPE or entities",
            nl="de InkML mag geen DOCTYPE of entiteiten bevatten",
        )
    try:
        record = read_inkml(text.encode("utf-8"), name="inkml")
    except InkmlError as exc:
        if "no traces" in str(exc) or "empty file" in str(exc):
            raise _empty() from exc
        raise ApiError(
            422, "invalid_inkml", f"the InkML cannot be read: {exc}", nl="de InkML kan niet gelezen worden"
        ) from exc
    return check_strokes(record.strokes)


def check_strokes(strokes: Sequence[np.ndarray]) -> Strokes:
    """Already numeric strokes (InkML) under the limits of JSON `strokes`."""
    if len(strokes) > MAX_INK_STROKES:
        raise _too_large("strokes", len(strokes), MAX_INK_STROKES, "streken")
    for i, s in enumerate(strokes):
        if len(s) > MAX_INK_STROKE_POINTS:
            raise _too_large(f"points in trace {i}", len(s), MAX_INK_STROKE_POINTS, f"punten in spoor {i}")
    total = sum(len(s) for s in strokes)
    if total > MAX_INK_POINTS:
        raise _too_large("points", total, MAX_INK_POINTS, "punten")
    out = [np.asarray(s, dtype=np.float32).reshape(-1, 2) for s in strokes if len(s)]
    if not out:
        raise _empty()
    for s in out:
        if not np.isfinite(s).all():
            raise _invalid(
                "the InkML has a value that is not a finite number", nl="de InkML bevat een ongeldig getal"
            )
        if float(np.abs(s).max()) > MAX_INK_COORDINATE:
            raise ApiError(
                422,
                "ink_out_of_range",
                f"coordinates must lie within ±{MAX_INK_COORDINATE:g}",
                nl=f"coördinaten moeten binnen ±{MAX_INK_COORDINATE:g} liggen",
            )
    return out


def ink_scale(strokes: Sequence[np.ndarray]) -> float:
    """Output pixels per ink unit that give the median stroke an extent of OFFLINE_STROKE_EXTENT_PX, the
    scale of the CROHME offline images (their ink is not scaled to one height: a fraction is taller)."""
    extents = [e for e in (float(np.ptp(s, axis=0).max()) for s in strokes if len(s)) if e > MIN_EXTENT]
    return OFFLINE_STROKE_EXTENT_PX / float(np.median(extents)) if extents else 1.0  # dots only: any scale


def render_expression(
    strokes: Sequence[np.ndarray], pen_width: float = RenderConfig.pen_width
) -> Image.Image:
    """A whole formula drawn as the offline images the model reads are: the training renderer
    (`data.render.render_strokes`, its pen) at the offline images' scale, whatever the ink's own units."""
    pts = np.concatenate([np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes], axis=0)  # (N, 2)
    w, h = np.ptp(pts, axis=0)
    ink_h = max(float(h), float(w) / MAX_RENDER_ASPECT) * ink_scale(strokes)
    height = round(ink_h + 2 * OFFLINE_PAD_PX + pen_width)
    height = min(max(height, MIN_RENDER_HEIGHT), MAX_RENDER_HEIGHT)
    return render_strokes(strokes, height=height, pen_width=pen_width, pad=OFFLINE_PAD_PX)


def render_one_symbol(strokes: Sequence[np.ndarray], size: int, pen: str = "fixed") -> Image.Image:
    """One symbol drawn as `data.symbols.SymbolDataset.render` draws a traceGroup crop (2 * size square);
    with the "ink" pen, the symbol is its own expression, so its pen is INK_PEN_FRACTION of its extent."""
    if pen == "ink":
        pts = np.concatenate([np.asarray(s).reshape(-1, 2) for s in strokes], axis=0)  # (N, 2)
        extent = float((pts.max(axis=0) - pts.min(axis=0)).max())
        return render_symbol(strokes, size=2 * size, ink_pen=INK_PEN_FRACTION * extent or None)
    return render_symbol(strokes, size=2 * size)


LINE_GAP_FRACTION = 0.6  # a vertical gap wider than this many median stroke heights starts a new line


def split_ink_lines(strokes: Sequence[np.ndarray]) -> list[Strokes]:
    """Ink of several lines of writing (one step a line), top to bottom: strokes whose vertical extents
    overlap or lie closer than LINE_GAP_FRACTION of a median stroke's height are one line (a fraction's
    numerator, bar and denominator stay together; the gap between lines is wider than a symbol)."""
    items = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes if len(s)]  # each (N, 2)
    if not items:
        return []
    spans = sorted(((float(s[:, 1].min()), float(s[:, 1].max()), i) for i, s in enumerate(items)))
    heights = [hi - lo for lo, hi, _ in spans if hi - lo > MIN_EXTENT]
    gap = LINE_GAP_FRACTION * (float(np.median(heights)) if heights else 1.0)
    lines: list[list[int]] = []
    bottom = -math.inf
    for lo, hi, i in spans:
        if not lines or lo > bottom + gap:
            lines.append([])
            bottom = hi
        lines[-1].append(i)
        bottom = max(bottom, hi)
    return [[items[i].astype(np.float32) for i in sorted(line)] for line in lines]
