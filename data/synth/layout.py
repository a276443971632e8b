"""Write a caption in one writer's hand: real glyphs placed by the expression's 2-D structure.

The canonical caption (`tokenizer.normalize` form) is parsed into rows of atoms, fractions, radicals and
scripts, and laid out in units of a digit's height, y growing downwards, baseline at y = 0: atoms sit on
the baseline by their class (x-height letters 0.6 high, descenders below it, operators centred on the
maths axis, brackets spanning both), scripts are smaller and raised or lowered (under and over `\\sum` and
`\\lim`), a fraction's bar is drawn as wide as its parts with numerator and denominator centred on it, a
radical is stretched over its argument (its check kept, its bar lengthened), brackets grow to their
content. Each glyph and gap gets jitter in size, place and angle; the row drifts off its baseline and the
whole expression is slanted. The result is ink, strokes of (N, 2) points, drawn by `data.render` like any
InkML record.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from data.synth.glyphs import Glyph, GlyphBank

AXIS = -0.45  # the maths axis (centre of + - =) above the baseline, in digit heights
SCRIPT_SCALE = 0.62
FRAC_INNER_SCALE = 0.82  # a fraction inside a fraction or script is written smaller
INDEX_SCALE = 0.5  # the index of \sqrt[n]
# Tokens drawn with another class's glyph.
TOKEN_CLASS = {"'": "\\prime", "\\cdot": ".", "\\cdots": "\\ldots", "\\frac": "-"}
STRUCTURE = frozenset({"{", "}", "^", "_"})  # caption tokens that are no glyph
LIMIT_NUCLEI = frozenset({"\\sum", "\\lim"})  # scripts go under and over these
OPENERS = {"(": ")", "[": "]", "\\{": "\\}"}
CLOSERS = frozenset(OPENERS.values())
RELATIONS = frozenset({"=", "<", ">", "\\leq", "\\geq", "\\neq", "\\rightarrow", "\\in"})
BINARY = frozenset({"+", "-", "\\pm", "\\times", "\\div", "\\cdot"})

# class -> (size by "h"eight, "w"idth or "m"ax side, that size, anchor "base"/"axis"/"top", anchor y)
# "base": the glyph's bottom at y; "axis": its centre at AXIS + y; "top": its top at y.
Metric = tuple[str, float, str, float]
DEFAULT_METRIC: Metric = ("h", 1.0, "base", 0.0)
_METRICS: dict[str, Metric] = {}
for _c in "acemnorsuvwxz":
    _METRICS[_c] = ("h", 0.6, "base", 0.0)
for _c in ("\\alpha", "\\sigma", "\\pi"):
    _METRICS[_c] = ("h", 0.6, "base", 0.0)
for _c in ("g", "p", "q", "y", "\\mu", "\\gamma"):
    _METRICS[_c] = ("h", 0.9, "base", 0.3)
for _c in ("(", ")", "[", "]", "\\{", "\\}", "|"):
    _METRICS[_c] = ("h", 1.3, "base", 0.22)
for _c in ("\\sin", "\\cos", "\\tan", "i", "t"):
    _METRICS[_c] = ("h", 0.9, "base", 0.0)
for _c in ("+", "\\pm", "<", ">"):
    _METRICS[_c] = ("m", 0.6, "axis", 0.0)
for _c in ("-", "=", "\\neq", "\\div"):
    _METRICS[_c] = ("w", 0.6, "axis", 0.0)
_METRICS.update(
    {
        "j": ("h", 1.15, "base", 0.3),
        "f": ("h", 1.15, "base", 0.12),
        "\\beta": ("h", 1.3, "base", 0.3),
        "\\phi": ("h", 1.3, "base", 0.3),
        "/": ("h", 1.2, "base", 0.15),
        "\\in": ("m", 0.6, "axis", 0.0),
        "\\times": ("m", 0.5, "axis", 0.0),
        "\\leq": ("m", 0.75, "axis", 0.0),
        "\\geq": ("m", 0.75, "axis", 0.0),
        "\\rightarrow": ("w", 0.9, "axis", 0.0),
        "\\infty": ("w", 0.9, "axis", 0.0),
        ".": ("m", 0.1, "base", 0.0),
        ",": ("h", 0.35, "base", 0.2),
        "\\ldots": ("w", 0.8, "base", 0.0),
        "\\prime": ("h", 0.35, "top", -1.15),
        "\\sum": ("m", 1.5, "axis", 0.0),
        "\\int": ("h", 2.0, "axis", 0.1),
    }
)
_AXIS_TOKENS = {"\\cdot": ("m", 0.1, "axis", 0.0), "\\cdots": ("w", 0.8, "axis", 0.0)}


@dataclass
class LayoutConfig:
    """Jitter of the handwriting (standard deviations; sizes are relative, angles in radians)."""

    size_jitter: float = 0.07  # log-normal scale of each glyph
    offset_jitter: float = 0.03  # vertical offset of each glyph, digit heights
    angle_jitter: float = 0.035  # rotation of each glyph
    gap: float = 0.3  # horizontal gap between glyphs, digit heights (real widths: docs/synth.md)
    operator_gap: float = 0.42  # around relations and binary operators
    gap_jitter: float = 0.3  # log-normal of each gap
    writer_gap_jitter: float = 0.25  # log-normal of the writer's spacing
    drift: float = 0.025  # baseline random-walk step per glyph
    max_drift: float = 0.15
    slant: float = 0.07  # shear of the whole expression
    rotation: float = 0.02  # rotation of the whole expression


# --- tree ----------------------------------------------------------------------------------------------


@dataclass
class Frac:
    num: list[Node]
    den: list[Node]


@dataclass
class Sqrt:
    arg: list[Node]
    index: list[Node] | None = None


@dataclass
class Script:
    op: str  # "^" or "_"
    arg: list[Node]


Node = str | Frac | Sqrt | Script


def needed_classes(caption: str) -> set[str]:
    """The glyph classes writing `caption` takes (a `[ ]` around a root's index counts, though undrawn)."""
    return {TOKEN_CLASS.get(t, t) for t in caption.split() if t not in STRUCTURE}


def parse(caption: str) -> list[Node]:
    """A canonical caption -> its row of nodes; ValueError on unbalanced structure."""
    tokens = caption.split()
    pos = 0

    def group() -> list[Node]:
        nonlocal pos
        if pos >= len(tokens) or tokens[pos] != "{":
            raise ValueError(f"expected '{{' at token {pos} of {caption!r}")
        pos += 1
        return row("}")

    def row(closer: str | None) -> list[Node]:
        nonlocal pos
        items: list[Node] = []
        while pos < len(tokens):
            tok = tokens[pos]
            pos += 1
            if tok == closer:
                return items
            if tok in ("^", "_"):
                items.append(Script(tok, group()))
            elif tok == "\\frac":
                num = group()
                items.append(Frac(num, group()))
            elif tok == "\\sqrt":
                index = None
                if pos < len(tokens) and tokens[pos] == "[":
                    pos += 1
                    index = row("]")
                items.append(Sqrt(group(), index))
            elif tok == "{":
                items.extend(row("}"))
            elif tok == "}":
                raise ValueError(f"unbalanced '}}' in {caption!r}")
            else:
                items.append(tok)
        if closer is not None:
            raise ValueError(f"missing {closer!r} in {caption!r}")
        return items

    return row(None)


# --- boxes ---------------------------------------------------------------------------------------------


@dataclass
class Box:
    """Placed ink and its bounds (x0, y0, x1, y1); baseline at y = 0."""

    strokes: list[np.ndarray] = field(default_factory=list)
    x0: float = 0.0
    y0: float = 0.0
    x1: float = 0.0
    y1: float = 0.0

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @staticmethod
    def of(strokes: list[np.ndarray], bounds: tuple[float, float, float, float] | None = None) -> Box:
        if bounds is None:
            if not strokes:
                return Box()
            pts = np.concatenate(strokes, axis=0)  # (N, 2)
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            bounds = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
        return Box(strokes, *bounds)

    def moved(self, dx: float, dy: float) -> Box:
        d = np.array([dx, dy], dtype=np.float32)
        return Box([s + d for s in self.strokes], self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)

    def scaled(self, s: float) -> Box:
        return Box([s * p for p in self.strokes], s * self.x0, s * self.y0, s * self.x1, s * self.y1)


def merge(boxes: list[Box]) -> Box:
    boxes = [b for b in boxes if b.strokes]
    if not boxes:
        return Box()
    return Box(
        [s for b in boxes for s in b.strokes],
        min(b.x0 for b in boxes),
        min(b.y0 for b in boxes),
        max(b.x1 for b in boxes),
        max(b.y1 for b in boxes),
    )


def _rotate(strokes: list[np.ndarray], angle: float, cx: float, cy: float) -> list[np.ndarray]:
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, s], [-s, c]], dtype=np.float32)  # (2, 2), row vectors times rot
    centre = np.array([cx, cy], dtype=np.float32)
    return [(p - centre) @ rot + centre for p in strokes]


