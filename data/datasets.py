"""torch Datasets for expressions, the batch collate, and a width-bucketing batch sampler.

Every image goes render/load -> (augment when training) -> `preprocess`, the same function the
API uses. Randomness is a pure function of (seed, epoch, index): runs are reproducible and a
resumed run sees exactly the samples the uninterrupted one would have seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from data.augment import AugmentConfig, augment
from data.batch import Batch, pad_images
from data.preprocess import PreprocessConfig, preprocess
from data.records import Record
from data.render import RenderConfig, render_strokes
from data.symbols import symbol_counts

# Pen width drawn per training render: nominal width times a factor in this range.
PEN_WIDTH_RANGE = (0.7, 1.6)
# Sorting window of the bucket sampler, in batches: widths are sorted within such windows.
BUCKET_WINDOW_BATCHES = 50
# Blank border around the ink of the standard CROHME offline images (12 px left/top, 11 right/bottom),
# subtracted when estimating widths for bucketing.
IMAGE_BORDER_ESTIMATE = 11.5


class TokenizerLike(Protocol):
    pad_id: int

    def encode(self, latex: str) -> list[int]: ...


@dataclass
class ExpressionItem:
    """One preprocessed training example."""

    image: torch.Tensor  # (1, H, W) float32, ink = 1
    tokens: torch.Tensor  # (T,) int64: <sos> ... <eos>
    symbol_counts: torch.Tensor | None  # (C,) float32
    name: str


@dataclass
class RenderOptions:
    """How InkML records are drawn for the dataset (pen width jittered when augmenting)."""

    render: RenderConfig = field(default_factory=RenderConfig)
    pen_width_range: tuple[float, float] = PEN_WIDTH_RANGE


class ExpressionDataset(Dataset):
    """Records -> `ExpressionItem`s; InkML records are rendered on the fly.

    Index with an int, or with `(index, epoch)` (what `BucketBatchSampler(with_epoch=True)`
    yields, so DataLoader workers need no `set_epoch`).
    """

    def __init__(
        self,
        records: Sequence[Record],
        tokenizer: TokenizerLike,
        preprocess_cfg: PreprocessConfig = PreprocessConfig(),
        augment_cfg: AugmentConfig | None = None,
        render: RenderOptions = RenderOptions(),
        symbol_classes: Sequence[str] | None = None,
        seed: int = 0,
    ) -> None:
        self.records = records
        self.tokenizer = tokenizer
        self.preprocess_cfg = preprocess_cfg
        self.augment_cfg = augment_cfg
        self.render = render
        self.symbol_classes = list(symbol_classes) if symbol_classes is not None else None
        self.seed = seed
        self.epoch = 0
        self._widths: list[int] | None = None
        self._sort_keys: list[int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def rng(self, index: int, epoch: int | None = None) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch if epoch is None else epoch, index])

    def raw_image(self, index: int, rng: np.random.Generator | None = None) -> Image.Image:
        """The clean image of a record (render or offline image), before augmentation."""
        rec = self.records[index]
        if rec.strokes is not None:
            cfg = self.render.render
            if rng is not None and self.augment_cfg is not None:
                lo, hi = self.render.pen_width_range
                cfg = replace(cfg, pen_width=cfg.pen_width * float(rng.uniform(lo, hi)))
            return render_strokes(rec.strokes, cfg.height, cfg.pen_width, cfg.pad, cfg.supersample)
        image = rec.image
        if image is None:
            raise ValueError(f"{rec.name}: record has neither strokes nor an image")
        return image

    def __getitem__(self, key: int | tuple[int, int]) -> ExpressionItem:
        index, epoch = (key, None) if isinstance(key, int | np.integer) else (int(key[0]), int(key[1]))
        index = int(index)
        rec = self.records[index]
        rng = self.rng(index, epoch)
        image = self.raw_image(index, rng)
        if self.augment_cfg is not None:
            image = augment(image, rng, self.augment_cfg)
        x = preprocess(image, self.preprocess_cfg)  # (1, H, W)
        tokens = torch.tensor(self.tokenizer.encode(rec.latex), dtype=torch.long)  # (T,)
        counts = None
        if self.symbol_classes is not None:
            c = symbol_counts(rec, self.symbol_classes)
            counts = torch.from_numpy(c) if c is not None else None
        return ExpressionItem(image=x, tokens=tokens, symbol_counts=counts, name=rec.name)

    def widths(self) -> list[int]:
        """Estimated preprocessed width of every item (no decoding, no rendering); cached."""
        if self._widths is None:
            cfg = self.preprocess_cfg
            inner = cfg.height - 2 * cfg.margin
            out = []
            for rec in self.records:
                aspect = _aspect(rec)
                w = min(cfg.max_width - 2 * cfg.margin, aspect * inner) + 2 * cfg.margin
                w = math.ceil(w / cfg.width_multiple) * cfg.width_multiple
                out.append(int(min(cfg.max_width, max(cfg.min_width, w))))
            self._widths = out
        return self._widths

    def sort_keys(self) -> list[int]:
        """Keys the bucket sampler sorts by: the width, or with a variable output height
        (height * 100000 + width) so that batches also share their height. Variable heights need the
        real preprocessed shape (decoded once, unaugmented; a few ms an image); cached."""
        if not self.preprocess_cfg.variable_height:
            return self.widths()
        if self._sort_keys is None:
            keys = []
            for i in range(len(self.records)):
                x = preprocess(self.raw_image(i), self.preprocess_cfg)  # (1, H, W)
                keys.append(int(x.shape[-2]) * 100_000 + int(x.shape[-1]))
            self._sort_keys = keys
        return self._sort_keys


def _aspect(rec: Record) -> float:
    if rec.strokes is not None:
        pts = np.concatenate([s for s in rec.strokes if len(s)] or [np.zeros((1, 2))], axis=0)  # (N, 2)
        w, h = np.ptp(pts, axis=0)
        return float(w + 1e-3) / float(max(h, w / 24.0, 1e-3))
    size = rec.image_size()
    if not size:
        return 1.0
    border = IMAGE_BORDER_ESTIMATE if min(size) > 4 * IMAGE_BORDER_ESTIMATE else 0.0
    return (size[0] - 2 * border) / max(size[1] - 2 * border, 1.0)


def collate(items: Sequence[ExpressionItem], pad_id: int) -> Batch:
    """Pad images (right, with 0) and token ids (with `pad_id`) into a `Batch`."""
    images, pixel_mask = pad_images([it.image for it in items])  # (B, 1, H, W), (B, H, W)
    t = max(it.tokens.shape[0] for it in items)
    tokens = torch.full((len(items), t), pad_id, dtype=torch.long)  # (B, T)
    token_mask = torch.zeros(len(items), t, dtype=torch.bool)  # (B, T)
    for i, it in enumerate(items):
        n = it.tokens.shape[0]
        tokens[i, :n] = it.tokens
        token_mask[i, :n] = True
    counts = None
    if all(it.symbol_counts is not None for it in items):
        counts = torch.stack([it.symbol_counts for it in items])  # type: ignore[misc]  # (B, C)
    return Batch(
        images=images,
        pixel_mask=pixel_mask,
        tokens=tokens,
        token_mask=token_mask,
        symbol_counts=counts,
        names=[it.name for it in items],
    )


class BucketBatchSampler(Sampler[list[Any]]):
    """Batches of similar widths (less padding), deterministic in (seed, epoch), resumable.

    Shuffled: a seeded permutation is cut into windows of `BUCKET_WINDOW_BATCHES` batches, each
    window is sorted by width and cut into batches, and the batch order is shuffled. Not shuffled:
    sorted by width. With `num_replicas` > 1 each rank takes every num_replicas-th batch (the list
    is padded by repetition, or truncated with `drop_last`, so all ranks get the same count).

    Iterating yields the batches of `epoch` from `position`; the next `iter()` moves to the next
    epoch. `state_dict(consumed)` / `load_state_dict` resume exactly (pass the number of batches
    the training loop has taken, since a DataLoader prefetches ahead of it).
    """

    def __init__(
        self,
        widths: Sequence[int],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        num_replicas: int = 1,
        rank: int = 0,
        with_epoch: bool = False,
    ) -> None:
        if batch_size < 1 or not 0 <= rank < num_replicas:
            raise ValueError("need batch_size >= 1 and 0 <= rank < num_replicas")
        self.widths = np.asarray(widths, dtype=np.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.num_replicas = num_replicas
        self.rank = rank
        self.with_epoch = with_epoch
        self.epoch = 0
        self.position = 0
        self._finished = False

    def batches(self, epoch: int) -> list[list[int]]:
        """This rank's batches of `epoch` (indices into the dataset)."""
        n = len(self.widths)
        if self.shuffle:
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(n)
            window = self.batch_size * BUCKET_WINDOW_BATCHES
            chunks = [order[i : i + window] for i in range(0, n, window)]
            order = np.concatenate([c[np.argsort(self.widths[c], kind="stable")] for c in chunks] or [order])
        else:
            rng = None
            order = np.argsort(self.widths, kind="stable")
        all_batches = [order[i : i + self.batch_size].tolist() for i in range(0, n, self.batch_size)]
        if self.drop_last and all_batches and len(all_batches[-1]) < self.batch_size:
            all_batches.pop()
        if rng is not None:
            all_batches = [all_batches[i] for i in rng.permutation(len(all_batches))]
        if self.num_replicas > 1:
            if self.drop_last:
                all_batches = all_batches[: len(all_batches) // self.num_replicas * self.num_replicas]
            elif all_batches:
                extra = (-len(all_batches)) % self.num_replicas
                all_batches = all_batches + all_batches[:extra]
            all_batches = all_batches[self.rank :: self.num_replicas]
        return all_batches

    def __len__(self) -> int:
        return len(self.batches(self.epoch))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.position = 0
        self._finished = False

    def __iter__(self) -> Iterator[list[Any]]:
        if self._finished:
            self.set_epoch(self.epoch + 1)
        epoch = self.epoch
        batches = self.batches(epoch)
        while self.position < len(batches):
            batch = batches[self.position]
            self.position += 1
            yield [(i, epoch) for i in batch] if self.with_epoch else batch
        self._finished = True

    def state_dict(self, consumed: int | None = None) -> dict[str, int]:
        """{"epoch", "position"}; `consumed` = batches of this epoch the loop has really used."""
        return {"epoch": self.epoch, "position": self.position if consumed is None else consumed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.set_epoch(int(state["epoch"]))
        self.position = int(state["position"])
        if self.position >= len(self.batches(self.epoch)):
            self.set_epoch(self.epoch + 1)
