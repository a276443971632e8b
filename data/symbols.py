"""Symbol classes, single-symbol crops (classifier pretraining) and per-class symbol counts."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image

try:  # the base of SymbolDataset (training); the slim ONNX install reads crops without torch
    from torch.utils.data import Dataset
except ImportError:
    Dataset = object  # type: ignore[assignment,misc]

from data.augment import AugmentConfig, augment
from data.preprocess import PreprocessConfig, place_ink_array, preprocess_array
from data.records import Record
from data.render import render_symbol, stroke_bounds, symbol_strokes

if TYPE_CHECKING:
    import torch

# Symbol labels as written in CROHME traceGroups -> the class name (the caption token).
LABEL_ALIASES = {
    "\\lt": "<",
    "\\gt": ">",
    "&lt;": "<",
    "&gt;": ">",
    "COMMA": ",",
    "\\lbrace": "\\{",
    "\\rbrace": "\\}",
    "\\ne": "\\neq",
    "\\le": "\\leq",
    "\\ge": "\\geq",
    "\\to": "\\rightarrow",
    "\\dots": "\\ldots",
}
# The 101 classes of the CROHME 2014/2016 training traceGroups (after `normalize_label`).
CROHME_SYMBOL_CLASSES: tuple[str, ...] = (
    "!", "(", ")", "+", ",", "-", ".", "/", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
    "<", "=", ">", "A", "B", "C", "E", "F", "G", "H", "I", "L", "M", "N", "P", "R", "S", "T",
    "V", "X", "Y", "[", "\\Delta", "\\alpha", "\\beta", "\\cos", "\\div", "\\exists", "\\forall",
    "\\gamma", "\\geq", "\\in", "\\infty", "\\int", "\\lambda", "\\ldots", "\\leq", "\\lim", "\\log",
    "\\mu", "\\neq", "\\phi", "\\pi", "\\pm", "\\prime", "\\rightarrow", "\\sigma", "\\sin", "\\sqrt",
    "\\sum", "\\tan", "\\theta", "\\times", "\\{", "\\}", "]", "a", "b", "c", "d", "e", "f", "g",
    "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "|",
)  # fmt: skip
# Caption tokens drawn as another class's glyph(s), for counts derived from a caption.
TOKEN_GLYPHS: dict[str, tuple[str, ...]] = {
    "\\frac": ("-",),
    "\\cdot": (".",),
    "\\cdots": (".", ".", "."),
    "'": ("\\prime",),
}
SYMBOL_CROP_SIZE = 64
# How a traceGroup crop's pen is drawn (ModelConfig.symbol_pen): "fixed", the same stroke width in the
# crop whatever the symbol's size (what every model so far was trained on); "ink", one physical pen
# per expression, INK_PEN_FRACTION x its median symbol extent, so a crop keeps the size cue a photo
# of one written symbol has (thick strokes on a small x or comma, thin on a capital X or a bar).
SymbolPen = Literal["fixed", "ink"]
INK_PEN_FRACTION = 0.022  # at the median extent this draws the "fixed" pen's 2.5 px in 2 x 64 px
# Test-time views of one symbol (`symbol_views`): the crop itself, then the symbol turned by each of
# these angles (degrees, counter-clockwise); the classifier averages the views' log-probabilities.
# Chosen on the crohme_val crops (docs/symbols.md), never on a test set.
SYMBOL_VIEW_ANGLES: tuple[float, ...] = (4.0, -4.0)


def normalize_label(label: str) -> str:
    """A traceGroup label -> its class name (`\\lt` -> `<`, surrounding spaces dropped)."""
    label = label.strip()
    return LABEL_ALIASES.get(label, label)


def build_symbol_classes(records: Iterable[Record]) -> list[str]:
    """Sorted distinct normalised symbol labels of the records' traceGroups."""
    labels = {normalize_label(s.label) for r in records for s in (r.symbols or [])}
    return sorted(labels)


def save_symbol_classes(classes: Sequence[str], path: str | Path) -> None:
    Path(path).write_text(json.dumps({"symbol_classes": list(classes)}, ensure_ascii=False, indent=1) + "\n")


def load_symbol_classes(path: str | Path) -> list[str]:
    data = json.loads(Path(path).read_text())
    classes = data["symbol_classes"] if isinstance(data, dict) else data
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise ValueError(f"{path}: expected a list of class names")
    return classes


