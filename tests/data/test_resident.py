"""data.resident: the training set preprocessed once, in fixed-width buckets, drawn by index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from data.device_augment import DeviceAugmentConfig
from data.preprocess import PreprocessConfig, preprocess
from data.records import discover_sources, read_source
from data.resident import ResidentData, ResidentSampler, bucket_edges
from tokenizer import LatexTokenizer


@pytest.fixture(scope="module")
def records(fixtures_dir: Path) -> list:
    (src,) = [s for s in discover_sources(fixtures_dir / "crohme") if s.name == "offline/train"]
    return read_source(src).records


@pytest.fixture(scope="module")
def resident(records: list) -> ResidentData:
    tok = LatexTokenizer.load()
    return ResidentData.build(
        records, tok.encode, tok.pad_id, PreprocessConfig(), num_buckets=4, min_bucket_size=4
    )


def test_bucket_edges_hold_every_width_and_enough_images() -> None:
    rng = np.random.default_rng(0)
    widths = (rng.lognormal(5.2, 0.6, size=2000) // 16 * 16 + 32).clip(32, 1024).astype(int)
    edges = bucket_edges(widths, 10, min_size=256)
    assert edges == sorted(edges) and edges[-1] == widths.max() and all(e % 16 == 0 for e in edges)
    counts = np.diff(np.searchsorted(np.sort(widths), edges, side="right"), prepend=0)
    assert counts.sum() == len(widths) and counts.min() >= 256
    assert bucket_edges([64] * 3, 10, min_size=256) == [64]  # fewer images than a batch: one bucket


def test_every_record_is_packed_once_as_preprocess_made_it(records: list, resident: ResidentData) -> None:
    tok = LatexTokenizer.load()
    names = [n for b in resident.buckets for n in b.names]
    assert sorted(names) == sorted(r.name for r in records) and len(resident) == len(records)
    by_name = {r.name: r for r in records}
    for bk in resident.buckets:
        assert bk.images.dtype == torch.uint8 and bk.images.shape[1:] == (64, bk.width)
        for j, name in enumerate(bk.names):
            x = preprocess(by_name[name].image)[0]  # (H, W)
            w = int(bk.widths[j])
            assert w == x.shape[1] <= bk.width
            torch.testing.assert_close(bk.images[j, :, :w].float() / 255, x, atol=1 / 255, rtol=0)
            assert int(bk.images[j, :, w:].sum()) == 0  # padded with background
            ids = [t for t in bk.tokens[j].tolist() if t != tok.pad_id]
            assert ids == tok.encode(by_name[name].latex)


def test_sampler_plans_fixed_batches_that_cover_the_epoch(resident: ResidentData) -> None:
    sampler = ResidentSampler(resident, batch_size=4, seed=3)
    plan = sampler.plan(0)
    assert all(idx.shape == (4,) for _, idx in plan)  # every batch of a bucket has one shape
    seen = {(b, i) for b, idx in plan for i in idx.tolist()}
    assert len(seen) == len(resident)  # every sample at least once an epoch
    again = sampler.plan(0)
    assert [(b, idx.tolist()) for b, idx in plan] == [(b, idx.tolist()) for b, idx in again]  # (seed, epoch)
    assert [idx.tolist() for _, idx in sampler.plan(1)] != [idx.tolist() for _, idx in plan]
    ranks = [ResidentSampler(resident, 4, seed=3, num_replicas=2, rank=r).plan(0) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) and len(ranks[0]) + len(ranks[1]) >= len(plan)


def test_batches_are_the_images_or_their_device_augmentation(resident: ResidentData) -> None:
    bucket, index = ResidentSampler(resident, batch_size=4, seed=0).plan(0)[0]
    bk = resident.buckets[bucket]
    clean = resident.batch(bucket, index)
    assert clean.images.shape == (4, 1, 64, bk.width) and clean.tokens.shape == (4, bk.tokens.shape[1])
    torch.testing.assert_close(clean.images[:, 0], bk.images[index].float() / 255)
    assert clean.pixel_mask[:, 0].sum(1).tolist() == bk.widths[index].tolist()
    assert clean.token_mask.sum(1).tolist() == (bk.tokens[index] != 0).sum(1).tolist()
    gen = torch.Generator().manual_seed(0)
    aug = resident.batch(bucket, index, DeviceAugmentConfig(strength=0.5), gen)
    assert aug.images.shape == clean.images.shape and not torch.equal(aug.images, clean.images)
    with pytest.raises(ValueError, match="generator"):
        resident.batch(bucket, index, DeviceAugmentConfig())


def test_symbol_preserving_scale_packs_one_height_per_bucket(records: list) -> None:
    """Variable-height preprocessing (max_height > height): each image at the height preprocess gives it,
    buckets of one height each, batches capped by pixels, tall batches augmented at their own height."""
    tok = LatexTokenizer.load()
    pre = PreprocessConfig(max_height=192, symbol_height=32.0)
    data = ResidentData.build(records, tok.encode, tok.pad_id, pre, num_buckets=4, min_bucket_size=2)
    by_name = {r.name: r for r in records}
    heights = set()
    for bk in data.buckets:
        for j, name in enumerate(bk.names):
            x = preprocess(by_name[name].image, pre)[0]  # (H, W)
            assert x.shape[0] == bk.height and int(bk.widths[j]) == x.shape[1] <= bk.width
            torch.testing.assert_close(bk.images[j, :, : x.shape[1]].float() / 255, x, atol=1 / 255, rtol=0)
        heights.add(bk.height)
    assert len(heights) > 1 and max(heights) > 64 and len(data) == len(records)
    pixels = 4 * 64 * 256
    sampler = ResidentSampler(data, batch_size=4, seed=1, max_pixels=pixels)
    plan = sampler.plan(0)
    for b, idx in plan:
        bk = data.buckets[b]
        assert len(idx) == max(1, min(4, pixels // (bk.height * bk.width)))  # the cap, per bucket
    assert {(b, i) for b, idx in plan for i in idx.tolist()} == {
        (b, i) for b, bk in enumerate(data.buckets) for i in range(len(bk))
    }
    tall = max(range(len(data.buckets)), key=lambda b: data.buckets[b].height)
    (index,) = [idx for b, idx in plan if b == tall][:1]
    aug = data.batch(tall, index, DeviceAugmentConfig(strength=0.5), torch.Generator().manual_seed(0))
    assert aug.images.shape == (len(index), 1, data.buckets[tall].height, data.buckets[tall].width)
    assert aug.pixel_mask.shape == (len(index), data.buckets[tall].height, data.buckets[tall].width)
    assert torch.isfinite(aug.images).all() and float(aug.images.amax()) > 0.5  # ink survives
