"""What a training run reads: the training batches (a DataLoader with PIL augmentation, or the set
resident on the device with batch-wise device augmentation), the multi-task symbol stream, and the
validation items; built once from the configs, positioned by (epoch, batches consumed) for exact resume.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from seq2latex.config import ModelConfig, TrainConfig, preprocess_config
from seq2latex.training.environment import DistInfo
from seq2latex.training.validation import ValItem, make_val_items
from tokenizer import LatexTokenizer


@dataclass
class SynthCounts:
    """What the synthetic stream gave a run: expressions made and placed in the resident set, and their
    distinct captions (each made expression is a new draw: new caption, writer or ink)."""

    made: int = 0
    placed: int = 0
    captions: set[str] = field(default_factory=set)

    def add(self, samples: list[Any], placed: int) -> None:
        self.made += len(samples)
        self.placed += placed
        self.captions.update(s.latex for s in samples)

    def summary(self) -> dict[str, int]:
        return {"made": self.made, "placed": self.placed, "distinct_captions": len(self.captions)}


@dataclass
class Position:
    """Where the run is in its data: the epoch and the batches of it consumed (checkpointed)."""

    epoch: int = 0
    consumed: int = 0


def spread(n: int, limit: int) -> list[int]:
    """At most `limit` indices of `n` items (0 = all), spread evenly over them: a deterministic subset."""
    keep = min(n, limit) if limit else n
    stride = max(1, n // max(keep, 1))
    return list(range(0, n, stride))[:keep]


def read_sources(root: Path, names: list[str]) -> dict[str, list[Any]]:
    """Records of each named source (e.g. 'offline/train', 'inkml/train', '.') under `root`; every
    source is discovered and read once, however often it is named."""
    from data.records import discover_sources, read_source

    by_name = {s.name: s for s in discover_sources(root)}
    out: dict[str, list[Any]] = {}
    for name in names:
        if name not in by_name:
            raise ValueError(f"source {name!r} not found under {root}; found {sorted(by_name)}")
        if name not in out:
            out[name] = read_source(by_name[name]).records
    return out


def preload_images(records: list[Any]) -> None:
    """Decode the images of offline records once (workers then share them instead of re-reading
    files or zip members every epoch)."""
    for r in records:
        if r.strokes is None and r._image is None:
            image = r.image
            if image is not None:
                image.load()
                r._image = image


class TrainingData:
    """The batches and validation items of one run (stage "expressions" or "symbols")."""

    def __init__(
        self,
        cfg: TrainConfig,
        model_cfg: ModelConfig,
        tokenizer: LatexTokenizer,
        classes: list[str],
        root: Path,
        device: torch.device,
        dist: DistInfo,
        pos: Position,
    ) -> None:
        self.cfg = cfg
        self.model_cfg = model_cfg
        self.tokenizer = tokenizer
        self.classes = classes
        self.root = root
        self.device = device
        self.dist = dist
        self.pos = pos
        self.symbols = cfg.stage == "symbols"
        self.resident: Any = None  # data.resident.ResidentData on the resident path
        self.resident_symbols: Any = None  # data.resident_symbols.ResidentSymbols: its symbol task
        self.augment_gen: torch.Generator | None = None
        self.device_augment: Any = None
        self.symbol_batches: Iterator[tuple[torch.Tensor, torch.Tensor]] | None = None  # multi-task
        self.stream: Any = None  # data.synth.stream.SynthStream (synth_stream > 0)
        self.synth = SynthCounts()
        self.val_items: list[ValItem] = []
        self.val_symbols: list[tuple[torch.Tensor, int]] = []
        self._build()

    def _build(self) -> None:
        from data.augment import AugmentConfig
        from data.datasets import BucketBatchSampler, ExpressionDataset, collate

        cfg, root = self.cfg, Path(self.root)
        augment_cfg = AugmentConfig(strength=cfg.augment_strength) if cfg.augment_strength > 0 else None
        if self.symbols:
            from data.symbols import SymbolDataset

            train_records, val_records = self._split_records(root, cfg.symbol_sources, cfg.symbol_val_source)
            train_records = train_records[: cfg.limit_train] if cfg.limit_train else train_records
            size, pen = self.model_cfg.symbol_size, self.model_cfg.symbol_pen
            self.train_set: Any = SymbolDataset(train_records, self.classes, size, augment_cfg, cfg.seed, pen)
            widths = [self.model_cfg.symbol_size] * len(self.train_set)
            collate_fn: Any = None
            with_epoch = False
            val_set = SymbolDataset(val_records, self.classes, size, None, cfg.seed, pen)
            self.val_symbols = [val_set[i] for i in spread(len(val_set), cfg.limit_val)]
        else:
            pre = preprocess_config(self.model_cfg)
            records, val_records = self._split_records(root, cfg.train_sources, cfg.val_source)
            records = self._mix(records)
            if cfg.preload_images and cfg.data_path == "loader":  # the resident path decodes once anyway
                preload_images(records)
            max_tokens = min(cfg.max_tokens, self.model_cfg.decoder.max_len - 2)  # room for <sos>/<eos>
            records = [r for r in records if 0 < len(r.latex.split()) <= max_tokens]
            if cfg.data_path == "resident":
                fresh = self._start_stream(root, records, val_records, pre, max_tokens)
                self._build_resident(records, pre, fresh)
            elif cfg.synth_stream > 0:
                raise ValueError("synth_stream needs data_path 'resident'")
            self.train_set = ExpressionDataset(
                records, self.tokenizer, pre, augment_cfg, symbol_classes=self.classes, seed=cfg.seed
            )
            # the loader's bucket order (the resident path plans its own: no second preprocessing pass)
            widths = [0] * len(self.train_set) if self.resident is not None else self.train_set.sort_keys()
            if cfg.symbol_weight > 0 and self.resident is not None:
                self._build_resident_symbol_task(root)
            elif cfg.symbol_weight > 0:
                self._build_symbol_task(root, augment_cfg)
            collate_fn = partial(collate, pad_id=self.tokenizer.pad_id)
            with_epoch = True
            if cfg.val_max_tokens:
                val_records = [r for r in val_records if len(r.latex.split()) <= cfg.val_max_tokens]
            if cfg.limit_val:
                val_records = val_records[: cfg.limit_val]
            self.val_items: list[ValItem] = make_val_items(val_records, self.tokenizer, pre)
        if len(self.train_set) == 0:
            raise ValueError(f"no training samples found under {root}")
        self.sampler = BucketBatchSampler(
            widths,
            cfg.batch_size,
            shuffle=True,
            seed=cfg.seed,
            drop_last=False,
            num_replicas=self.dist.world,
            rank=self.dist.rank,
            with_epoch=with_epoch,
        )
        # own generator: creating a loader iterator must not draw from the global RNG (exact resume)
        self.loader_generator = torch.Generator()
        self._collate = collate_fn
        self._loader: DataLoader | None = None  # made on first use (the resident path never starts workers)

    @property
    def loader(self) -> DataLoader:
        if self._loader is None:
            workers = self.cfg.num_workers
            self._loader = DataLoader(
                self.train_set,
                generator=self.loader_generator,
                batch_sampler=self.sampler,
                collate_fn=self._collate,
                num_workers=workers,
                pin_memory=self.device.type == "cuda",
                persistent_workers=workers > 0,  # batches carry their epoch; no restart per epoch
                prefetch_factor=4 if workers > 0 else None,
            )
        return self._loader

    def _mix(self, records: list[Any]) -> list[Any]:
        """The first `limit_train` real records, plus synthetic ones by `synth_ratio` (data.synth.mix)."""
        from data.synth.mix import is_synthetic, mix_synthetic

        cfg = self.cfg
        mixed = mix_synthetic(records, cfg.synth_ratio, cfg.seed, cfg.limit_train)
        if cfg.synth_ratio > 0 and self.dist.main:
            n_synth = sum(is_synthetic(r.source) for r in mixed)
            print(
                f"synthetic: {n_synth} of {len(mixed)} training records (synth_ratio {cfg.synth_ratio})",
                flush=True,
            )
        return mixed

    def _start_stream(
        self, root: Path, records: list[Any], val_records: list[Any], pre: Any, max_tokens: int
    ) -> list[tuple[str, str, Any]]:
        """With synth_stream > 0: start the synthesizer's workers and take the initial synthetic set
        -> its (name, caption, image) samples (none when off)."""
        cfg = self.cfg
        if cfg.synth_stream <= 0:
            return []
        from data.records import discover_sources, normalize_latex
        from data.synth.stream import StreamConfig, SynthStream

        # never written: the captions of every source not trained on (the test sets, school_val) and
        # of the validation split
        others = [s.name for s in discover_sources(root) if s.name not in cfg.train_sources]
        exclude = {r.latex for rs in read_sources(root, others).values() for r in rs}
        exclude |= {r.latex for r in val_records}
        exclude = frozenset(normalize_latex(x) for x in exclude)
        from data.synth.mix import is_synthetic

        real = sum(not is_synthetic(r.source) for r in records)
        want = max(1, round(cfg.synth_stream * real))
        t0 = time.monotonic()
        self.stream = SynthStream(
            StreamConfig(
                bank=cfg.synth_bank,
                workers=cfg.synth_workers,
                seed=(cfg.seed if cfg.synth_seed < 0 else cfg.synth_seed) * 1000 + self.dist.rank,
                max_tokens=max_tokens,
            ),
            pre,
            exclude,
        ).start()
        samples = self.stream.take(want, timeout=cfg.synth_start_timeout_s)
        if len(samples) < want:
            raise RuntimeError(
                f"the synthesizer made {len(samples)} of {want} expressions in {cfg.synth_start_timeout_s:.0f} s"
            )
        self.synth.add(samples, placed=len(samples))
        if self.dist.main:
            print(
                f"synthetic stream: {len(samples)} expressions from {cfg.synth_workers} workers in "
                f"{time.monotonic() - t0:.1f} s ({len(exclude)} captions excluded)",
                flush=True,
            )
        return [(s.name, s.latex, s.image) for s in samples]

    def refresh_synthetic(self, trained: int) -> int:
        """Replace up to synth_refresh x `trained` resident synthetic samples by fresh ones (what the
        workers have ready; no waiting) -> how many were written."""
        if self.stream is None or self.resident is None:
            return 0
        samples = self.stream.take(round(self.cfg.synth_refresh * trained))
        if not samples:
            return 0
        from data.records import Record
        from data.symbols import symbol_counts

        with_counts = self.resident.buckets[0].counts is not None
        placed = self.resident.replace(
            [s.image for s in samples],
            [self.tokenizer.encode(s.latex) for s in samples],
            [s.name for s in samples],
            [symbol_counts(Record(s.name, s.latex), self.classes) for s in samples] if with_counts else None,
        )
        self.synth.add(samples, placed)
        return placed

    def close(self) -> None:
        """Stop the synthesizer's workers (if any)."""
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    def _build_resident(self, records: list[Any], pre: Any, fresh: list[tuple[str, str, Any]]) -> None:
        """The resident path: every training image preprocessed once, packed on the device."""
        from data.device_augment import DeviceAugmentConfig
        from data.resident import ResidentData, ResidentSampler, default_workers

        cfg = self.cfg
        if self.symbols:
            raise ValueError(
                "data_path 'resident' trains expressions (and the symbol task), not the symbol stage"
            )
        t0 = time.monotonic()
        self.resident = ResidentData.build(
            records,
            self.tokenizer.encode,
            self.tokenizer.pad_id,
            pre,
            device=self.device,
            symbol_classes=self.classes if cfg.aux_count_weight > 0 else None,
            num_buckets=cfg.resident_buckets,
            min_bucket_size=cfg.batch_size,
            workers=cfg.preprocess_workers or default_workers(),
            fresh=fresh,
        )
        self.resident_sampler = ResidentSampler(
            self.resident,
            cfg.batch_size,
            cfg.seed,
            num_replicas=self.dist.world,
            rank=self.dist.rank,
            max_pixels=cfg.resident_batch_pixels,
        )
        self.device_augment = (
            DeviceAugmentConfig(strength=cfg.augment_strength) if cfg.augment_strength > 0 else None
        )
        self.augment_gen = torch.Generator(device=self.device)
        if self.dist.main:
            shapes = ", ".join(f"{n}x{h}x{w}px/{t}tok" for n, h, w, t in self.resident.shapes())
            print(
                f"resident data: {len(self.resident)} images on {self.device} in "
                f"{time.monotonic() - t0:.1f} s, {self.resident.nbytes() / 2**20:.1f} MiB; buckets {shapes}",
                flush=True,
            )

    def _build_symbol_task(self, root: Path, augment_cfg: Any) -> None:
        """Multi-task expression training: an endless stream of traceGroup crops of the training
        writers, and the crops of the held-out writers to validate the symbol head."""
        from data.symbols import SymbolDataset

        cfg = self.cfg
        train_recs, val_recs = self._split_records(root, cfg.symbol_sources, cfg.symbol_val_source)
        size, pen = self.model_cfg.symbol_size, self.model_cfg.symbol_pen
        sym_train = SymbolDataset(train_recs, self.classes, size, augment_cfg, cfg.seed, pen)
        sym_val = SymbolDataset(val_recs, self.classes, size, None, cfg.seed, pen)
        self.val_symbols = [sym_val[i] for i in spread(len(sym_val), cfg.limit_val_symbols)]
        if self.dist.main:
            print(
                f"symbol task: {len(sym_train)} training crops, {len(self.val_symbols)} validation crops",
                flush=True,
            )

        def stream() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            epoch = 0
            while True:
                sym_train.set_epoch(epoch)
                gen = torch.Generator().manual_seed(cfg.seed * 7919 + epoch * 31 + self.dist.rank)
                order = torch.randperm(len(sym_train), generator=gen).tolist()
                bs = cfg.symbol_batch_size
                for i in range(0, len(order) - bs + 1, bs):
                    items = [sym_train[j] for j in order[i : i + bs]]
                    yield torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items])
                epoch += 1

        self.symbol_batches = stream()

    def _build_resident_symbol_task(self, root: Path) -> None:
        """The symbol task of the resident path: crops rendered once (packed, or from symbol_sources) kept on
        the device and drawn there (`data.resident_symbols`); the validation crops as in `_build_symbol_task`."""
        from data.resident_symbols import ResidentSymbols
        from data.symbol_crops import SymbolCrops, crops_from_dataset
        from data.symbols import SymbolDataset

        cfg = self.cfg
        size, pen = self.model_cfg.symbol_size, self.model_cfg.symbol_pen
        val_recs: list[Any] = []
        if cfg.symbol_crops:
            train = SymbolCrops.load(cfg.symbol_crops).for_classes(self.classes)
        else:
            train_recs, val_recs = self._split_records(root, cfg.symbol_sources, cfg.symbol_val_source)
            train = crops_from_dataset(SymbolDataset(train_recs, self.classes, size, None, cfg.seed, pen))
        if cfg.symbol_val_crops:
            val = SymbolCrops.load(cfg.symbol_val_crops).for_classes(self.classes)
            self.val_symbols = [
                (torch.from_numpy(val.images[i]).float() / 255.0, int(val.labels[i]))
                for i in spread(len(val), cfg.limit_val_symbols)
            ]
        elif val_recs:
            sym_val = SymbolDataset(val_recs, self.classes, size, None, cfg.seed, pen)
            self.val_symbols = [sym_val[i] for i in spread(len(sym_val), cfg.limit_val_symbols)]
        self.resident_symbols = ResidentSymbols(train, self.device)
        self.symbol_batches = self.resident_symbols.batches(
            cfg.symbol_batch_size, cfg.seed * 7919 + self.dist.rank
        )
        if self.dist.main:
            print(
                f"symbol task (resident): {len(train)} training crops on {self.device}, "
                f"{len(self.val_symbols)} validation crops",
                flush=True,
            )

    def _split_records(self, root: Path, train_sources: list[str], val_source: str) -> tuple[list, list]:
        """(training records, validation records): the held-out split's names leave the training
        sources and make up the validation set (`holdout` ""  validates on all of `val_source`)."""
        from data.splits import load_heldout, load_split, partition

        by_name = read_sources(root, [*train_sources, val_source])  # val_source is often a train source
        train = [r for name in train_sources for r in by_name[name]]
        val = list(by_name[val_source])
        if not self.cfg.holdout:
            if val_source in train_sources and self.dist.main:
                print(
                    f"warning: val_source {val_source!r} is also trained on and no holdout split is set: "
                    "validation measures the training data (fine for an overfit test, not for selection)",
                    flush=True,
                )
            return train, val
        train, _ = partition(train, load_heldout(self.cfg.holdout))  # the split's writers leave training
        _, val = partition(val, load_split(self.cfg.holdout))  # its formula-new expressions validate
        if not val:
            raise ValueError(
                f"no record of {val_source!r} under {root} is in the holdout split {self.cfg.holdout!r}"
            )
        if self.dist.main:
            print(
                f"holdout {self.cfg.holdout!r}: {len(train)} training, {len(val)} validation records",
                flush=True,
            )
        return train, val

    def batches(self) -> Iterator[Any]:
        """Endless batches of the configured data path; tracks (epoch, consumed) for exact resume."""
        return self.resident_batches() if self.resident is not None else self.loader_batches()

    def loader_batches(self) -> Iterator[Any]:
        """Endless batches of the DataLoader (PIL augmentation in its workers)."""
        while True:
            self.sampler.load_state_dict({"epoch": self.pos.epoch, "position": self.pos.consumed})
            if self.sampler.epoch != self.pos.epoch:  # position was at the end of the epoch
                self.pos.epoch, self.pos.consumed = self.sampler.epoch, 0
            if hasattr(self.train_set, "set_epoch"):
                self.train_set.set_epoch(self.pos.epoch)
            self.loader_generator.manual_seed(self.cfg.seed * 100_003 + self.pos.epoch)
            for batch in self.loader:
                self.pos.consumed += 1
                yield batch
            self.pos.epoch += 1
            self.pos.consumed = 0

    def resident_batches(self) -> Iterator[Any]:
        """Endless batches drawn on the device; the augmentation of batch k of an epoch is seeded by
        (seed, epoch, k), so a resumed run sees the same augmented batches."""
        every = max(1, self.cfg.synth_refresh_every)
        drawn = 0
        while True:
            plan = self.resident_sampler.plan(self.pos.epoch)
            while self.pos.consumed < len(plan):
                if self.stream is not None and drawn and drawn % every == 0:
                    self.refresh_synthetic(every * self.cfg.batch_size)
                drawn += 1
                bucket, index = plan[self.pos.consumed]
                if self.augment_gen is not None:
                    self.augment_gen.manual_seed(
                        (self.cfg.seed * 1_000_003 + self.pos.epoch) * 100_003 + self.pos.consumed
                    )
                self.pos.consumed += 1
                yield self.resident.batch(bucket, index, self.device_augment, self.augment_gen)
            self.pos.epoch += 1
            self.pos.consumed = 0