# --- writing -------------------------------------------------------------------------------------------


@dataclass
class _Hand:
    """One expression's writer and the draws of its style."""

    bank: GlyphBank
    writer: str
    rng: random.Random
    cfg: LayoutConfig
    spacing: float = 1.0

    def jit(self, sd: float) -> float:
        return self.rng.gauss(0.0, sd)

    def glyph(self, token: str) -> Glyph:
        return self.bank.pick(self.rng, self.writer, TOKEN_CLASS.get(token, token))


def _glyph_size(g: Glyph) -> tuple[float, float]:
    pts = np.concatenate(g, axis=0)  # (N, 2)
    span = pts.max(axis=0) - pts.min(axis=0)
    return max(float(span[0]), 1e-3), max(float(span[1]), 1e-3)


def atom(hand: _Hand, token: str) -> Box:
    """One symbol on the baseline, sized and anchored by its class, with jitter."""
    g = hand.glyph(token)
    w, h = _glyph_size(g)
    by, size, anchor, y = _AXIS_TOKENS.get(token) or _METRICS.get(
        TOKEN_CLASS.get(token, token), DEFAULT_METRIC
    )
    size *= math.exp(hand.jit(hand.cfg.size_jitter))
    if by == "h":
        s = min(size / h, 3.0 * size / w)
    elif by == "w":
        s = min(size / w, 1.5 * size / h)
    else:
        s = size / max(w, h)
    strokes = [p * s for p in g]
    gw, gh = w * s, h * s
    angle = hand.jit(hand.cfg.angle_jitter)
    if angle:
        strokes = _rotate(strokes, angle, gw / 2, gh / 2)
    box = Box.of(strokes)
    box = box.moved(-box.x0, -box.y0)  # top-left at (0, 0)
    if anchor == "base":
        dy = y - box.height
    elif anchor == "axis":
        dy = AXIS + y - box.height / 2
    else:
        dy = y
    return box.moved(0.0, dy + hand.jit(hand.cfg.offset_jitter))


