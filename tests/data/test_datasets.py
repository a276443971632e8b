"""ExpressionDataset, collate -> Batch, BucketBatchSampler (determinism, resume, DDP)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from data.augment import AugmentConfig
from data.batch import Batch
from data.datasets import BucketBatchSampler, ExpressionDataset, collate
from data.records import Record, iter_inkml_records, iter_offline_records
from data.symbols import CROHME_SYMBOL_CLASSES
from tokenizer import LatexTokenizer


@pytest.fixture(scope="module")
def records(fixtures_dir: Path) -> list[Record]:
    root = fixtures_dir / "crohme"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ink = list(iter_inkml_records(root / "inkml" / "train"))
    return ink[:10] + list(iter_offline_records(root / "offline" / "train"))[:10]


@pytest.fixture(scope="module")
def tok() -> LatexTokenizer:
    return LatexTokenizer.load()


def test_items_and_collate(records: list[Record], tok: LatexTokenizer) -> None:
    ds = ExpressionDataset(
        records, tok, augment_cfg=AugmentConfig(), symbol_classes=CROHME_SYMBOL_CLASSES, seed=1
    )
    items = [ds[i] for i in range(len(ds))]
    for rec, it in zip(records, items, strict=True):
        assert it.image.shape[:2] == (1, 64) and it.image.shape[2] % 16 == 0
        assert it.tokens[0] == tok.sos_id and it.tokens[-1] == tok.eos_id
        assert tok.decode(it.tokens.tolist()) == rec.latex  # augmentation never touches the label
        assert it.symbol_counts is not None and it.symbol_counts.shape == (101,)
    batch = collate(items[:4], tok.pad_id)
    assert isinstance(batch, Batch) and len(batch) == 4
    b, _, h, w = batch.images.shape
    assert (b, h) == (4, 64) and w == max(it.image.shape[-1] for it in items[:4])
    for i, it in enumerate(items[:4]):
        iw = it.image.shape[-1]
        assert batch.pixel_mask[i, :, :iw].all() and not batch.pixel_mask[i, :, iw:].any()
        assert batch.images[i, :, :, iw:].abs().sum() == 0
        n = len(it.tokens)
        assert batch.token_mask[i].sum() == n and (batch.tokens[i, n:] == tok.pad_id).all()
    assert batch.symbol_counts is not None and batch.symbol_counts.shape == (4, 101)
    assert batch.names == [it.name for it in items[:4]]
    assert batch.to("cpu").images.shape == batch.images.shape


def test_dataset_determinism(records: list[Record], tok: LatexTokenizer) -> None:
    ds = ExpressionDataset(records, tok, augment_cfg=AugmentConfig(), seed=3)
    assert torch.equal(ds[0].image, ds[0].image)
    assert torch.equal(ds[(0, 2)].image, ds[(0, 2)].image)
    assert not torch.equal(ds[(0, 0)].image, ds[(0, 1)].image)
    clean = ExpressionDataset(records, tok)
    assert torch.equal(clean[0].image, clean[0].image) and clean[0].symbol_counts is None


def test_width_estimates(records: list[Record], tok: LatexTokenizer) -> None:
    ds = ExpressionDataset(records, tok)
    est = ds.widths()
    real = [ds[i].image.shape[-1] for i in range(len(ds))]
    close = sum(abs(e - r) <= 32 for e, r in zip(est, real, strict=True))
    assert close >= 0.8 * len(ds)


def test_bucket_sampler_covers_and_groups() -> None:
    widths = [(i * 37) % 500 + 32 for i in range(1000)]
    s = BucketBatchSampler(widths, batch_size=16, shuffle=True, seed=0)
    batches = list(s)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(1000)) and len(batches) == len(s) == 63
    spread = sum(max(widths[i] for i in b) - min(widths[i] for i in b) for b in batches) / len(batches)
    assert spread < 60  # random batches would spread ~ 470
    again = BucketBatchSampler(widths, batch_size=16, shuffle=True, seed=0)
    assert list(again) == batches
    assert list(again) != batches  # the next iter() is the next epoch
    ordered = BucketBatchSampler(widths, batch_size=16, shuffle=False)
    assert [widths[b[0]] for b in ordered] == sorted(widths[b[0]] for b in ordered)
    dropped = BucketBatchSampler(widths, batch_size=16, drop_last=True)
    assert all(len(b) == 16 for b in dropped) and len(dropped) == 62


def test_bucket_sampler_resume_exact() -> None:
    widths = [(i * 13) % 300 for i in range(333)]
    ref = BucketBatchSampler(widths, batch_size=8, seed=5)
    full = [list(ref), list(ref)]  # epochs 0 and 1
    run = BucketBatchSampler(widths, batch_size=8, seed=5)
    it = iter(run)
    taken = [next(it) for _ in range(17)]
    state = run.state_dict()
    assert state == {"epoch": 0, "position": 17}
    resumed = BucketBatchSampler(widths, batch_size=8, seed=5)
    resumed.load_state_dict(state)
    assert taken + list(resumed) == full[0]
    assert list(resumed) == full[1]
    # with a prefetching loader the loop passes how many batches it really consumed
    run2 = BucketBatchSampler(widths, batch_size=8, seed=5)
    it2 = iter(run2)
    for _ in range(20):
        next(it2)
    resumed2 = BucketBatchSampler(widths, batch_size=8, seed=5)
    resumed2.load_state_dict(run2.state_dict(consumed=12))
    assert list(resumed2) == full[0][12:]
    end = BucketBatchSampler(widths, batch_size=8, seed=5)
    end.load_state_dict({"epoch": 0, "position": len(full[0])})
    assert list(end) == full[1]


def test_bucket_sampler_ddp_shards() -> None:
    widths = list(range(101))
    shards = [list(BucketBatchSampler(widths, 4, seed=2, num_replicas=3, rank=r)) for r in range(3)]
    assert len({len(s) for s in shards}) == 1
    seen = [i for s in shards for b in s for i in b]
    assert set(seen) == set(range(101))
    single = list(BucketBatchSampler(widths, 4, seed=2))
    assert {tuple(b) for s in shards for b in s} == {tuple(b) for b in single}  # same batches, split
    assert sum(len(s) for s in shards) == len(single) + (-len(single)) % 3
    with pytest.raises(ValueError):
        BucketBatchSampler(widths, 4, num_replicas=2, rank=2)


def test_dataloader_with_epoch_indices(records: list[Record], tok: LatexTokenizer) -> None:
    ds = ExpressionDataset(records, tok, augment_cfg=AugmentConfig(strength=0.5), seed=0)
    sampler = BucketBatchSampler(ds.widths(), batch_size=5, seed=0, with_epoch=True)
    loader = DataLoader(ds, batch_sampler=sampler, collate_fn=lambda items: collate(items, tok.pad_id))
    e0 = [b.images for b in loader]
    e1 = [b.images for b in loader]
    assert len(e0) == 4 and sum(len(x) for x in e0) == len(ds)
    again = BucketBatchSampler(ds.widths(), batch_size=5, seed=0, with_epoch=True)
    loader2 = DataLoader(ds, batch_sampler=again, collate_fn=lambda items: collate(items, tok.pad_id))
    assert all(torch.equal(a, b) for a, b in zip(e0, [b.images for b in loader2], strict=True))
    assert not all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(e0, e1, strict=True))
