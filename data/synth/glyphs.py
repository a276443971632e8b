"""Real handwritten symbols by writer: every traceGroup of CROHME training InkML, grouped by its writer.

A `GlyphBank` maps writer group (`data.splits.SplitEntry.group`: the writer annotation, or the source's
file-name prefix) -> symbol class -> glyphs, each glyph the strokes of one traceGroup moved to its top-left
corner and scaled so that its longer side is 1 (aspect ratio kept). `split` decides which writers go in:
"train" leaves out every writer group that the holdout split (`crohme_val`) keeps out of training, "heldout"
takes only those. A bank is built once (about a minute for CROHME train on one core) and cached as a pickle.
"""

from __future__ import annotations

import pickle
import random
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from data.inkml import InkmlError, decode_bytes, read_inkml
from data.records import normalize_latex
from data.render import stroke_bounds, symbol_strokes
from data.splits import DEFAULT_SPLIT, SplitEntry, load_heldout
from data.symbols import normalize_label

Glyph = list[np.ndarray]  # strokes, each (N, 2) float32, bbox from (0, 0), longer side 1
BankSplit = Literal["train", "heldout", "all"]
_WRITER = re.compile(r"type\s*=\s*[\"']writer[\"']\s*>([^<]*)<")
MIN_POINT_STEP = 0.01  # consecutive points nearer than this (glyph units) are thinned out


@dataclass
class GlyphBank:
    """Glyphs of each writer group by class, the group's source, and the groups' expression captions."""

    glyphs: dict[str, dict[str, list[Glyph]]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # writer group -> source folder
    captions: list[str] = field(default_factory=list)  # normalised truths of the bank's expressions

    @property
    def writers(self) -> list[str]:
        return sorted(self.glyphs)

    def count(self) -> int:
        return sum(len(g) for by_class in self.glyphs.values() for g in by_class.values())

    def classes(self) -> set[str]:
        return {c for by_class in self.glyphs.values() for c in by_class}

    def pick(self, rng: random.Random, writer: str, cls: str) -> Glyph:
        """One glyph of class `cls` in `writer`'s hand; when the writer never wrote it, the same class from
        the nearest writer that did (another writer of the same source first, i.e. the same device and
        collection, else any writer). The class itself is never replaced, so the caption stays true."""
        own = self.glyphs.get(writer, {}).get(cls)
        if own:
            return rng.choice(own)
        source = self.sources.get(writer)
        others = [w for w in self.writers if cls in self.glyphs[w]]
        if not others:
            raise KeyError(f"no writer of the bank wrote {cls!r}")
        same = [w for w in others if self.sources.get(w) == source]
        return rng.choice(self.glyphs[rng.choice(same or others)][cls])

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        with tmp.open("wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
        return path

    @staticmethod
    def load(path: str | Path) -> GlyphBank:
        with Path(path).open("rb") as f:
            bank = pickle.load(f)
        if not isinstance(bank, GlyphBank):
            raise ValueError(f"{path}: not a GlyphBank")
        return bank


def normalise_glyph(strokes: list[np.ndarray]) -> Glyph | None:
    """Strokes -> the same shape with its bbox from (0, 0) and longer side 1, points thinned; None if empty."""
    strokes = [s.astype(np.float32) for s in strokes if len(s)]
    if not strokes:
        return None
    x0, y0, x1, y1 = stroke_bounds(strokes)
    step = MIN_POINT_STEP * max(x1 - x0, y1 - y0)
    thinned: list[np.ndarray] = []
    for pts in strokes:
        if len(pts) > 2:
            keep = np.ones(len(pts), dtype=bool)
            keep[1:] = np.linalg.norm(np.diff(pts, axis=0), axis=1) >= step
            keep[-1] = True
            pts = pts[keep]
        thinned.append(pts)
    x0, y0, x1, y1 = stroke_bounds(thinned)  # thinning may drop an extreme point
    extent = max(x1 - x0, y1 - y0)
    extent = extent if extent > 0 else 1.0  # a dot: one point
    origin = np.array([x0, y0], dtype=np.float32)
    return [np.ascontiguousarray((p - origin) / extent, dtype=np.float32) for p in thinned]  # each (N, 2)


def writer_of(raw: bytes) -> str:
    m = _WRITER.search(decode_bytes(raw))
    return m.group(1).strip() if m else ""


def build_bank(
    inkml_train: str | Path,
    split: BankSplit = "train",
    holdout: str = DEFAULT_SPLIT,
    limit: int = 0,
) -> GlyphBank:
    """The glyph bank of the InkML training folder `<inkml_train>/<source>/*.inkml` (see module doc).

    `split` "train": writers of the holdout's expressions left out; "heldout": only those writers;
    "all": every writer (fixtures, tests). `limit` > 0 stops after that many files (quick looks)."""
    root = Path(inkml_train)
    held = load_heldout(holdout) if split != "all" else frozenset()
    files = sorted(root.rglob("*.inkml"))
    entries: list[tuple[Path, SplitEntry]] = []
    for path in files:
        source = path.parent.name if path.parent != root else "."
        raw = path.read_bytes()
        if not raw.strip():
            continue
        entries.append((path, SplitEntry(path.stem, source, writer_of(raw))))
    held_groups = {e.group for _, e in entries if e.name in held}
    bank = GlyphBank()
    glyphs: dict[str, dict[str, list[Glyph]]] = defaultdict(lambda: defaultdict(list))
    read = 0
    for path, entry in entries:
        in_held = entry.group in held_groups
        if (split == "train" and in_held) or (split == "heldout" and not in_held):
            continue
        try:
            ink = read_inkml(path.read_bytes(), name=path.stem)
        except InkmlError as exc:
            print(f"warning: {path}: {exc}", file=sys.stderr)
            continue
        by_id = ink.strokes_by_id()
        for sym in ink.symbols:
            glyph = normalise_glyph(symbol_strokes(by_id, sym.trace_ids))
            if glyph is not None:
                glyphs[entry.group][normalize_label(sym.label)].append(glyph)
        bank.sources[entry.group] = entry.source
        if ink.truth:
            latex = normalize_latex(ink.truth, ink.name)
            if latex:
                bank.captions.append(latex)
        read += 1
        if limit and read >= limit:
            break
    bank.glyphs = {w: dict(by_class) for w, by_class in glyphs.items()}
    return bank