def symbol_counts(record: Record, classes: Sequence[str]) -> np.ndarray | None:
    """(C,) float32 count of each class in the expression.

    From the traceGroups when the record has them; otherwise derived from the caption tokens
    (each class token counts once, `\\frac` counts as its bar `-`, the `[ ]` of `\\sqrt [ n ]` are not
    drawn); None for an empty caption. On CROHME train both agree for ~99 % of expressions.
    """
    index = {c: i for i, c in enumerate(classes)}
    counts = np.zeros(len(classes), dtype=np.float32)
    if record.symbols:
        for s in record.symbols:
            i = index.get(normalize_label(s.label))
            if i is not None:
                counts[i] += 1
        return counts
    tokens = record.latex.split()
    if not tokens:
        return None
    brackets: list[bool] = []  # for each open "[": is it the (undrawn) index bracket of \sqrt?
    for k, tok in enumerate(tokens):
        if tok == "[":
            brackets.append(k > 0 and tokens[k - 1] == "\\sqrt")
            if brackets[-1]:
                continue
        elif tok == "]" and brackets:
            if brackets.pop():
                continue
        for glyph in TOKEN_GLYPHS.get(tok, (normalize_label(tok),)):
            i = index.get(glyph)
            if i is not None:
                counts[i] += 1
    return counts


def symbol_label_counts(records: Iterable[Record]) -> Counter[str]:
    return Counter(normalize_label(s.label) for r in records for s in (r.symbols or []))


def median_symbol_extent(record: Record) -> float:
    """The median over an expression's traceGroups of max(width, height), in ink units (0: no symbols)."""
    by_id = record.strokes_by_id()
    extents = []
    for sym in record.symbols or []:
        strokes = [s for s in symbol_strokes(by_id, sym.trace_ids) if len(s)]
        if strokes:
            x0, y0, x1, y1 = stroke_bounds(strokes)
            extents.append(max(x1 - x0, y1 - y0))
    return float(np.median(extents)) if extents else 0.0


# A cut-out symbol is read from its ink alone: before the views the image is cut to its ink and given a
# margin of this fraction of the ink's longer side in the paper's own shade, so that how much paper was
# left around the symbol (a crop with 20 px of white or with none) does not change what is read.
SYMBOL_MARGIN_FRACTION = 0.1


