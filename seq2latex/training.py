"""The training loop behind train.py: expression training and symbol pre-training.

Time-budgeted, resumable (atomic checkpoints with model, optimizer, scheduler, RNG and sampler
position), DDP-aware (torchrun; gloo on CPU, nccl on CUDA), bf16 autocast on CUDA. Writes to `out`:
    checkpoint.pt     training checkpoint (resume with --resume)
    best/             model directory of the best validation score (ExpRate, or symbol accuracy)
    log.csv           one row per step (loss, sampling probability, lr, throughput, validation)
    curves.png        the curves of log.csv
    train_config.json the effective configs
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from data.batch import pad_images
from seq2latex import __version__
from seq2latex.checkpoint import (
    load_model_dir,
    load_training_checkpoint,
    save_model_dir,
    save_training_checkpoint,
)
from seq2latex.config import ModelConfig, TrainConfig, from_dict, preprocess_config, to_dict
from seq2latex.decoding import greedy_decode
from seq2latex.ema import WeightEMA
from seq2latex.evaluation import score
from seq2latex.model import Seq2Latex
from seq2latex.sampling import sampling_probability
from tokenizer import LatexTokenizer

CHECKPOINT_FILE = "checkpoint.pt"
BEST_DIR = "best"
BEST_RAW_DIR = "best_raw"  # with EMA on: the best of the raw weights too
VALIDATIONS_DIR = "validations"  # train.keep_validations: every validation's model, step_N
LOG_FILE = "log.csv"
PLOT_FILE = "curves.png"
CONFIG_FILE = "train_config.json"
VAL_BATCH = 32
LOG_COLUMNS = (
    "step",
    "epoch",
    "loss",
    "ce",
    "aux",
    "sampling_prob",
    "lr",
    "samples_per_s",
    "elapsed_s",
    "cpu_min",  # training CPU time of this run so far (the budget of --max-cpu-minutes)
    "val",  # ExpRate (expressions) or symbol accuracy (symbols), of the EMA weights when EMA is on
    "val_le1",
    "val_le2",
    "val_loss",  # teacher-forced cross-entropy on the validation split
    "val_raw",  # ExpRate of the raw (non-EMA) weights, when EMA is on
    "sym_loss",  # multi-task: the symbol batch's cross-entropy, on the steps that have one
    "val_sym",  # multi-task: symbol-head accuracy on the held-out writers' traceGroup crops
)


@dataclass
class ValItem:
    image: torch.Tensor  # (1, H, W)
    tokens: torch.Tensor  # (T,) <sos> ... <eos>
    reference: list[str]


@dataclass
class RunOptions:
    """Per-invocation settings of train.py (not part of the saved training config)."""

    data: Path
    out: Path
    device: str = "auto"  # auto | cpu | cuda
    resume: bool = False
    init: Path | None = None  # model directory whose weights initialise this run
    init_scope: str = "encoder"  # encoder: encoder + symbol heads; all: every tensor of matching shape
    stop_at_step: int = 0  # stop as if killed after this step (checkpoint written; for tests)
    progress: bool = True
    threads: int = 0  # CPU threads per process (0 = cores / processes)


@dataclass
class TrainResult:
    step: int
    best_metric: float
    last_metric: float | None
    out: Path
    interrupted: bool


# ----------------------------------------------------------------------------- environment


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_environment(opts: RunOptions) -> tuple[DistInfo, torch.device]:
    """Init DDP from torchrun's env vars (if any), pick the device and CPU threads."""
    info = DistInfo(
        rank=int(os.environ.get("RANK", 0)),
        world=int(os.environ.get("WORLD_SIZE", 1)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )
    want = opts.device
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda requested but CUDA is not available")
    device = torch.device("cuda", info.local_rank) if want == "cuda" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        threads = opts.threads or max(1, (os.cpu_count() or 1) // info.world)
        torch.set_num_threads(threads)
    if info.enabled and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return info, device


def lr_factor(
    step: int,
    cfg: TrainConfig,
    cpu_minutes: Callable[[], float] | None = None,
    wall_minutes: Callable[[], float] | None = None,
) -> float:
    """Linear warm-up then cosine decay to min_lr_ratio at max_steps, or at schedule_cpu_minutes of
    training CPU time (`cpu_minutes()`), or at schedule_minutes of this invocation's wall-clock time
    (`wall_minutes()`): the schedules of time-budgeted runs."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = None
    if cfg.schedule_cpu_minutes > 0 and cpu_minutes is not None:
        progress = cpu_minutes() / cfg.schedule_cpu_minutes
    elif cfg.schedule_minutes > 0 and wall_minutes is not None:
        progress = wall_minutes() / cfg.schedule_minutes
    if progress is not None:
        progress = min(1.0, progress)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------- data


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


def _preload(records: list[Any]) -> None:
    """Decode the images of offline records once (workers then share them instead of re-reading
    files or zip members every epoch)."""
    for r in records:
        if r.strokes is None and r._image is None:
            image = r.image
            if image is not None:
                image.load()
                r._image = image


class _ExpressionStep(nn.Module):
    """Wraps the model so DDP sees one forward that returns the losses."""

    def __init__(self, model: Seq2Latex) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        images: torch.Tensor,
        tokens: torch.Tensor,
        pixel_mask: torch.Tensor,
        counts: torch.Tensor | None,
        sampling_prob: float,
        aux_weight: float,
        label_smoothing: float,
        symbol_images: torch.Tensor | None = None,
        symbol_labels: torch.Tensor | None = None,
        symbol_weight: float = 0.0,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (total loss, expression ce, count loss, symbol ce); the symbol batch (multi-task) goes
        through the same encoder and the symbol head."""
        out = self.model.compute_losses(
            images, tokens, pixel_mask, sampling_prob, counts, aux_weight, label_smoothing
        )
        loss, sym = out.loss, out.ce.new_zeros(())
        if symbol_images is not None and symbol_labels is not None and symbol_weight > 0:
            logits = self.model.classify_symbols(symbol_images)  # (S, C)
            sym = F.cross_entropy(logits.float(), symbol_labels, label_smoothing=label_smoothing)
            loss = loss + symbol_weight * sym
        return loss, out.ce, out.count, sym


class _SymbolStep(nn.Module):
    def __init__(self, model: Seq2Latex) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, labels: torch.Tensor, label_smoothing: float) -> torch.Tensor:
        logits = self.model.classify_symbols(images)  # (B, C)
        return F.cross_entropy(logits.float(), labels, label_smoothing=label_smoothing)


# ----------------------------------------------------------------------------- trainer


class Trainer:
    def __init__(self, model_cfg: ModelConfig, train_cfg: TrainConfig, opts: RunOptions) -> None:
        self.opts = opts
        self.out = Path(opts.out)
        self.dist, self.device = setup_environment(opts)
        self.ckpt_path = self.out / CHECKPOINT_FILE
        self.resume_state: dict[str, Any] | None = None
        if opts.resume and self.ckpt_path.is_file():
            self.resume_state = load_training_checkpoint(self.ckpt_path)
            model_cfg = from_dict(ModelConfig, self.resume_state["model_config"])
        elif opts.resume and self.dist.main:
            print(f"--resume: no checkpoint at {self.ckpt_path}; starting from scratch", flush=True)
        self.tokenizer = LatexTokenizer.load()
        from data.symbols import CROHME_SYMBOL_CLASSES

        self.classes = list(CROHME_SYMBOL_CLASSES)
        model_cfg = replace(
            model_cfg,
            vocab_size=self.tokenizer.vocab_size,
            pad_id=self.tokenizer.pad_id,
            sos_id=self.tokenizer.sos_id,
            eos_id=self.tokenizer.eos_id,
            num_symbol_classes=len(self.classes),
        )
        self.model_cfg = model_cfg
        self.cfg = train_cfg
        self.symbols = train_cfg.stage == "symbols"
        seed_everything(train_cfg.seed)  # same initial weights on every rank
        self.model = Seq2Latex(model_cfg).to(self.device)
        if opts.init is not None and self.resume_state is None:
            self._init_from(opts.init)
        self.n_params = sum(p.numel() for p in self.model.parameters())
        if train_cfg.freeze_encoder:
            self.model.encoder.requires_grad_(False)  # no gradients, no optimizer state, no updates
        step_module: nn.Module = _SymbolStep(self.model) if self.symbols else _ExpressionStep(self.model)
        if self.dist.enabled:
            step_module = nn.parallel.DistributedDataParallel(
                step_module,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=True,
            )
        self.step_module = step_module
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            if p.requires_grad:
                (no_decay if p.ndim < 2 or "embed" in name else decay).append(p)
        self.optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": train_cfg.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=train_cfg.lr,
            betas=(0.9, 0.98),
        )
        self.t_start: float | None = None  # wall clock of this invocation's training loop
        self.cpu_s = 0.0  # training CPU seconds so far (all runs of this output folder); drives the schedule
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            partial(
                lr_factor,
                cfg=train_cfg,
                cpu_minutes=lambda: self.cpu_s / 60.0,
                wall_minutes=lambda: (time.monotonic() - self.t_start) / 60.0 if self.t_start else 0.0,
            ),
        )
        self.step = 0
        self.epoch = 0
        self.consumed = 0
        self.best_key: tuple[float, float] = (-1.0, -1.0)  # (val metric, val <=2) of best/
        self.best_raw = -1.0
        self.last_metric: float | None = None
        self.ema = WeightEMA(self.model, train_cfg.ema_decay) if train_cfg.ema_decay > 0 else None
        self.symbol_batches: Iterator[tuple[torch.Tensor, torch.Tensor]] | None = None  # multi-task
        self.val_symbols: list[tuple[torch.Tensor, int]] = []
        seed_everything(train_cfg.seed + 1000 * self.dist.rank)

    @property
    def best_metric(self) -> float:
        """The validation metric of the model in best/ (-1 before the first validation)."""
        return self.best_key[0]

    # ------------------------------------------------------------------ setup helpers

    def _init_from(self, path: Path) -> None:
        """Copy weights from a model directory: the encoder and symbol heads (after symbol
        pre-training), or with init_scope="all" every tensor whose name and shape match
        (fine-tuning / continuing a shipped model under a new schedule)."""
        if self.opts.init_scope not in ("encoder", "all"):
            raise ValueError(f"init_scope must be 'encoder' or 'all', not {self.opts.init_scope!r}")
        src, _, _, _ = load_model_dir(path, "cpu")
        own = self.model.state_dict()
        prefixes = ("encoder.", "symbol_head.", "count_head.")
        copied = 0
        for k, v in src.state_dict().items():
            wanted = self.opts.init_scope == "all" or k.startswith(prefixes)
            if wanted and k in own and own[k].shape == v.shape:
                own[k] = v.to(own[k].dtype)
                copied += 1
        self.model.load_state_dict(own)
        if self.dist.main:
            what = (
                "matching tensors" if self.opts.init_scope == "all" else "tensors (encoder and symbol heads)"
            )
            print(f"initialised {copied} {what} from {path}", flush=True)

    def _build_data(self) -> None:
        from data.augment import AugmentConfig
        from data.datasets import BucketBatchSampler, ExpressionDataset, collate

        cfg, root = self.cfg, Path(self.opts.data)
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
            n_val = min(len(val_set), cfg.limit_val) if cfg.limit_val else len(val_set)
            stride = max(1, len(val_set) // max(n_val, 1))  # spread over the split, deterministic
            self.val_symbols = [val_set[i] for i in range(0, len(val_set), stride)][:n_val]
        else:
            pre = preprocess_config(self.model_cfg)
            records, val_records = self._split_records(root, cfg.train_sources, cfg.val_source)
            records = records[: cfg.limit_train] if cfg.limit_train else records
            if cfg.preload_images:
                _preload(records)
            max_tokens = min(cfg.max_tokens, self.model_cfg.decoder.max_len - 2)  # room for <sos>/<eos>
            records = [r for r in records if 0 < len(r.latex.split()) <= max_tokens]
            self.train_set = ExpressionDataset(
                records, self.tokenizer, pre, augment_cfg, symbol_classes=self.classes, seed=cfg.seed
            )
            widths = self.train_set.sort_keys()
            if cfg.symbol_weight > 0:
                self._build_symbol_task(root, augment_cfg)
            collate_fn = partial(collate, pad_id=self.tokenizer.pad_id)
            with_epoch = True
            if cfg.val_max_tokens:
                val_records = [r for r in val_records if len(r.latex.split()) <= cfg.val_max_tokens]
            if cfg.limit_val:
                val_records = val_records[: cfg.limit_val]
            val_set = ExpressionDataset(val_records, self.tokenizer, pre, None, seed=cfg.seed)
            self.val_items = []
            for i, r in enumerate(val_records):
                item = val_set[i]
                self.val_items.append(ValItem(item.image, item.tokens, r.latex.split()))
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
        self.loader = DataLoader(
            self.train_set,
            generator=self.loader_generator,
            batch_sampler=self.sampler,
            collate_fn=collate_fn,
            num_workers=cfg.num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=cfg.num_workers > 0,  # batches carry their epoch; no restart per epoch
            prefetch_factor=4 if cfg.num_workers > 0 else None,
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
        n_val = min(len(sym_val), cfg.limit_val_symbols) if cfg.limit_val_symbols else len(sym_val)
        stride = max(1, len(sym_val) // max(n_val, 1))  # spread over the split, deterministic
        self.val_symbols = [sym_val[i] for i in range(0, len(sym_val), stride)][:n_val]
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

    def _batches(self) -> Iterator[Any]:
        """Endless batches; tracks (epoch, consumed) for exact resume."""
        while True:
            self.sampler.load_state_dict({"epoch": self.epoch, "position": self.consumed})
            if self.sampler.epoch != self.epoch:  # position was at the end of the epoch
                self.epoch, self.consumed = self.sampler.epoch, 0
            if hasattr(self.train_set, "set_epoch"):
                self.train_set.set_epoch(self.epoch)
            self.loader_generator.manual_seed(self.cfg.seed * 100_003 + self.epoch)
            for batch in self.loader:
                self.consumed += 1
                yield batch
            self.epoch += 1
            self.consumed = 0

    # ------------------------------------------------------------------ checkpoints

    def _checkpoint_state(self) -> dict[str, Any] | None:
        rng = _rng_state()
        if self.dist.enabled:
            gathered: list[Any] = [None] * self.dist.world
            dist.all_gather_object(gathered, rng)
        else:
            gathered = [rng]
        if not self.dist.main:
            return None
        return {
            "version": __version__,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "consumed": self.consumed,
            "sampler": {"epoch": self.epoch, "position": self.consumed},
            "rng": gathered,
            "best_metric": self.best_metric,
            "best_key": list(self.best_key),
            "best_raw": self.best_raw,
            "last_metric": self.last_metric,
            "cpu_s": self.cpu_s,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "model_config": to_dict(self.model_cfg),
            "train_config": to_dict(self.cfg),
        }

    def save_checkpoint(self) -> None:
        state = self._checkpoint_state()
        if state is not None:
            save_training_checkpoint(self.ckpt_path, state)

    def _restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])
        self.epoch = int(state["epoch"])
        self.consumed = int(state["consumed"])
        self.best_key = tuple(state.get("best_key") or (float(state["best_metric"]), -1.0))  # type: ignore[assignment]
        self.last_metric = state.get("last_metric")
        self.cpu_s = float(state.get("cpu_s", 0.0))
        self.best_raw = float(state.get("best_raw", -1.0))
        if self.ema is not None:
            if state.get("ema") is not None:
                self.ema.load_state_dict(state["ema"])
            else:
                self.ema = WeightEMA(self.model, self.cfg.ema_decay)
        rngs = state["rng"]
        if self.dist.rank < len(rngs):
            _set_rng_state(rngs[self.dist.rank])

    # ------------------------------------------------------------------ validation

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Validation metrics in percent (`metric`: ExpRate or symbol accuracy; expressions also give
        le1, le2, loss); rank 0 only. With EMA on, these are of the EMA weights, plus `raw`."""
        self.model.eval()
        try:
            if self.ema is None:
                return self._validate_current()
            raw = self._validate_current(exprate_only=True)
            with self.ema.swapped(self.model):
                out = self._validate_current()
            out["raw"] = raw["metric"]
            return out
        finally:
            self._train_mode()

    def _train_mode(self) -> None:
        """Training mode, except a frozen encoder: it stays in eval mode (no dropout), as at inference."""
        self.model.train()
        if self.cfg.freeze_encoder:
            self.model.encoder.eval()

    def _symbol_accuracy(self) -> float:
        correct = 0
        for i in range(0, len(self.val_symbols), VAL_BATCH):
            chunk = self.val_symbols[i : i + VAL_BATCH]
            x = torch.stack([c[0] for c in chunk]).to(self.device)  # (B, 1, S, S)
            y = torch.tensor([c[1] for c in chunk], device=self.device)
            with self._autocast():
                pred = self.model.classify_symbols(x).argmax(-1)
            correct += int((pred == y).sum())
        return 100.0 * correct / max(1, len(self.val_symbols))

    def _validate_current(self, exprate_only: bool = False) -> dict[str, float]:
        """Metrics of the weights the model holds now; `exprate_only` skips the loss and the symbol
        head (what the raw-weight pass beside the EMA needs)."""
        if self.symbols:
            return {"metric": self._symbol_accuracy()}
        items = self.val_items
        order = sorted(range(len(items)), key=lambda i: items[i].image.shape[-1])
        refs, preds = [], []
        loss_sum, loss_n = 0.0, 0
        for i in range(0, len(order), VAL_BATCH):
            idx = order[i : i + VAL_BATCH]
            images, mask = pad_images([items[j].image for j in idx])
            images, mask = images.to(self.device), mask.to(self.device)
            tokens = torch.nn.utils.rnn.pad_sequence(
                [items[j].tokens for j in idx], batch_first=True, padding_value=self.tokenizer.pad_id
            ).to(self.device)  # (B, T)
            with self._autocast():
                enc = self.model.forward_features(images, mask)  # once, for the loss and the decoding
                results = greedy_decode(self.model, images, mask, features=enc)
                if not exprate_only:  # left-to-right teacher-forced loss (no R2L rows, no sampling)
                    logits = self.model.decoder(enc.features, enc.mask, tokens[:, :-1]).float()  # (B, T-1, V)
            if not exprate_only:
                loss_sum += float(
                    F.cross_entropy(
                        logits.reshape(-1, logits.shape[-1]),  # (B*(T-1), V)
                        tokens[:, 1:].reshape(-1),  # (B*(T-1),)
                        ignore_index=self.tokenizer.pad_id,
                        reduction="sum",
                    )
                )
                loss_n += int((tokens[:, 1:] != self.tokenizer.pad_id).sum())
            for j, r in zip(idx, results, strict=True):
                refs.append(items[j].reference)
                preds.append([self.tokenizer.id_to_token(t) for t in r.token_ids])
        m = score(refs, preds)
        if exprate_only:
            return {"metric": float(m["exprate"])}
        extra = {"sym": self._symbol_accuracy()} if self.val_symbols else {}
        return {
            **extra,
            "metric": float(m["exprate"]),
            "le1": m["le1"],
            "le2": m["le2"],
            "loss": loss_sum / max(1, loss_n),
        }

    def _autocast(self) -> torch.autocast:
        return torch.autocast(
            device_type=self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"
        )

    def _card(self, metrics: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "name": f"seq2latex-{self.model_cfg.decoder.kind}",
            "version": __version__,
            "stage": self.cfg.stage,
            "step": self.step,
            "parameters": self.n_params,
            "metrics": metrics,
            "train_cpu_minutes": round(self.cpu_s / 60.0, 2),
            **extra,
        }

    def export_best(self, metrics: dict[str, float]) -> None:
        extra = {f"val_{k}": round(v, 4) for k, v in metrics.items() if k != "metric"}
        card = self._card(
            {
                ("val_symbol_accuracy" if self.symbols else "val_exprate"): round(metrics["metric"], 3),
                **extra,
                "val_source": self.cfg.symbol_val_source if self.symbols else self.cfg.val_source,
                "val_split": self.cfg.holdout or None,
                "val_samples": len(self.val_symbols if self.symbols else self.val_items),
                "ema_decay": self.cfg.ema_decay or None,
            },
            training_data=self.cfg.symbol_sources if self.symbols else self.cfg.train_sources,
        )
        # with EMA the averaged weights are what is evaluated, so what is saved
        with self.ema.swapped(self.model) if self.ema is not None else contextlib.nullcontext():
            save_model_dir(self.out / BEST_DIR, self.model, self.tokenizer, self.classes, card)

    def export_validation(self, metrics: dict[str, float]) -> None:
        """`train.keep_validations`: this validation's model (EMA when on) as validations/step_N."""
        card = self._card(
            {f"val_{k}": round(v, 4) for k, v in metrics.items()}, ema_decay=self.cfg.ema_decay or None
        )
        with self.ema.swapped(self.model) if self.ema is not None else contextlib.nullcontext():
            out = self.out / VALIDATIONS_DIR / f"step_{self.step}"
            save_model_dir(out, self.model, self.tokenizer, self.classes, card)

    def export_best_raw(self, metrics: dict[str, float]) -> None:
        """With EMA on: the raw weights' own best (selected on `raw`), so one run measures both."""
        card = self._card(
            {"val_exprate": round(metrics["raw"], 3), "val_split": self.cfg.holdout or None},
            weights="raw (not the EMA)",
        )
        save_model_dir(self.out / BEST_RAW_DIR, self.model, self.tokenizer, self.classes, card)

    # ------------------------------------------------------------------ logging

    def _open_log(self) -> tuple[Any, Any]:
        path = self.out / LOG_FILE
        rows: list[dict[str, str]] = []
        if self.resume_state is not None and path.is_file():
            with path.open() as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= self.step]
        f = path.open("w", newline="")
        writer = csv.DictWriter(f, fieldnames=LOG_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return f, writer

    # ------------------------------------------------------------------ main loop

    def _flags(self, *flags: bool) -> tuple[bool, ...]:
        """Rank 0 decides (time and CPU budgets, checkpoint and validation intervals); everyone follows."""
        if not self.dist.enabled:
            return flags
        t = torch.tensor([float(f) for f in flags])
        dist.broadcast(t, src=0)
        return tuple(bool(x) for x in t)

    def train_step(self, batch: Any, sampling_prob: float) -> tuple[float, float, float, int, float | None]:
        """One optimizer step -> (loss, ce, count loss, samples, symbol ce or None without a symbol batch)."""
        cfg = self.cfg
        sym_loss = None
        with self._autocast():
            if self.symbols:
                images, labels = batch
                loss = self.step_module(
                    images.to(self.device, non_blocking=True),
                    labels.to(self.device, non_blocking=True),
                    cfg.label_smoothing,
                )
                ce, aux, n = loss, loss.new_zeros(()), images.shape[0]
            else:
                b = batch.to(self.device, non_blocking=True)
                sym_x = sym_y = None
                if self.symbol_batches is not None and self.step % max(1, cfg.symbol_every) == 0:
                    sym_x, sym_y = next(self.symbol_batches)
                    sym_x = sym_x.to(self.device, non_blocking=True)  # (S, 1, s, s)
                    sym_y = sym_y.to(self.device, non_blocking=True)  # (S,)
                loss, ce, aux, sym = self.step_module(
                    b.images,
                    b.tokens,
                    b.pixel_mask,
                    b.symbol_counts,
                    sampling_prob,
                    cfg.aux_count_weight,
                    cfg.label_smoothing,
                    sym_x,
                    sym_y,
                    cfg.symbol_weight,
                )
                if sym_x is not None:
                    sym_loss = float(sym.detach())
                n = len(b)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model, self.step)
        return float(loss.detach()), float(ce.detach()), float(aux.detach()), n, sym_loss

    def run(self) -> TrainResult:
        cfg, opts, main = self.cfg, self.opts, self.dist.main
        self.out.mkdir(parents=True, exist_ok=True)
        self._build_data()
        if self.resume_state is not None:
            self._restore(self.resume_state)
            if main:
                print(f"resumed from {self.ckpt_path} at step {self.step}", flush=True)
        if main:
            (self.out / CONFIG_FILE).write_text(
                json.dumps({"model": to_dict(self.model_cfg), "train": to_dict(cfg)}, indent=2) + "\n"
            )
        log_file, writer = self._open_log() if main else (None, None)
        bar = None
        if main and opts.progress:
            from tqdm import tqdm

            bar = tqdm(total=cfg.max_steps, initial=self.step, desc=cfg.stage, dynamic_ncols=True)
        t_start = self.t_start = time.monotonic()
        cpu_start = self.cpu_s  # this invocation's CPU budget counts from here
        cpu_val_every = 60.0 * cfg.val_every_cpu_minutes
        next_cpu_val = (
            (math.floor(self.cpu_s / cpu_val_every) + 1) * cpu_val_every if cpu_val_every else math.inf
        )
        last_ckpt = t_start
        interrupted = False
        self._train_mode()
        batches = self._batches()
        try:
            while self.step < cfg.max_steps:
                t0 = time.monotonic()
                c0 = time.process_time()
                p = 0.0 if self.symbols else sampling_probability(cfg.sampling, self.step)
                lr = self.scheduler.get_last_lr()[0]
                loss, ce, aux, n, sym_loss = self.train_step(next(batches), p)
                self.cpu_s += time.process_time() - c0
                if not math.isfinite(loss):
                    raise FloatingPointError(f"non-finite loss at step {self.step + 1}")
                self.step += 1
                now = time.monotonic()
                val: float | None = None
                metrics: dict[str, float] = {}
                final = self.step >= cfg.max_steps
                stop = bool(cfg.max_minutes) and (now - t_start) >= 60.0 * cfg.max_minutes
                stop = stop or (
                    bool(cfg.max_cpu_minutes) and self.cpu_s - cpu_start >= 60.0 * cfg.max_cpu_minutes
                )
                cpu_due = self.cpu_s >= next_cpu_val
                save = (now - last_ckpt) >= 60.0 * cfg.ckpt_minutes
                stop, save, cpu_due = self._flags(stop, save, cpu_due)  # each rank has its own clocks
                if cpu_due:
                    next_cpu_val = (math.floor(self.cpu_s / cpu_val_every) + 1) * cpu_val_every
                interrupt = bool(opts.stop_at_step) and self.step >= opts.stop_at_step and not final
                if (cfg.val_every and self.step % cfg.val_every == 0) or final or stop or cpu_due:
                    if self.dist.enabled:
                        dist.barrier()
                    if main:
                        metrics = self.validate()
                        val = metrics["metric"]
                        self.last_metric = val
                        key = (val, metrics.get("le2", 0.0))  # ExpRate, then <=2 (ties: the later model)
                        if key >= self.best_key:
                            self.best_key = key
                            self.export_best(metrics)
                        if cfg.keep_validations:
                            self.export_validation(metrics)
                        if "raw" in metrics and metrics["raw"] >= self.best_raw:
                            self.best_raw = metrics["raw"]
                            self.export_best_raw(metrics)
                        if cfg.target_metric and val >= cfg.target_metric:
                            stop = True
                    if self.dist.enabled:
                        stop = self._flags(stop, False)[0]
                if main:
                    writer.writerow(
                        {
                            "step": self.step,
                            "epoch": self.epoch,
                            "loss": f"{loss:.5f}",
                            "ce": f"{ce:.5f}",
                            "aux": f"{aux:.5f}",
                            "sampling_prob": f"{p:.4f}",
                            "lr": f"{lr:.3e}",
                            "samples_per_s": f"{n * self.dist.world / max(now - t0, 1e-9):.2f}",
                            "elapsed_s": f"{now - t_start:.1f}",
                            "cpu_min": f"{self.cpu_s / 60.0:.3f}",
                            "sym_loss": "" if sym_loss is None else f"{sym_loss:.5f}",
                            "val": "" if val is None else f"{val:.3f}",
                            **{
                                col: f"{metrics[k]:.4f}" if k in metrics else ""
                                for col, k in (
                                    ("val_le1", "le1"),
                                    ("val_le2", "le2"),
                                    ("val_loss", "loss"),
                                    ("val_raw", "raw"),
                                    ("val_sym", "sym"),
                                )
                            },
                        }
                    )
                    if self.step % cfg.log_every == 0 or val is not None:
                        log_file.flush()
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{loss:.3f}", p=f"{p:.2f}", val=self.last_metric)
                if save or stop or final or interrupt:
                    self.save_checkpoint()
                    last_ckpt = time.monotonic()
                if interrupt:
                    interrupted = True
                    break
                if stop:
                    break
        finally:
            if bar is not None:
                bar.close()
            if log_file is not None:
                log_file.close()
        if main and not interrupted:
            plot_curves(self.out / LOG_FILE, self.out / PLOT_FILE)
        if self.dist.enabled:
            dist.barrier()
        return TrainResult(self.step, self.best_metric, self.last_metric, self.out, interrupted)


