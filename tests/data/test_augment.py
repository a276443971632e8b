"""Photo-like augmentation: determinism, photo look, and the label (the ink) is kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from data.augment import AugmentConfig, augment
from data.inkml import read_inkml
from data.preprocess import preprocess
from data.render import render_strokes


@pytest.fixture(scope="module")
def renders(fixtures_dir: Path) -> list[Image.Image]:
    files = sorted((fixtures_dir / "crohme" / "inkml" / "train").rglob("*.inkml"))
    out = []
    for f in files:
        if f.stat().st_size:
            out.append(render_strokes(read_inkml(f).strokes))
    return out[:12]


def test_deterministic_given_rng(renders: list[Image.Image]) -> None:
    a = augment(renders[0], np.random.default_rng(7))
    b = augment(renders[0], np.random.default_rng(7))
    c = augment(renders[0], np.random.default_rng(8))
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert a.size != c.size or not np.array_equal(np.asarray(a), np.asarray(c))


@pytest.mark.parametrize("colour", [True, False])
def test_looks_like_a_photo(renders: list[Image.Image], colour: bool) -> None:
    for k, im in enumerate(renders):
        out = augment(im, np.random.default_rng(k), AugmentConfig(colour=colour))
        arr = np.asarray(out.convert("RGB"), dtype=np.float32)
        assert out.mode == ("RGB" if colour else "L")
        assert np.median(arr) > 80  # light paper (even in shadow) ...
        assert np.percentile(arr.mean(axis=2), 1) < np.median(arr) - 25  # ... with darker ink
        assert arr.std(axis=(0, 1)).max() > 5  # not flat: texture, lighting, noise
        gray = augment(im, np.random.default_rng(k), AugmentConfig(colour=not colour))
        assert gray.size == out.size  # same draw, same geometry in both modes


def _similarity(x: torch.Tensor, y: torch.Tensor) -> float:
    """Correlation of two preprocessed images after a common width and a 15-px blur."""
    w = min(x.shape[-1], y.shape[-1])
    a = torch.nn.functional.interpolate(x[None], size=(64, w), mode="area")
    b = torch.nn.functional.interpolate(y[None], size=(64, w), mode="area")
    a = torch.nn.functional.avg_pool2d(a, 15, 1, 7).flatten()
    b = torch.nn.functional.avg_pool2d(b, 15, 1, 7).flatten()
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


def test_keeps_the_label(renders: list[Image.Image]) -> None:
    """All ink survives (never cropped) and the preprocessed result still matches the clean one."""
    same, other = [], []
    refs = [preprocess(im) for im in renders]
    for k, im in enumerate(renders):
        for strength in (0.5, 1.0):
            photo = augment(im, np.random.default_rng(100 + k), AugmentConfig(strength=strength))
            alpha = 255 - np.asarray(photo.convert("L"), dtype=np.float32)
            # the ink is inside: the outer 2-px frame is paper (no darker than the paper median)
            frame = np.concatenate(
                [alpha[:2].ravel(), alpha[-2:].ravel(), alpha[:, :2].ravel(), alpha[:, -2:].ravel()]
            )
            assert frame.max() < np.percentile(alpha, 99)
            out = preprocess(photo)
            assert 0.5 < float(out.sum() / refs[k].sum()) < 2.2  # about the same amount of ink
            same.append(_similarity(out, refs[k]))
            other.append(_similarity(out, refs[(k + 1) % len(refs)]))
    assert min(same) > 0.5, same
    assert np.mean(same) > np.mean(other) + 0.3


def test_strength_zero_changes_only_colours(renders: list[Image.Image]) -> None:
    im = renders[1]
    out = preprocess(augment(im, np.random.default_rng(0), AugmentConfig(strength=0.0)))
    ref = preprocess(im)
    assert out.shape == ref.shape and (out - ref).abs().max() < 0.25 and (out - ref).abs().mean() < 0.01


def test_accepts_dark_on_light_input(renders: list[Image.Image]) -> None:
    from PIL import ImageOps

    im = ImageOps.invert(renders[2]).convert("RGB")
    out = preprocess(augment(im, np.random.default_rng(3), AugmentConfig(strength=0.0)))
    ref = preprocess(renders[2])
    assert out.shape == ref.shape and (out - ref).abs().max() < 0.25 and (out - ref).abs().mean() < 0.01
