"""data.device_augment: batch-wise photo augmentation on the device, read back as preprocess reads."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from data.device_augment import DeviceAugmentConfig, augment_batch, jpeg_like, read_back
from data.preprocess import PreprocessConfig, preprocess
from data.records import discover_sources, read_source

WIDTH = 384


def _clean_batch(fixtures_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixture training images as preprocess makes them, padded to WIDTH, with their ink boxes."""
    (src,) = [s for s in discover_sources(fixtures_dir / "crohme") if s.name == "offline/train"]
    images, boxes = [], []
    for rec in read_source(src).records[:16]:
        x = preprocess(rec.image, PreprocessConfig(max_width=WIDTH))[0]  # (H, W)
        canvas = torch.zeros(64, WIDTH)
        canvas[:, : x.shape[1]] = x
        ink = (canvas > 0.5).nonzero()
        boxes.append([ink[:, 1].min(), ink[:, 0].min(), ink[:, 1].max() + 1, ink[:, 0].max() + 1])
        images.append((canvas * 255).round().to(torch.uint8))
    return torch.stack(images)[:, None], torch.tensor(boxes, dtype=torch.float32)  # (B, 1, H, W), (B, 4)


@pytest.fixture(scope="module")
def clean(fixtures_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    return _clean_batch(fixtures_dir)


def _run(
    clean: tuple[torch.Tensor, torch.Tensor], seed: int, cfg: DeviceAugmentConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    return augment_batch(clean[0], clean[1], torch.Generator().manual_seed(seed), cfg)


def test_seeded_and_shaped_like_a_padded_batch(clean: tuple[torch.Tensor, torch.Tensor]) -> None:
    cfg = DeviceAugmentConfig(strength=0.5)
    a, mask = _run(clean, 7, cfg)
    b, _ = _run(clean, 7, cfg)
    c, _ = _run(clean, 8, cfg)
    assert a.shape == clean[0].shape and a.dtype == torch.float32 and mask.shape == (16, 64, WIDTH)
    torch.testing.assert_close(a, b)  # same seed, same batch
    assert (a - c).abs().mean() > 1e-3  # another seed, another batch
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    assert float(a[~mask[:, None]].abs().max()) == 0.0  # nothing beyond each sample's width
    widths = mask[:, 0].sum(1)
    assert bool((widths % 16 == 0).all()) and bool((widths >= 16).all())


def test_ink_is_kept_and_placed_as_preprocess_places_it(clean: tuple[torch.Tensor, torch.Tensor]) -> None:
    images = clean[0].float() / 255
    out, mask = _run(clean, 0, DeviceAugmentConfig(strength=0.5))
    for x, y, m in zip(images[:, 0], out[:, 0], mask, strict=True):
        ratio = float(y.sum() / x.sum())
        assert 0.6 < ratio < 1.6, ratio  # the strokes survive the photo and its reading back
        rows = (y > 0.5).any(dim=1).nonzero()
        cols = (y > 0.5).any(dim=0).nonzero()
        height = int(rows.max() - rows.min() + 1)
        assert height >= 0.75 * (64 - 8) or int(m[0].sum()) == WIDTH  # ink box refilled (or width-capped)
        assert int(cols.min()) <= 4 + 3  # starts at the left margin
        assert int(cols.max()) < int(m[0].sum())  # inside its own width


def test_strength_zero_is_the_clean_image_read_back(clean: tuple[torch.Tensor, torch.Tensor]) -> None:
    images = clean[0].float() / 255
    out, mask = _run(clean, 0, DeviceAugmentConfig(strength=0.0))
    corr = torch.corrcoef(torch.stack([images.flatten(), out.flatten()]))[0, 1]
    assert corr > 0.9, corr


def test_read_back_removes_uneven_light_and_keeps_the_ink() -> None:
    photo = torch.linspace(0.55, 1.0, 128).expand(1, 1, 64, 128).clone()  # a strong light gradient
    photo[..., 30:33, 10:120] *= 0.2  # a dark stroke across it
    ink = read_back(photo)
    assert float(ink[..., 30:33, 15:115].min()) > 0.9  # the stroke is ink everywhere
    assert float(ink[..., :20, :].max()) < 0.05 and float(ink[..., 45:, :].max()) < 0.05  # the paper is not
    assert float(read_back(torch.full((1, 1, 64, 64), 0.8)).max()) == 0.0  # no contrast: blank


def test_squared_paper_lines_are_drawn_and_mostly_read_away(clean: tuple[torch.Tensor, torch.Tensor]) -> None:
    base = DeviceAugmentConfig(strength=0.5, p_lines=0.0)
    lined = replace(base, p_lines=2.0, p_squared=1.0, line_darkness=(0.1, 0.1))
    plain, _ = _run(clean, 3, base)
    grid, mask = _run(clean, 3, lined)
    extra = (grid - plain).clamp(min=0)[mask[:, None]]
    assert float(extra.mean()) > 1e-4  # the lines leave a trace, as on a real photo
    assert float((grid > 0.5).float().mean()) < 1.3 * float((plain > 0.5).float().mean())  # but not as ink


def test_jpeg_like_loses_detail_by_quality_and_keeps_flat_paper() -> None:
    gen = torch.Generator().manual_seed(0)
    noise = torch.rand(2, 1, 64, 100, generator=gen)
    out = jpeg_like(noise, torch.tensor([100.0, 10.0]))
    assert out.shape == noise.shape
    assert float((out[0] - noise[0]).abs().mean()) < 0.01  # quality 100: nearly lossless
    assert float((out[1] - noise[1]).abs().mean()) > 0.05  # quality 10: the detail is gone
    flat = torch.full((1, 1, 64, 100), 0.8)
    assert float((jpeg_like(flat, torch.tensor([10.0])) - flat).abs().max()) < 6 / 255  # the DC step only


def test_jpeg_and_line_widths_are_seeded_and_off_by_default(clean: tuple[torch.Tensor, torch.Tensor]) -> None:
    base = DeviceAugmentConfig(strength=0.5)
    assert base.p_jpeg == 0.0 and base.line_half_width[0] == base.line_half_width[1]
    on = replace(base, p_jpeg=1.0, p_lines=1.0, line_half_width=(0.5, 1.5))
    a, _ = _run(clean, 4, on)
    b, _ = _run(clean, 4, on)
    c, _ = _run(clean, 4, base)
    torch.testing.assert_close(a, b)
    assert float((a - c).abs().mean()) > 1e-3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda(clean: tuple[torch.Tensor, torch.Tensor]) -> None:
    gen = torch.Generator(device="cuda").manual_seed(0)
    out, mask = augment_batch(clean[0].cuda(), clean[1].cuda(), gen, DeviceAugmentConfig(strength=0.5))
    assert out.is_cuda and mask.is_cuda and out.shape == clean[0].shape