def crop_to_ink(image: Image.Image | np.ndarray | bytes) -> Image.Image:
    """One symbol image -> grayscale, dark ink on its paper, cut to the ink with a margin of
    SYMBOL_MARGIN_FRACTION of its longer side (at least 2 px) in the paper's median shade; an image
    without ink comes back whole. The ink is the smaller part of the image with its paper added."""
    from PIL import ImageOps

    from data.preprocess import INK_LEVEL, ink_map, to_gray

    gray = to_gray(image)
    if gray.width == 0 or gray.height == 0:
        return gray
    # paper all round first (its shade: the median of the border), so that a symbol cut without any
    # margin is measured as one cut with some: polarity and lighting need paper beside the ink
    edge = np.concatenate([np.asarray(gray)[[0, -1], :].ravel(), np.asarray(gray)[:, [0, -1]].ravel()])
    pad = max(4, max(gray.size) // 2)
    gray = ImageOps.expand(gray, border=pad, fill=int(np.median(edge)))
    ink = ink_map(gray)  # (H, W), ink = 1 whatever the polarity
    mask = ink > INK_LEVEL
    if not mask.any() or mask.all():
        return gray
    if mask.mean() > 0.5:  # the paper added is 3/4 of the image: "ink" over half of it is the paper
        ink, mask = 1.0 - ink, ~mask  # (a long thin "-" can make the polarity guess fail)
    g = np.asarray(gray, dtype=np.float32)
    if float(g[mask].mean()) > float(g[~mask].mean()):  # light ink on dark paper: make it dark on light
        gray = ImageOps.invert(gray)
        g = 255.0 - g
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    margin = max(2, round(SYMBOL_MARGIN_FRACTION * max(y1 - y0, x1 - x0)))
    paper = int(round(float(np.median(g[ink < 0.5 * INK_LEVEL])))) if (ink < 0.5 * INK_LEVEL).any() else 255
    out = Image.new("L", (x1 - x0 + 2 * margin, y1 - y0 + 2 * margin), paper)
    out.paste(gray.crop((x0, y0, x1, y1)), (margin, margin))
    return out


def symbol_preprocess_config(size: int = SYMBOL_CROP_SIZE) -> PreprocessConfig:
    """`preprocess` settings of symbol crops: the symbol's long side fills a size x size square."""
    return PreprocessConfig(
        height=size, max_width=size, margin=max(2, size // 16), width_multiple=size, min_width=size
    )


def symbol_tensor(image: Image.Image | np.ndarray | bytes, size: int = SYMBOL_CROP_SIZE) -> torch.Tensor:
    """Any image of one symbol -> float32 (1, size, size), ink = 1, centred (what the classifier sees)."""
    import torch

    return torch.from_numpy(symbol_array(image, size))


def symbol_array(image: Image.Image | np.ndarray | bytes, size: int = SYMBOL_CROP_SIZE) -> np.ndarray:
    """`symbol_tensor` as a NumPy array (no torch: the ONNX runtime's path)."""
    return _centred(preprocess_array(crop_to_ink(image), symbol_preprocess_config(size)), size)


def _centred(x: np.ndarray, size: int) -> np.ndarray:
    """A (1, S, S) symbol input with its ink left-aligned -> the same ink centred horizontally."""
    out = np.zeros((1, size, size), dtype=np.float32)  # (1, S, S)
    cols = np.flatnonzero(x[0].max(axis=0) > 0)
    if cols.size == 0:
        return out
    content = x[:, :, int(cols[0]) : int(cols[-1]) + 1]  # (1, S, w)
    left = (size - content.shape[-1]) // 2
    out[:, :, left : left + content.shape[-1]] = content
    return out


def symbol_views(
    image: Image.Image | np.ndarray | bytes,
    size: int = SYMBOL_CROP_SIZE,
    angles: Sequence[float] = SYMBOL_VIEW_ANGLES,
) -> torch.Tensor:
    """One symbol image -> (1 + len(angles), 1, size, size): `symbol_tensor(image)`, then the symbol
    turned by each angle (from its ink at twice the crop size, so that turning does not blur it).

    The ink map itself is turned (ink = 1, the corners it uncovers filled with background 0) and placed
    as `preprocess` places ink; it is not read again as a photo, whose polarity guess could take a thick
    turned stroke for the paper and return a crop that is almost all ink."""
    import torch

    return torch.from_numpy(symbol_views_array(image, size, angles))


def symbol_views_array(
    image: Image.Image | np.ndarray | bytes,
    size: int = SYMBOL_CROP_SIZE,
    angles: Sequence[float] = SYMBOL_VIEW_ANGLES,
) -> np.ndarray:
    """`symbol_views` as a NumPy array (V, 1, S, S) (no torch: the ONNX runtime's path)."""
    image = crop_to_ink(image)  # the symbol's ink with a fixed margin, whatever paper was around it
    first = symbol_array(image, size)  # (1, S, S)
    if first.max() <= 0:  # no ink: every view is the same blank crop
        return np.repeat(first[None], 1 + len(angles), axis=0)  # (V, 1, S, S)
    views = [first]
    if angles:
        ink = preprocess_array(image, symbol_preprocess_config(2 * size))[0]  # (2S, 2S), ink = 1
        ink_image = Image.fromarray(np.round(255.0 * ink).astype(np.uint8), "L")  # ink light
        cfg = symbol_preprocess_config(size)
        for angle in angles:
            turned = ink_image.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=0)
            turned_ink = np.asarray(turned, dtype=np.float32) / 255.0  # (H', W'), background 0
            views.append(_centred(place_ink_array(turned_ink, cfg), size))
    return np.stack(views)  # (V, 1, S, S)


class SymbolDataset(Dataset):
    """(crop, class id) for every traceGroup of InkML records whose label is in `classes`.

    Crops are `render_symbol` squares (their pen: `pen`, see SymbolPen) passed through `symbol_tensor`
    (`preprocess`, the model's input path, then padded to (1, size, size)); with `augment_cfg` each access draws a new augmentation,
    deterministic given (seed, epoch, index).
    """

    def __init__(
        self,
        records: Sequence[Record],
        classes: Sequence[str],
        size: int = SYMBOL_CROP_SIZE,
        augment_cfg: AugmentConfig | None = None,
        seed: int = 0,
        pen: SymbolPen = "fixed",
    ) -> None:
        if pen not in ("fixed", "ink"):
            raise ValueError(f"symbol pen must be 'fixed' or 'ink', not {pen!r}")
        self.records = records
        self.pen = pen
        self._pen_ink: dict[int, float] = {}  # record index -> its "ink" pen width, in ink units
        self.classes = list(classes)
        self.size = size
        self.augment_cfg = augment_cfg
        self.seed = seed
        self.epoch = 0
        index = {c: i for i, c in enumerate(self.classes)}
        self.items: list[tuple[int, int, int]] = []  # (record, symbol, class)
        for ri, rec in enumerate(records):
            for si, sym in enumerate(rec.symbols or []):
                ci = index.get(normalize_label(sym.label))
                if ci is not None and rec.strokes is not None:
                    self.items.append((ri, si, ci))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def labels(self) -> list[int]:
        return [c for _, _, c in self.items]

    def render(self, i: int) -> Image.Image:
        """The traceGroup drawn as an image (white ink on black, 2 * size square), before augmentation."""
        ri, si, _ = self.items[i]
        rec = self.records[ri]
        assert rec.strokes is not None and rec.symbols is not None
        strokes = symbol_strokes(rec.strokes_by_id(), rec.symbols[si].trace_ids)
        if self.pen == "fixed":
            return render_symbol(strokes, size=2 * self.size)
        if ri not in self._pen_ink:
            self._pen_ink[ri] = INK_PEN_FRACTION * median_symbol_extent(rec)
        return render_symbol(strokes, size=2 * self.size, ink_pen=self._pen_ink[ri] or None)

    def crop(self, i: int) -> torch.Tensor:
        image = self.render(i)
        if self.augment_cfg is not None:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            image = augment(image, rng, self.augment_cfg)
        return symbol_tensor(image, self.size)  # (1, S, S)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.crop(i), self.items[i][2]