def cleanup_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


# ----------------------------------------------------------------------------- plotting

PLOT_PANELS = (
    ("loss", "loss"),
    ("sampling_prob", "sampling probability"),
    ("lr", "learning rate"),
    ("val", "validation"),
)
PANEL_SIZE = (480, 260)
PLOT_MARGIN = 36


def plot_curves(log_path: Path, png_path: Path) -> None:
    """Draw log.csv as a 2 x 2 grid of line charts (PIL only)."""
    from PIL import Image, ImageDraw

    with Path(log_path).open() as f:
        rows = list(csv.DictReader(f))
    pw, ph = PANEL_SIZE
    img = Image.new("RGB", (2 * pw, 2 * ph), "white")
    draw = ImageDraw.Draw(img)
    for k, (col, title) in enumerate(PLOT_PANELS):
        ox, oy = (k % 2) * pw, (k // 2) * ph
        pts = [(float(r["step"]), float(r[col])) for r in rows if r.get(col) not in (None, "")]
        pts = [(x, y) for x, y in pts if math.isfinite(y)]
        x0, y0, x1, y1 = ox + PLOT_MARGIN, oy + 20, ox + pw - 10, oy + ph - PLOT_MARGIN
        draw.rectangle([x0, y0, x1, y1], outline="black")
        draw.text((ox + PLOT_MARGIN, oy + 4), title, fill="black")
        if not pts:
            continue
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        xmin, xmax = min(xs), max(xs)
        ymin, ymax = min(ys), max(ys)
        if ymax - ymin < 1e-12:
            ymin, ymax = ymin - 1.0, ymax + 1.0
        if xmax - xmin < 1e-12:
            xmax = xmin + 1.0

        sx, sy = (x1 - x0) / (xmax - xmin), (y1 - y0) / (ymax - ymin)
        line = [(x0 + (x - xmin) * sx, y1 - (y - ymin) * sy) for x, y in pts]
        if len(line) > 1:
            draw.line(line, fill="blue", width=1)
        for px, py in line if len(line) < 50 else []:
            draw.ellipse([px - 2, py - 2, px + 2, py + 2], fill="blue")
        draw.text((ox + 2, y0), f"{ymax:.3g}", fill="black")
        draw.text((ox + 2, y1 - 10), f"{ymin:.3g}", fill="black")
        draw.text((x0, y1 + 4), f"{xmin:.0f}", fill="black")
        draw.text((x1 - 40, y1 + 4), f"{xmax:.0f}", fill="black")
    img.save(png_path)
