"""Real handwritten symbols by writer: every traceGroup of CROHME training InkML, grouped by its writer.

A `GlyphBank` maps writer group (`data.splits.SplitEntry.group`: the writer annotation, or the source's
file-name prefix) -> symbol class -> glyphs, each glyph the strokes of one traceGroup moved to its top-left
corner and scaled so that its longer side is 1 (aspect ratio kept). `split` decides which writers go in:
"train" leaves out every writer group that the holdout split (`crohme_val`) keeps out of training, "heldout"
takes only those. A bank is built once (about a minute for CROHME train on one core) and cached as a pickle.
"""

from __future__ import annotations

import json
import pickle
import random
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

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
        """Write the bank: a `.npz` path gets the compact form (`save_compact`), any other a pickle."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        if path.suffix == ".npz":
            with tmp.open("wb") as f:
                self.save_compact(f)
        else:
            with tmp.open("wb") as f:
                pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
        return path

    def save_compact(self, f: BinaryIO) -> None:
        """The bank as one compressed `.npz` (what a GPU window carries instead of rendered images, a
        seventh of the pickle): every point quantised to 1/255 of its glyph's longer side (0.11 px at the
        28 px of the offline images) and stored as the byte-wise difference to the point before (mod 256:
        small numbers that compress well, decoded exactly by a wrapping cumulative sum); the strokes,
        glyphs, classes and writers as index arrays, the sources and captions as JSON."""
        writers = self.writers
        classes = sorted(self.classes())
        w_index = {w: i for i, w in enumerate(writers)}
        c_index = {c: i for i, c in enumerate(classes)}
        points, stroke_ends, glyph_ends, glyph_writer, glyph_class = [], [], [], [], []
        n_points = n_strokes = 0
        for w in writers:
            for cls, glyphs in self.glyphs[w].items():
                for glyph in glyphs:
                    for stroke in glyph:
                        points.append(np.asarray(stroke, dtype=np.float32).reshape(-1, 2))  # (N, 2)
                        n_points += len(stroke)
                        stroke_ends.append(n_points)
                    n_strokes += len(glyph)
                    glyph_ends.append(n_strokes)
                    glyph_writer.append(w_index[w])
                    glyph_class.append(c_index[cls])
        meta = {"writers": writers, "classes": classes, "sources": self.sources, "captions": self.captions}
        np.savez_compressed(
            f,
            point_steps=_encode_points(points),  # (P, 2) uint8
            stroke_ends=np.asarray(stroke_ends, dtype=np.int64),  # (S,) end of each stroke in points
            glyph_ends=np.asarray(glyph_ends, dtype=np.int64),  # (G,) end of each glyph in strokes
            glyph_writer=np.asarray(glyph_writer, dtype=np.int32),  # (G,)
            glyph_class=np.asarray(glyph_class, dtype=np.int32),  # (G,)
            meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
        )

    @staticmethod
    def load(path: str | Path) -> GlyphBank:
        """A bank written by `save`: the compact `.npz` form or a pickle."""
        path = Path(path)
        if path.suffix == ".npz":
            return GlyphBank.load_compact(path)
        with path.open("rb") as f:
            bank = pickle.load(f)
        if not isinstance(bank, GlyphBank):
            raise ValueError(f"{path}: not a GlyphBank")
        return bank

    @staticmethod
    def load_compact(path: str | Path) -> GlyphBank:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
            points = _decode_points(z["point_steps"])  # (P, 2) float32
            stroke_ends, glyph_ends = z["stroke_ends"], z["glyph_ends"]
            glyph_writer, glyph_class = z["glyph_writer"], z["glyph_class"]
        strokes = np.split(points, stroke_ends[:-1]) if len(stroke_ends) else []
        glyphs: dict[str, dict[str, list[Glyph]]] = defaultdict(lambda: defaultdict(list))
        start = 0
        for end, w, c in zip(glyph_ends.tolist(), glyph_writer.tolist(), glyph_class.tolist(), strict=True):
            glyphs[meta["writers"][w]][meta["classes"][c]].append(strokes[start:end])
            start = end
        return GlyphBank(
            glyphs={w: dict(by_class) for w, by_class in glyphs.items()},
            sources=dict(meta["sources"]),
            captions=list(meta["captions"]),
        )


POINT_LEVELS = 255  # compact banks: a glyph's longer side in 255 steps


def _encode_points(points: list[np.ndarray]) -> np.ndarray:
    """Points (each array (N, 2) in [0, 1]) -> (P, 2) uint8 steps: quantised, differenced mod 256."""
    if not points:
        return np.zeros((0, 2), dtype=np.uint8)
    q = np.round(np.clip(np.concatenate(points), 0.0, 1.0) * POINT_LEVELS).astype(np.int16)  # (P, 2)
    return (np.diff(q, axis=0, prepend=np.zeros((1, 2), np.int16)) & 0xFF).astype(np.uint8)


def _decode_points(steps: np.ndarray) -> np.ndarray:
    """The inverse of `_encode_points` (up to the quantisation): (P, 2) float32 in [0, 1]."""
    q = np.cumsum(steps, axis=0, dtype=np.uint8)  # wraps mod 256, undoing the differences exactly
    return q.astype(np.float32) / POINT_LEVELS


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
