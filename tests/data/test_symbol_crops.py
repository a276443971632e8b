"""Symbol crops packed once (`data.symbol_crops`) and drawn on the device (`data.resident_symbols`): the same
crops the loader path's `SymbolDataset` makes, a file that round-trips, and batches that vary each crop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from data.records import discover_sources, read_source
from data.resident_symbols import ResidentSymbols, SymbolAugmentConfig
from data.symbol_crops import SymbolCrops, crops_from_bank, crops_from_dataset
from data.symbols import CROHME_SYMBOL_CLASSES, SymbolDataset
from data.synth.glyphs import build_bank

INKML = Path(__file__).resolve().parents[1] / "fixtures" / "crohme"
CLASSES = list(CROHME_SYMBOL_CLASSES)


@pytest.fixture(scope="module")
def dataset() -> SymbolDataset:
    source = {s.name: s for s in discover_sources(INKML)}["inkml/train"]
    return SymbolDataset(read_source(source).records, CLASSES, 64)


def test_packed_crops_are_the_datasets_crops_and_round_trip(dataset: SymbolDataset, tmp_path: Path) -> None:
    crops = crops_from_dataset(dataset)
    assert len(crops) == len(dataset) and crops.images.dtype == np.uint8
    for i in (0, len(dataset) // 2, len(dataset) - 1):
        x, label = dataset[i]
        assert crops.labels[i] == label
        assert np.abs(crops.images[i].astype(np.float32) / 255.0 - x.numpy()).max() <= 0.5 / 255 + 1e-6
    back = SymbolCrops.load(crops.save(tmp_path / "crops.npz"))
    assert np.array_equal(back.images, crops.images) and back.classes == crops.classes
    # a model with other classes keeps its own indices and drops the classes it does not know
    some = sorted({CLASSES[i] for i in crops.labels[:20]})
    sub = back.for_classes(["not-a-class", *some])
    assert set(sub.labels.tolist()) <= set(range(1, len(some) + 1))
    assert len(sub) == sum(CLASSES[i] in some for i in crops.labels)


def test_crops_of_a_glyph_bank_look_like_the_traceGroups_they_came_from(dataset: SymbolDataset) -> None:
    bank = build_bank(INKML / "inkml" / "train", split="all")
    crops = crops_from_bank(bank, CLASSES, 64, per_class=3, seed=1)
    per_class = np.bincount(crops.labels, minlength=len(CLASSES))
    assert per_class.max() <= 3 and len(crops) > 30
    # each bank crop is one of its class's traceGroups as the dataset draws it (its points thinned): blurred a
    # little, the two are near-identical (cosine >= 0.93; the best match of another class is ~0.55 typically)
    ref = crops_from_dataset(dataset)

    def unit(images: np.ndarray) -> np.ndarray:
        x = torch.nn.functional.avg_pool2d(torch.from_numpy(images.astype(np.float32) / 255.0), 5, 1, 2)
        flat = x.reshape(len(images), -1).numpy()  # (N, 64 * 64)
        return flat / (np.linalg.norm(flat, axis=1, keepdims=True) + 1e-9)

    sims = unit(crops.images) @ unit(ref.images).T  # (bank crops, dataset crops)
    for i in range(len(crops)):
        assert sims[i][ref.labels == crops.labels[i]].max() >= 0.93, i


def test_device_batches_draw_and_vary_the_crops(dataset: SymbolDataset) -> None:
    crops = crops_from_dataset(dataset, limit=40)
    plain = ResidentSymbols(crops, torch.device("cpu"), augment=None)
    gen = torch.Generator().manual_seed(0)
    x, y = plain.batch(16, gen)
    assert x.shape == (16, 1, 64, 64) and y.shape == (16,) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    for xi, yi in zip(x, y, strict=True):  # without augmentation a batch is crops as packed
        match = [
            torch.equal(xi, torch.from_numpy(im).float() / 255.0)
            for im in crops.images[crops.labels == int(yi)]
        ]
        assert any(match)
    varied = ResidentSymbols(crops, torch.device("cpu"), SymbolAugmentConfig(p=1.0))
    xa, ya = varied.batch(16, torch.Generator().manual_seed(0))
    assert torch.equal(ya, y)  # the same draw, varied: ink moved but not lost
    assert not torch.allclose(xa, x)
    ratio = xa.sum(dim=(1, 2, 3)) / x.sum(dim=(1, 2, 3)).clamp_min(1e-6)
    assert float(ratio.min()) > 0.4 and float(ratio.max()) < 2.0
    with pytest.raises(ValueError):
        ResidentSymbols(crops.for_classes(["not-a-class"]), torch.device("cpu"))


def test_the_command_packs_a_banks_crops(tmp_path: Path) -> None:
    from data.synth.build import main

    bank = build_bank(INKML / "inkml" / "train", split="all").save(tmp_path / "glyphs.npz")
    out = tmp_path / "symbols.npz"
    assert main(["symbols", str(bank), str(out), "--per-class", "2", "--seed", "3"]) == 0
    crops = SymbolCrops.load(out)
    assert crops.classes == CLASSES and crops.images.shape[1:] == (1, 64, 64)
    assert np.bincount(crops.labels).max() == 2