def _bracket(hand: _Hand, token: str, top: float, bottom: float) -> Box:
    """A bracket stretched to span `top`..`bottom` (content taller than a line), widened a little."""
    box = atom(hand, token)
    target = bottom - top
    if target <= box.height * 1.05:
        return box
    sy = target / max(box.height, 1e-3)
    sx = sy**0.35
    scale = np.array([sx, sy], dtype=np.float32)
    strokes = [(p - np.array([box.x0, box.y0], dtype=np.float32)) * scale for p in box.strokes]
    return Box.of(strokes).moved(0.0, top)


def _scripts(hand: _Hand, nucleus: Box, token: str | None, subs: list[Box], sups: list[Box]) -> Box:
    """The nucleus with its sub- and superscript (each already scaled), at most one of each."""
    parts = [nucleus]
    sub = subs[0] if subs else None
    sup = sups[0] if sups else None
    if token in LIMIT_NUCLEI:
        cx = (nucleus.x0 + nucleus.x1) / 2
        if sub is not None:
            parts.append(sub.moved(cx - (sub.x0 + sub.x1) / 2, nucleus.y1 + 0.1 - sub.y0))
        if sup is not None:
            parts.append(sup.moved(cx - (sup.x0 + sup.x1) / 2, nucleus.y0 - 0.1 - sup.y1))
        return merge(parts)
    x = nucleus.x1 + 0.04 + abs(hand.jit(0.03))
    low = high = None
    if sub is not None:
        base = max(0.22, nucleus.y1 - 0.08) + hand.jit(0.03)
        low = sub.moved(x - sub.x0, base)
    if sup is not None:
        base = min(-0.42, nucleus.y0 + 0.4) + hand.jit(0.03)
        high = sup.moved(x - sup.x0, base)
        if low is not None and high.y1 > low.y0 - 0.08:
            high = high.moved(0.0, low.y0 - 0.08 - high.y1)
    return merge([*parts, *(b for b in (low, high) if b is not None)])


