"""Is an image one handwritten symbol? Connected ink components and how they sit side by side.

Single symbols made of several strokes stack their pieces (`=`, `i`, `j`, `!`, `\\div`, `\\pm`, `\\leq`):
the pieces overlap horizontally. A written expression lays its symbols out from left to right with
blank columns between them. So: label the connected ink components of the binarised image at a fixed
working height, merge components whose column ranges overlap into *parts*, and measure the blank
gaps between neighbouring parts relative to the ink height.

Measured on the rendered CROHME 2014 test traceGroups and expressions (`render_symbol`, `render_strokes`):
6 of the 9,744 crops of one-glyph classes are flagged (0.06 %; 2 of the 40 `\\ldots`), and 693 of the
985 expressions of two or more symbols (70 %: those with a blank gap between their symbols; a square
root over its argument, a fraction or a sub/superscript that overlaps its base are one part). An image
is flagged when it has more than `MAX_PARTS` parts or a gap wider than `MAX_GAP` ink heights. A row of
2-5 filled dots (or short dashes) spaced wider than they are large (`\\ldots`) counts as one symbol.
The multi-letter classes (`\\sin`, `\\cos`, `\\tan`, `\\log`, `\\lim`) pass when their letters are
written close together and are flagged, like any word, when they stand apart (83 of 275 crops).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from data.preprocess import PreprocessConfig, preprocess_array

# Working geometry: the ink's bounding box scaled to this height (the expression model's input height).
LAYOUT_CONFIG = PreprocessConfig(height=64, max_width=1024, margin=2, width_multiple=16, min_width=32)
INK_THRESHOLD = 0.3  # binarisation of the soft ink map (0..1)
MIN_COMPONENT_PIXELS = 3  # smaller components are specks, not ink
MAX_GAP = 0.2  # widest blank gap between two parts of one symbol, in ink heights
MAX_PARTS = 3  # more side-by-side parts than this is never one symbol (`\lim` has 3)
# A dot row (`\ldots`): 2-5 parts, each one filled blob, of about one size, roughly on one line, and
# standing further apart than they are large (a handwritten dot is often a short dash or a blob).
DOT_MIN_PARTS, DOT_MAX_PARTS = 2, 5
DOT_MIN_FILL = 0.3  # ink pixels / bounding-box pixels (a written digit or letter stays below ~0.25)
DOT_MAX_ASPECT = 5.0
DOT_MAX_SIZE_RATIO = 6.0
DOT_MAX_DRIFT = 3.0  # vertical spread of the dot centres, in dot sizes (handwritten rows slope)
DOT_MIN_GAP = 1.0  # every gap at least this many times the largest dot

Reason = Literal["no_ink", "several_symbols"]


@dataclass(frozen=True)
class Component:
    """One 8-connected ink component: bounding box (end-exclusive) and pixel count."""

    y0: int
    y1: int
    x0: int
    x1: int
    pixels: int

    @property
    def fill(self) -> float:
        return self.pixels / max(1, (self.y1 - self.y0) * (self.x1 - self.x0))


@dataclass(frozen=True)
class InkLayout:
    components: tuple[Component, ...]  # left to right by x0
    parts: tuple[tuple[int, int], ...]  # column ranges [x0, x1) of the side-by-side parts
    height: int  # ink height in pixels (0: no ink)

    @property
    def gaps(self) -> tuple[float, ...]:
        """Blank gaps between neighbouring parts, in ink heights."""
        h = max(1, self.height)
        return tuple((b[0] - a[1]) / h for a, b in zip(self.parts, self.parts[1:], strict=False))

    @property
    def max_gap(self) -> float:
        return max(self.gaps, default=0.0)

    @property
    def is_dot_row(self) -> bool:
        """2-5 parts, each a single filled blob of about one size, spaced wider than they are (`\\ldots`)."""
        if not DOT_MIN_PARTS <= len(self.parts) <= DOT_MAX_PARTS or len(self.components) != len(self.parts):
            return False
        sizes = []
        for c in self.components:
            h, w = c.y1 - c.y0, c.x1 - c.x0
            if c.fill < DOT_MIN_FILL or max(h, w) > DOT_MAX_ASPECT * min(h, w):
                return False
            sizes.append(max(h, w))
        if max(sizes) > DOT_MAX_SIZE_RATIO * min(sizes):
            return False
        gaps_px = [b[0] - a[1] for a, b in zip(self.parts, self.parts[1:], strict=False)]
        if min(gaps_px) < DOT_MIN_GAP * max(sizes):
            return False
        centres = [(c.y0 + c.y1) / 2 for c in self.components]
        return max(centres) - min(centres) <= DOT_MAX_DRIFT * max(sizes)

    @property
    def reason(self) -> Reason | None:
        """None when this is probably one symbol; otherwise why not."""
        if not self.components:
            return "no_ink"
        if self.is_dot_row:
            return None
        if len(self.parts) > MAX_PARTS or self.max_gap > MAX_GAP:
            return "several_symbols"
        return None

    @property
    def single_symbol(self) -> bool:
        return self.reason is None


def label_components(mask: np.ndarray, min_pixels: int = MIN_COMPONENT_PIXELS) -> list[Component]:
    """8-connected components of a boolean (H, W) mask, via runs per row and union-find."""
    mask = np.asarray(mask, dtype=bool)
    parent: list[int] = []

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    runs: list[tuple[int, int, int]] = []  # (row, start, end) per run id
    prev: list[tuple[int, int, int]] = []  # (start, end, id) of the previous row's runs
    padded = np.zeros(mask.shape[1] + 2, dtype=np.int8)
    for y in range(mask.shape[0]):
        padded[1:-1] = mask[y]
        d = np.diff(padded)
        cur = []
        j = 0
        for s, e in zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True):
            rid = len(parent)
            parent.append(rid)
            runs.append((y, s, e))
            while j < len(prev) and prev[j][1] < s:  # ends (exclusive) left of s - 1: cannot touch
                j += 1
            k = j
            while k < len(prev) and prev[k][0] <= e:  # starts at most one right of our last pixel
                a, b = find(rid), find(prev[k][2])
                if a != b:
                    parent[a] = b
                k += 1
            cur.append((s, e, rid))
        prev = cur
    boxes: dict[int, list[int]] = {}
    for rid, (y, s, e) in enumerate(runs):
        box = boxes.setdefault(find(rid), [y, y + 1, s, e, 0])
        box[1] = y + 1
        box[2] = min(box[2], s)
        box[3] = max(box[3], e)
        box[4] += e - s
    comps = [Component(*b) for b in boxes.values() if b[4] >= min_pixels]
    return sorted(comps, key=lambda c: (c.x0, c.y0))


def ink_layout(ink: np.ndarray, threshold: float = INK_THRESHOLD) -> InkLayout:
    """Layout of a (H, W) ink map (ink = 1, background = 0)."""
    comps = label_components(np.asarray(ink) > threshold)
    if not comps:
        return InkLayout((), (), 0)
    height = max(c.y1 for c in comps) - min(c.y0 for c in comps)
    parts: list[list[int]] = []
    for c in comps:  # sorted by x0: merge overlapping column ranges
        if parts and c.x0 < parts[-1][1]:
            parts[-1][1] = max(parts[-1][1], c.x1)
        else:
            parts.append([c.x0, c.x1])
    return InkLayout(tuple(comps), tuple((a, b) for a, b in parts), height)


def image_layout(image: Image.Image | np.ndarray | bytes) -> InkLayout:
    """Layout of any image (photo, drawing, render) through `data.preprocess` at `LAYOUT_CONFIG`."""
    x = preprocess_array(image, LAYOUT_CONFIG)  # (1, H, W)
    return ink_layout(x[0])
