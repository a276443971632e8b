"""Single-symbol crops packed once, for the symbol task of the resident (GPU) path.

The symbol task trains the model's symbol head on traceGroup crops beside the expressions. The loader path
renders and augments a crop each time it is drawn (`data.symbols.SymbolDataset`); a GPU window has no time
for that. Here the crops are rendered once, exactly as `SymbolDataset` renders them (`render_symbol` at twice
the crop size, then `symbol_array`: the classifier's own input path), and kept as uint8: from a glyph bank
(`data.synth.glyphs`: every traceGroup of CROHME train by writer, a few MiB to carry to the GPU machine) or
from InkML records. The training device draws batches from them and varies each crop itself
(`data.resident_symbols`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from data.render import render_symbol
from data.symbols import SymbolDataset, normalize_label, symbol_array


@dataclass
class SymbolCrops:
    """`images` (N, 1, S, S) uint8 with ink 255, `labels` (N,) int64 indices into `classes`."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            np.savez_compressed(f, images=self.images, labels=self.labels, classes=np.array(self.classes))
        return path

    @staticmethod
    def load(path: str | Path) -> SymbolCrops:
        with np.load(Path(path), allow_pickle=False) as z:
            return SymbolCrops(z["images"], z["labels"].astype(np.int64), [str(c) for c in z["classes"]])

    def for_classes(self, classes: Sequence[str]) -> SymbolCrops:
        """The crops of the classes a model knows, labelled with its class indices (the others dropped)."""
        index = {c: i for i, c in enumerate(classes)}
        mapping = np.array([index.get(c, -1) for c in self.classes], dtype=np.int64)
        new = mapping[self.labels]  # (N,)
        keep = new >= 0
        return SymbolCrops(self.images[keep], new[keep], list(classes))


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)  # (1, S, S)


def _crop_of_glyph(job: tuple[list[np.ndarray], int]) -> np.ndarray:
    strokes, size = job
    return _to_uint8(symbol_array(render_symbol(strokes, size=2 * size), size))


def crops_from_bank(
    bank: Any,
    classes: Sequence[str],
    size: int,
    per_class: int = 0,
    seed: int = 0,
    workers: int = 1,
) -> SymbolCrops:
    """Crops of a `data.synth.glyphs.GlyphBank`'s glyphs (the "fixed" pen: a glyph keeps no pen width of its
    writer), at most `per_class` of each class (0 = all), drawn at random (seeded) over all writers."""
    index = {c: i for i, c in enumerate(classes)}
    by_class: dict[str, list[list[np.ndarray]]] = {}
    for writer in sorted(bank.glyphs):
        for cls, glyphs in sorted(bank.glyphs[writer].items()):
            label = normalize_label(cls)
            if label in index:
                by_class.setdefault(label, []).extend(glyphs)
    rng = random.Random(seed)
    jobs: list[tuple[list[np.ndarray], int]] = []
    labels: list[int] = []
    for label in sorted(by_class):
        glyphs = by_class[label]
        if per_class and len(glyphs) > per_class:
            glyphs = rng.sample(glyphs, per_class)
        jobs.extend((g, size) for g in glyphs)
        labels.extend([index[label]] * len(glyphs))
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            images = list(pool.map(_crop_of_glyph, jobs, chunksize=64))
    else:
        images = [_crop_of_glyph(j) for j in jobs]
    stacked = np.stack(images) if images else np.zeros((0, 1, size, size), np.uint8)  # (N, 1, S, S)
    return SymbolCrops(stacked, np.array(labels, dtype=np.int64), list(classes))


def crops_from_dataset(dataset: SymbolDataset, limit: int = 0) -> SymbolCrops:
    """The crops of a `SymbolDataset` rendered once without its augmentation (the device varies them),
    `limit` of them spread over the set (0 = all)."""
    augment, dataset.augment_cfg = dataset.augment_cfg, None
    try:
        n = len(dataset)
        stride = max(1, n // limit) if limit else 1
        picks = list(range(0, n, stride))[: limit or None]
        images = [_to_uint8(dataset.crop(i).numpy()) for i in picks]
        labels = [dataset.items[i][2] for i in picks]
    finally:
        dataset.augment_cfg = augment
    size = dataset.size
    stacked = np.stack(images) if images else np.zeros((0, 1, size, size), np.uint8)  # (N, 1, S, S)
    return SymbolCrops(stacked, np.array(labels, dtype=np.int64), list(dataset.classes))