def _frac(hand: _Hand, node: Frac, depth: int) -> Box:
    inner = FRAC_INNER_SCALE if depth > 0 else 1.0
    num = row(hand, node.num, depth + 1).scaled(inner)
    den = row(hand, node.den, depth + 1).scaled(inner)
    margin = 0.1 * math.exp(hand.jit(0.3))
    width = max(num.width, den.width, 0.3) + 2 * margin
    g = hand.glyph("\\frac")
    w, h = _glyph_size(g)
    sx, sy = width / w, min(width, 0.6) * math.exp(hand.jit(0.2)) / w
    bar = Box.of([p * np.array([sx, sy], dtype=np.float32) for p in g])
    bar_y = AXIS + hand.jit(0.03)
    bar = bar.moved(-bar.x0, bar_y - (bar.y0 + bar.y1) / 2)
    cx = width / 2
    num = num.moved(cx + hand.jit(0.04) - (num.x0 + num.x1) / 2, bar.y0 - 0.12 - num.y1)
    den = den.moved(cx + hand.jit(0.04) - (den.x0 + den.x1) / 2, bar.y1 + 0.15 - den.y0)
    return merge([bar, num, den])


def _sqrt(hand: _Hand, node: Sqrt, depth: int) -> Box:
    arg = row(hand, node.arg, depth + 1)
    if not arg.strokes:
        arg = Box([], 0.0, -1.0, 0.4, 0.0)
    top = arg.y0 - 0.18 + hand.jit(0.03)
    bottom = arg.y1 + 0.08
    height = bottom - top
    g = hand.glyph("\\sqrt")
    w, h = _glyph_size(g)
    s = height / h
    pts = [p * s for p in g]
    all_pts = np.concatenate(pts, axis=0)  # (N, 2)
    x_low = float(all_pts[int(np.argmax(all_pts[:, 1])), 0])  # the check's vertex
    check = min(x_low + 0.3 * height, 0.9 * w * s)
    want = check + 0.08 + arg.width + 0.08
    nat = w * s
    if nat - check > 0.05:
        k = (want - check) / (nat - check)
        pts = [
            np.stack([np.where(p[:, 0] <= check, p[:, 0], check + (p[:, 0] - check) * k), p[:, 1]], axis=1)
            for p in pts
        ]  # (N, 2) each: the bar lengthened, the check kept
    else:
        pts = [p * np.array([want / nat, 1.0], dtype=np.float32) for p in pts]
    radical = Box.of([p.astype(np.float32) for p in pts])
    radical = radical.moved(-radical.x0, top - radical.y0)
    arg = arg.moved(check + 0.08 - arg.x0, 0.0)
    parts = [radical, arg]
    if node.index:
        index = row(hand, node.index, depth + 1).scaled(INDEX_SCALE)
        shift = max(0.0, index.width - 0.5 * check)
        parts = [b.moved(shift, 0.0) for b in parts]
        parts.append(index.moved(-index.x0, top + 0.45 * height - index.y1))
    return merge(parts)


@dataclass
class _Elem:
    node: Node
    box: Box | None = None
    subs: list[list[Node]] = field(default_factory=list)
    sups: list[list[Node]] = field(default_factory=list)


def _build(hand: _Hand, node: Node, depth: int) -> Box:
    if isinstance(node, Frac):
        return _frac(hand, node, depth)
    if isinstance(node, Sqrt):
        return _sqrt(hand, node, depth)
    assert isinstance(node, str)
    return atom(hand, node)


def _attach(hand: _Hand, e: _Elem, depth: int) -> None:
    assert e.box is not None
    subs = [row(hand, a, depth + 1).scaled(SCRIPT_SCALE) for a in e.subs]
    sups = [row(hand, a, depth + 1).scaled(SCRIPT_SCALE) for a in e.sups]
    token = e.node if isinstance(e.node, str) else None
    if subs or sups:
        e.box = _scripts(hand, e.box, token, subs, sups)


