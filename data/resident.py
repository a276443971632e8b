"""Training data that lives on the training device: preprocessed once, packed as uint8, drawn by index.

`ResidentData.build` preprocesses every record's clean image once (`data.preprocess`, the API's own
function; optionally in a process pool) and packs the results into a few fixed-width buckets: per
bucket a uint8 tensor (N, H, W_b) of images padded on the right, the ink boxes, the token targets padded
to the bucket's longest caption, and the per-class symbol counts. Batches are then index_selects on the
device: a handful of shapes (one per bucket), no loader workers, no host-to-device copies per step.

`ResidentSampler` plans an epoch as fixed-size batches (the last batch of a bucket is filled up with
the bucket's first samples, so every batch of a bucket has the same shape), in an order that is a pure
function of (seed, epoch): a resumed run draws exactly the batches the uninterrupted one would have.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch

from data.batch import Batch
from data.device_augment import DeviceAugmentConfig, augment_batch
from data.preprocess import PreprocessConfig, preprocess
from data.records import Record
from data.symbols import symbol_counts
from data.synth.mix import is_synthetic

DEFAULT_BUCKETS = 10
INK_LEVEL = 0.5  # data.preprocess.INK_LEVEL: pixels above it bound the ink box


@dataclass
class ResidentBucket:
    """Samples of similar width, padded to `width`; all tensors on the training device."""

    width: int
    images: torch.Tensor  # (N, H, W_b) uint8, ink = 255
    boxes: torch.Tensor  # (N, 4) float32: x0, y0, x1, y1 of the ink (px)
    widths: torch.Tensor  # (N,) int64: each image's own width (its pixel mask without augmentation)
    tokens: torch.Tensor  # (N, T_b) int64: <sos> ... <eos> <pad>...
    counts: torch.Tensor | None  # (N, C) float32 per-class symbol counts, or None
    names: list[str]
    replaceable: list[int] = field(
        default_factory=list
    )  # slots of synthetic samples (`ResidentData.replace`)
    next_slot: int = 0  # the oldest of them: where `replace` writes next

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def height(self) -> int:
        return self.images.shape[1]


def _preprocess_one(args: tuple[Record, PreprocessConfig]) -> np.ndarray:
    rec, cfg = args
    image = rec.image
    if image is None:
        raise ValueError(f"{rec.name}: the resident path needs offline images (render InkML first)")
    x = preprocess(image, cfg)[0]  # (H, W)
    return (x.numpy() * 255.0 + 0.5).astype(np.uint8)


def _ink_box(img: np.ndarray) -> tuple[float, float, float, float]:
    ink = img > INK_LEVEL * 255
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        h, w = img.shape
        return 0.0, 0.0, float(w), float(h)
    return float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)


def bucket_edges(widths: Sequence[int], num_buckets: int, min_size: int, multiple: int = 16) -> list[int]:
    """Bucket widths (ascending, the last = the widest image): geometric steps from the narrowest to the
    widest image, rounded up to `multiple` (an image is padded by less than the step ratio, however
    wide), then merged until every bucket holds at least `min_size` images (if the data has that many)."""
    w = np.sort(np.asarray(widths))
    lo, hi = max(int(w[0]), multiple), int(w[-1])
    steps = np.geomspace(lo, hi, num_buckets + 1)[1:] if hi > lo else np.array([hi])
    edges = sorted({int(math.ceil(q / multiple) * multiple) for q in steps} | {hi})
    edges = [e for e in edges if e <= hi]
    while len(edges) > 1:
        counts = np.diff(np.searchsorted(w, edges, side="right"), prepend=0)
        small = [i for i, c in enumerate(counts) if c < min_size]
        if not small:
            break
        i = small[0]
        edges.pop(
            i if i < len(edges) - 1 else i - 1
        )  # into the next wider bucket (the widest: the one below)
    return edges


class ResidentData:
    """Preprocessed training images, targets and counts in fixed-width buckets on one device."""

    def __init__(self, buckets: list[ResidentBucket], preprocess_cfg: PreprocessConfig, pad_id: int) -> None:
        if not buckets:
            raise ValueError("no training samples to make resident")
        self.buckets = buckets
        self.preprocess_cfg = preprocess_cfg
        self.pad_id = pad_id

    @classmethod
    def build(
        cls,
        records: Sequence[Record],
        encode: Callable[[str], list[int]],  # latex -> token ids incl. <sos>/<eos>
        pad_id: int,
        preprocess_cfg: PreprocessConfig,
        device: torch.device | str = "cpu",
        symbol_classes: Sequence[str] | None = None,
        num_buckets: int = DEFAULT_BUCKETS,
        min_bucket_size: int = 1,
        workers: int = 0,
        token_multiple: int = 8,
        fresh: Sequence[tuple[str, str, np.ndarray]] = (),
    ) -> ResidentData:
        """`records` preprocessed (in `workers` processes) and packed; `fresh`: (name, caption, image)
        samples already preprocessed (a synthetic stream's), packed beside them as replaceable."""
        classes = list(symbol_classes or [])
        jobs = [(r, preprocess_cfg) for r in records]
        if workers > 1:  # spawned: a fresh interpreter per worker (no CUDA or thread state inherited)
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                images = list(pool.map(_preprocess_one, jobs, chunksize=64))
        else:
            images = [_preprocess_one(j) for j in jobs]
        records = [*records, *(Record(name, latex, source="synth") for name, latex, _ in fresh)]
        return cls.from_arrays(
            [*images, *(image for _, _, image in fresh)],
            [encode(r.latex) for r in records],
            [r.name for r in records],
            pad_id,
            preprocess_cfg,
            device=device,
            counts=None if symbol_classes is None else [symbol_counts(r, classes) for r in records],
            num_buckets=num_buckets,
            min_bucket_size=min_bucket_size,
            token_multiple=token_multiple,
            replaceable=[is_synthetic(r.source) for r in records],
        )

    @classmethod
    def from_arrays(
        cls,
        images: Sequence[np.ndarray],  # each (H, W_i) uint8, ink 255: preprocessed
        seqs: Sequence[list[int]],  # token ids incl. <sos>/<eos>
        names: Sequence[str],
        pad_id: int,
        preprocess_cfg: PreprocessConfig,
        device: torch.device | str = "cpu",
        counts: Sequence[np.ndarray | None] | None = None,  # (C,) per sample
        num_buckets: int = DEFAULT_BUCKETS,
        min_bucket_size: int = 1,
        token_multiple: int = 8,
        replaceable: Sequence[bool] | None = None,  # synthetic samples: `replace` may overwrite them
    ) -> ResidentData:
        """Preprocessed images packed into buckets (see the module doc)."""
        widths = [im.shape[1] for im in images]
        heights = np.asarray([im.shape[0] for im in images])
        buckets = []
        # one height per bucket (symbol-preserving preprocessing makes several, each with its own width
        # buckets, merged while smaller than `min_bucket_size`; the augmentation then places ink at the
        # bucket's own height)
        for height in sorted(set(heights.tolist())):
            group = np.flatnonzero(heights == height)
            g_widths = [widths[i] for i in group]
            edges = bucket_edges(g_widths, num_buckets, min_bucket_size, preprocess_cfg.width_multiple)
            which = np.searchsorted(np.asarray(edges), np.asarray(g_widths), side="left")  # bucket per image
            for b, edge in enumerate(edges):
                idx = group[which == b]
                if idx.size == 0:
                    continue
                buckets.append(
                    cls._bucket(
                        images,
                        seqs,
                        names,
                        idx,
                        height,
                        edge,
                        pad_id,
                        token_multiple,
                        device,
                        counts,
                        replaceable,
                    )  # fmt: skip
                )
        return cls(buckets, preprocess_cfg, pad_id)

    @staticmethod
    def _bucket(
        images: Sequence[np.ndarray],
        seqs: Sequence[list[int]],
        names: Sequence[str],
        idx: np.ndarray,
        height: int,
        width: int,
        pad_id: int,
        token_multiple: int,
        device: torch.device | str,
        counts: Sequence[np.ndarray | None] | None,
        replaceable: Sequence[bool] | None,
    ) -> ResidentBucket:
        """The samples `idx` (all `height` px high, at most `width` wide) packed as one bucket."""
        pack = np.zeros((idx.size, height, width), dtype=np.uint8)  # (N, H_b, W_b)
        boxes = np.zeros((idx.size, 4), dtype=np.float32)
        t = math.ceil(max(len(seqs[i]) for i in idx) / token_multiple) * token_multiple
        tokens = np.full((idx.size, t), pad_id, dtype=np.int64)  # (N, T_b)
        for j, i in enumerate(idx):
            im = images[i]
            pack[j, :, : im.shape[1]] = im
            boxes[j] = _ink_box(im)
            tokens[j, : len(seqs[i])] = seqs[i]
        count_t = None
        if counts is not None and all(counts[i] is not None for i in idx):
            count_t = torch.from_numpy(np.stack([counts[i] for i in idx]).astype(np.float32)).to(device)
        return ResidentBucket(
            width=width,
            images=torch.from_numpy(pack).to(device),
            boxes=torch.from_numpy(boxes).to(device),
            widths=torch.tensor([images[i].shape[1] for i in idx], dtype=torch.long, device=device),
            tokens=torch.from_numpy(tokens).to(device),
            counts=count_t,
            names=[names[i] for i in idx],
            replaceable=[j for j, i in enumerate(idx) if replaceable is not None and replaceable[i]],
        )

    def replaceable(self) -> int:
        """Slots that `replace` may overwrite (the synthetic samples)."""
        return sum(len(b.replaceable) for b in self.buckets)

    def replace(
        self,
        images: Sequence[np.ndarray],  # each (H, W_i) uint8, ink 255: preprocessed
        seqs: Sequence[list[int]],
        names: Sequence[str],
        counts: Sequence[np.ndarray | None] | None = None,
    ) -> int:
        """Write fresh samples over the oldest replaceable slots of the narrowest bucket that holds them
        (width and tokens; one that fits no bucket is dropped) -> how many were written. The buckets keep
        their shapes, so batches, the sampler's plan and compiled shapes stay as they were."""
        placed: dict[int, list[int]] = {}
        for i, (im, seq) in enumerate(zip(images, seqs, strict=True)):
            for b, bk in enumerate(self.buckets):
                fits = im.shape[0] == bk.height and im.shape[1] <= bk.width and len(seq) <= bk.tokens.shape[1]
                if bk.replaceable and fits:
                    if len(placed.setdefault(b, [])) < len(bk.replaceable):  # one pass over its slots
                        placed[b].append(i)
                        break
        for b, which in placed.items():
            bk = self.buckets[b]
            n, t, height = len(which), bk.tokens.shape[1], bk.height
            slots = [bk.replaceable[(bk.next_slot + k) % len(bk.replaceable)] for k in range(n)]
            bk.next_slot = (bk.next_slot + n) % len(bk.replaceable)
            pack = np.zeros((n, height, bk.width), dtype=np.uint8)  # (n, H, W_b)
            boxes = np.zeros((n, 4), dtype=np.float32)
            tokens = np.full((n, t), self.pad_id, dtype=np.int64)  # (n, T_b)
            for j, i in enumerate(which):
                pack[j, :, : images[i].shape[1]] = images[i]
                boxes[j] = _ink_box(images[i])
                tokens[j, : len(seqs[i])] = seqs[i]
                bk.names[slots[j]] = names[i]
            dev = bk.images.device
            index = torch.tensor(slots, dtype=torch.long, device=dev)
            bk.images.index_copy_(0, index, torch.from_numpy(pack).to(dev))
            bk.boxes.index_copy_(0, index, torch.from_numpy(boxes).to(dev))
            bk.tokens.index_copy_(0, index, torch.from_numpy(tokens).to(dev))
            widths = torch.tensor([images[i].shape[1] for i in which], dtype=torch.long)
            bk.widths.index_copy_(0, index, widths.to(dev))
            if bk.counts is not None and counts is not None:
                c = np.stack([counts[i] for i in which]).astype(np.float32)  # (n, C)
                bk.counts.index_copy_(0, index, torch.from_numpy(c).to(dev))
        return sum(len(w) for w in placed.values())

    def __len__(self) -> int:
        return sum(len(b) for b in self.buckets)

    @property
    def device(self) -> torch.device:
        return self.buckets[0].images.device

    def nbytes(self) -> int:
        total = 0
        for b in self.buckets:
            for t in (b.images, b.boxes, b.widths, b.tokens, b.counts):
                total += 0 if t is None else t.numel() * t.element_size()
        return total

    def shapes(self) -> list[tuple[int, int, int, int]]:
        """(samples, height, width, tokens) per bucket."""
        return [(len(b), b.height, b.width, b.tokens.shape[1]) for b in self.buckets]

    def batch(
        self,
        bucket: int,
        index: torch.Tensor,
        augment: DeviceAugmentConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> Batch:
        """The samples `index` (B,) of one bucket (index on the data's device) as a `Batch`,
        augmented on the device when `augment` is given."""
        bk = self.buckets[bucket]
        raw = bk.images.index_select(0, index)[:, None]  # (B, 1, H, W_b) uint8
        if augment is not None:
            if generator is None:
                raise ValueError("device augmentation needs a generator")
            images, mask = augment_batch(raw, bk.boxes.index_select(0, index), generator, augment)
        else:
            images = raw.float() / 255.0  # (B, 1, H, W_b)
            cols = torch.arange(bk.width, device=raw.device)
            widths = bk.widths.index_select(0, index)
            mask = (cols[None, :] < widths[:, None])[:, None, :].expand(-1, raw.shape[2], -1)  # (B, H, W_b)
        tokens = bk.tokens.index_select(0, index)  # (B, T_b)
        return Batch(
            images=images,
            pixel_mask=mask,
            tokens=tokens,
            token_mask=tokens != self.pad_id,
            symbol_counts=None if bk.counts is None else bk.counts.index_select(0, index),
        )


class ResidentSampler:
    """An epoch of fixed-size batches over the buckets: [(bucket, index (B,) on the device)].

    Per bucket a seeded permutation cut into batches of `batch_size` (the last one filled up from the
    permutation's start, a bucket smaller than a batch repeated), the batches of all buckets in a
    seeded order; with `num_replicas` > 1 each rank takes every num_replicas-th batch."""

    def __init__(
        self,
        data: ResidentData,
        batch_size: int,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        max_pixels: int = 0,
    ) -> None:
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.max_pixels = max_pixels  # > 0: a bucket's batch holds at most this many pixels

    def bucket_batch(self, bucket: int) -> int:
        """The batch size of a bucket: `batch_size`, or fewer where `max_pixels` caps a tall or wide
        bucket's batch (the memory of the largest batch stays that of the widest 64 px one)."""
        bk = self.data.buckets[bucket]
        if not self.max_pixels:
            return self.batch_size
        return max(1, min(self.batch_size, self.max_pixels // (bk.height * bk.width)))

    def plan(self, epoch: int) -> list[tuple[int, torch.Tensor]]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        rows: list[tuple[int, torch.Tensor]] = []
        for b, bk in enumerate(self.data.buckets):
            n, size = len(bk), self.bucket_batch(b)
            perm = torch.randperm(n, generator=gen)
            k = max(1, math.ceil(n / size))
            need = k * size
            if need > n:
                perm = perm.repeat(math.ceil(need / n))[:need]
            rows += [(b, perm[i * size : (i + 1) * size]) for i in range(k)]
        order = torch.randperm(len(rows), generator=gen).tolist()
        rows = [rows[i] for i in order]
        if self.num_replicas > 1:
            extra = (-len(rows)) % self.num_replicas
            rows = (rows + rows[:extra])[self.rank :: self.num_replicas]
        if not rows:
            return []
        flat = torch.cat([r[1] for r in rows]).to(self.data.device, non_blocking=True)  # one copy
        index = flat.split([len(r[1]) for r in rows])
        return [(b, index[i]) for i, (b, _) in enumerate(rows)]

    def __len__(self) -> int:
        return len(self.plan(0))


def default_workers() -> int:
    """Preprocessing processes for `ResidentData.build`: the machine's cores, at most 16."""
    return max(1, min(16, os.cpu_count() or 1))