def _pairs(elems: list[_Elem]) -> list[tuple[int, int]]:
    """(open, close) indices of matched brackets, innermost first; `|` alternates open and close."""
    pairs: list[tuple[int, int]] = []
    stack: list[int] = []
    bars: list[int] = []
    for i, e in enumerate(elems):
        tok = e.node if isinstance(e.node, str) else None
        if tok in OPENERS:
            stack.append(i)
        elif tok in CLOSERS and stack and OPENERS[elems[stack[-1]].node] == tok:  # type: ignore[index]
            pairs.append((stack.pop(), i))
        elif tok == "|":
            if bars:
                pairs.append((bars.pop(), i))
            else:
                bars.append(i)
    return pairs


def _gap(hand: _Hand, left: Node, right: Node) -> float:
    gap = hand.cfg.gap
    if (isinstance(left, str) and left in RELATIONS | BINARY) or (
        isinstance(right, str) and right in RELATIONS | BINARY
    ):
        gap = hand.cfg.operator_gap
    if left == ",":
        gap = 2.5 * hand.cfg.gap
    if isinstance(left, Frac) or isinstance(right, Frac):
        gap += 0.12  # two fraction bars, or a bar and a minus, must not run into one line
    return gap * hand.spacing * math.exp(hand.jit(hand.cfg.gap_jitter))


def row(hand: _Hand, nodes: list[Node], depth: int = 0) -> Box:
    """A row of nodes, left to right on one baseline (scripts attached to the node before them)."""
    elems: list[_Elem] = []
    for node in nodes:
        if isinstance(node, Script):
            if not elems:
                elems.append(_Elem(""))  # a script with nothing before it
            (elems[-1].subs if node.op == "_" else elems[-1].sups).append(node.arg)
        else:
            elems.append(_Elem(node))
    pairs = _pairs(elems)
    bracketed = {i for p in pairs for i in p}
    for i, e in enumerate(elems):
        if i in bracketed:
            continue
        e.box = Box([], 0.0, -0.6, 0.2, 0.0) if e.node == "" else _build(hand, e.node, depth)
        _attach(hand, e, depth)
    for i, j in pairs:  # innermost first: an outer pair sees its inner brackets with their scripts
        inner = [e.box for e in elems[i + 1 : j] if e.box is not None and e.box.strokes]
        top = min([b.y0 for b in inner] + [-1.0]) - 0.1
        bottom = max([b.y1 for b in inner] + [0.2]) + 0.1
        for k in (i, j):
            elems[k].box = _bracket(hand, elems[k].node, top, bottom)  # type: ignore[arg-type]
            _attach(hand, elems[k], depth)
    x = 0.0
    drift = 0.0
    placed: list[Box] = []
    prev: Node | None = None
    for e in elems:
        assert e.box is not None
        if prev is not None:
            x += _gap(hand, prev, e.node)
        if depth == 0:
            drift = max(-hand.cfg.max_drift, min(hand.cfg.max_drift, drift + hand.jit(hand.cfg.drift)))
        placed.append(e.box.moved(x - e.box.x0, drift))
        x += e.box.width
        prev = e.node
    return merge(placed)


def write(
    caption: str, bank: GlyphBank, writer: str, rng: random.Random, cfg: LayoutConfig | None = None
) -> list[np.ndarray]:
    """The caption written in `writer`'s hand: strokes, each (N, 2) float32, in digit heights (y down)."""
    cfg = cfg or LayoutConfig()
    hand = _Hand(bank, writer, rng, cfg, spacing=math.exp(rng.gauss(0.0, cfg.writer_gap_jitter)))
    box = row(hand, parse(caption))
    strokes = box.strokes
    if not strokes:
        return []
    shear = math.tan(rng.gauss(0.0, cfg.slant))
    strokes = [np.stack([p[:, 0] - shear * p[:, 1], p[:, 1]], axis=1) for p in strokes]  # (N, 2) each
    strokes = _rotate(strokes, rng.gauss(0.0, cfg.rotation), (box.x0 + box.x1) / 2, 0.0)
    return [np.ascontiguousarray(p, dtype=np.float32) for p in strokes]
