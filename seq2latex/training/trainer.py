"""The training loop behind train.py: expression training and symbol pre-training.

Time-budgeted, resumable (atomic checkpoints with model, optimizer, scheduler, RNG and sampler
position), DDP-aware (torchrun; gloo on CPU, nccl on CUDA), bf16 autocast on CUDA. Two data paths:
a DataLoader with PIL augmentation per image, or the training set resident on the device
(`data.resident`, augmented batch-wise by `data.device_augment`). The step keeps its losses on the
device; they are read once per log row (`log_rows_every`). Writes to `out`:
    checkpoint.pt     training checkpoint (resume with --resume)
    best/             model directory of the best validation score (ExpRate, or symbol accuracy)
    log.csv           a row per `log_rows_every` steps (loss, sampling probability, lr, throughput,
                      validation)
    curves.png        the curves of log.csv
    train_config.json the effective configs
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from seq2latex import __version__
from seq2latex.checkpoint import (
    load_model_dir,
    load_training_checkpoint,
    save_model_dir,
    save_training_checkpoint,
)
from seq2latex.config import ModelConfig, TrainConfig, from_dict, to_dict
from seq2latex.ema import WeightEMA
from seq2latex.model import Seq2Latex
from seq2latex.sampling import sampling_probability
from seq2latex.training.datasource import Position, TrainingData
from seq2latex.training.environment import (
    RunOptions,
    lr_factor,
    rng_state,
    seed_everything,
    set_rng_state,
    setup_environment,
)
from seq2latex.training.graphs import GraphedStep, make_optimizer
from seq2latex.training.plotting import plot_curves
from seq2latex.training.validation import ValItem, greedy_validation, symbol_accuracy
from tokenizer import LatexTokenizer

CHECKPOINT_FILE = "checkpoint.pt"
BEST_DIR = "best"
BEST_RAW_DIR = "best_raw"  # with EMA on: the best of the raw weights too
VALIDATIONS_DIR = "validations"  # train.keep_validations: every validation's model, step_N
LOG_FILE = "log.csv"
PLOT_FILE = "curves.png"
CONFIG_FILE = "train_config.json"
SUMMARY_FILE = "summary.json"  # the run's throughput and data, written at its end (window studies read it)
SMOKE_EXIT_CODE = 3  # train.py's exit status when the smoke check stops a run
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
    "val_n",  # validation expressions decoded (fewer than the split when val_max_seconds ran out)
)


class SmokeCheckFailed(RuntimeError):
    """The run's throughput after `smoke_seconds` was far below `smoke_min_samples_per_s`."""


@dataclass
class TrainResult:
    step: int
    best_metric: float
    last_metric: float | None
    out: Path
    interrupted: bool


# ----------------------------------------------------------------------------- steps


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
        if train_cfg.grad_checkpointing:
            if not model_cfg.decoder.cross_coverage:
                raise ValueError("grad_checkpointing recomputes coverage refiners: needs cross_coverage")
            self.model.decoder.set_grad_checkpointing()
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
        cuda = self.device.type == "cuda"
        graphs = train_cfg.cuda_graphs and cuda
        if train_cfg.cuda_graphs and not cuda and self.dist.main:
            print("cuda_graphs: not on the CPU; the step runs as usual", flush=True)
        if graphs and (self.dist.enabled or self.symbols or train_cfg.symbol_weight > 0):
            raise ValueError("cuda_graphs trains expressions on one GPU (no DDP, no symbol stage or task)")
        self.optimizer = make_optimizer(
            [
                {"params": decay, "weight_decay": train_cfg.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            train_cfg.lr,
            self.device,
            graphs,
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
        self.pos = Position()  # epoch and batches consumed (self.epoch, self.consumed)
        self.best_key: tuple[float, float] = (-1.0, -1.0)  # (val metric, val <=2) of best/
        self.best_raw = -1.0
        self.last_metric: float | None = None
        self.ema = WeightEMA(self.model, train_cfg.ema_decay) if train_cfg.ema_decay > 0 else None
        self.graphed = (
            GraphedStep(
                self.model,
                self.step_module,
                self.optimizer,
                self.ema,
                train_cfg.aux_count_weight,
                train_cfg.label_smoothing,
                train_cfg.grad_clip,
                self.device,
            )
            if graphs
            else None
        )
        self.data: TrainingData | None = None  # built by run() (or build_data())
        if train_cfg.compile:  # the encoder blocks only: the decoder's layers also decode step by step
            for blk in self.model.encoder.vit.blocks:  # (a growing cache: a new shape every token)
                blk.compile()
        seed_everything(train_cfg.seed + 1000 * self.dist.rank)

    @property
    def epoch(self) -> int:
        return self.pos.epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self.pos.epoch = value

    @property
    def consumed(self) -> int:
        return self.pos.consumed

    @consumed.setter
    def consumed(self, value: int) -> None:
        self.pos.consumed = value

    def build_data(self) -> TrainingData:
        """Read, split and (on the resident path) pack the data; once per Trainer."""
        if self.data is None:
            self.data = TrainingData(
                self.cfg, self.model_cfg, self.tokenizer, self.classes, Path(self.opts.data),
                self.device, self.dist, self.pos,
            )  # fmt: skip
        return self.data

    def _batches(self) -> Iterator[Any]:
        return self.build_data().batches()

    @property
    def val_items(self) -> list[ValItem]:
        return self.build_data().val_items

    @property
    def val_symbols(self) -> list[tuple[torch.Tensor, int]]:
        return self.build_data().val_symbols

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
        copied, skipped = 0, []
        for k, v in src.state_dict().items():
            wanted = self.opts.init_scope == "all" or k.startswith(prefixes)
            if wanted and k in own and own[k].shape == v.shape:
                own[k] = v.to(own[k].dtype)
                copied += 1
            elif wanted:
                skipped.append(k)
        self.model.load_state_dict(own)
        if self.dist.main:
            what = (
                "matching tensors" if self.opts.init_scope == "all" else "tensors (encoder and symbol heads)"
            )
            print(f"initialised {copied} {what} from {path}", flush=True)
            if skipped:  # another architecture than the config's: most likely the wrong --config
                print(
                    f"warning: {len(skipped)} tensors of {path} have no match of that name and shape in "
                    f"this config's model and were not copied (e.g. {skipped[0]})",
                    file=sys.stderr,
                    flush=True,
                )

    def _checkpoint_state(self) -> dict[str, Any] | None:
        rng = rng_state()
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
            set_rng_state(rngs[self.dist.rank])

    # ------------------------------------------------------------------ validation

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Validation metrics in percent (`metric`: ExpRate or symbol accuracy; expressions also give
        le1, le2, loss, n); rank 0 only. With EMA on, these are of the EMA weights, plus `raw` (the raw
        weights' ExpRate) unless `val_raw` is off."""
        self.model.eval()
        try:
            if self.ema is None:
                return self._validate_current()
            raw = self._validate_current(exprate_only=True) if self.cfg.val_raw else None
            with self.ema.swapped(self.model):
                out = self._validate_current()
            if raw is not None:
                out["raw"] = raw["metric"]
            return out
        finally:
            self._train_mode()

    def _train_mode(self) -> None:
        """Training mode, except a frozen encoder: it stays in eval mode (no dropout), as at inference."""
        self.model.train()
        if self.cfg.freeze_encoder:
            self.model.encoder.eval()

    def _validate_current(self, exprate_only: bool = False) -> dict[str, float]:
        """Metrics of the weights the model holds now; `exprate_only` skips the loss and the symbol
        head (what the raw-weight pass beside the EMA needs)."""
        if self.symbols:
            return {"metric": symbol_accuracy(self.model, self.val_symbols, self.device, self._autocast)}
        out = greedy_validation(
            self.model,
            self.val_items,
            self.device,
            self.tokenizer.id_to_token,
            self.tokenizer.pad_id,
            autocast=self._autocast,
            batch_size=self.cfg.val_batch,
            with_loss=not exprate_only,
            max_seconds=self.cfg.val_max_seconds,
        )
        metrics = {k: float(out[k]) for k in ("metric", "le1", "le2", "n")}
        if exprate_only:
            return {"metric": metrics["metric"]}
        metrics["loss"] = float(out["loss"])
        if self.val_symbols:
            metrics["sym"] = symbol_accuracy(self.model, self.val_symbols, self.device, self._autocast)
        return metrics

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

    def write_summary(self, samples: int, train_seconds: float) -> dict[str, Any]:
        """OUT/summary.json: this invocation's samples and training seconds (validation excluded), the
        GPU memory peak, and what the run trained on (real records, synthetic expressions placed)."""
        data = self.build_data()
        synth = data.synth.summary()
        real = len(data.resident) - data.resident.replaceable() if data.resident is not None else None
        summary = {
            "step": self.step,
            "samples": samples * self.dist.world,
            "train_seconds": round(train_seconds, 1),
            "samples_per_s": round(samples * self.dist.world / max(train_seconds, 1e-9), 1),
            "device": str(self.device),
            "peak_memory_gib": round(torch.cuda.max_memory_allocated(self.device) / 2**30, 2)
            if self.device.type == "cuda"
            else None,
            "best_val": self.best_metric,
            "last_val": self.last_metric,
            "parameters": self.n_params,
            "real_expressions": real,
            "synthetic": synth,
            "distinct_expressions": None if real is None else real + synth["placed"],
        }
        (self.out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
        return summary

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

    def train_step(
        self, batch: Any, sampling_prob: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, torch.Tensor | None]:
        """One optimizer step -> (loss, ce, count loss, samples, symbol ce or None without a symbol
        batch). The losses stay on the device (detached): reading them is the caller's host sync."""
        cfg = self.cfg
        sym_loss = None
        if self.graphed is not None:
            b = batch.to(self.device, non_blocking=True)
            ema_weight = 1.0 - self.ema.decay_at(self.step) if self.ema is not None else 0.0
            loss, ce, aux = self.graphed(b, sampling_prob, ema_weight)
            self.scheduler.step()
            return loss, ce, aux, len(b), None
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
                symbol_batches = self.build_data().symbol_batches
                if symbol_batches is not None and self.step % max(1, cfg.symbol_every) == 0:
                    sym_x, sym_y = next(symbol_batches)
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
                    sym_loss = sym.detach()
                n = len(b)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip, foreach=True)
        self.optimizer.step()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model, self.step)
        return loss.detach(), ce.detach(), aux.detach(), n, sym_loss

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _smoke_check(self, samples: int, seconds: float) -> None:
        """Print the run's throughput and memory once; below the configured floor, time a few data
        batches and model steps apart (the diagnosis) and stop with `SmokeCheckFailed`."""
        cfg = self.cfg
        rate = samples * self.dist.world / max(seconds, 1e-9)
        mem = ""
        if self.device.type == "cuda":
            mem = (
                f", memory {torch.cuda.max_memory_allocated(self.device) / 2**30:.1f} GiB peak of "
                f"{torch.cuda.get_device_properties(self.device).total_memory / 2**30:.0f} GiB"
            )
        print(
            f"smoke: {rate:,.0f} samples/s over {seconds:.1f} s after warm-up (batch {cfg.batch_size}, "
            f"step {self.step}){mem}; floor {cfg.smoke_min_samples_per_s:,.0f}",
            flush=True,
        )
        if not cfg.smoke_min_samples_per_s or rate >= cfg.smoke_min_samples_per_s:
            return
        batches = self._batches()
        self._sync()
        t0 = time.perf_counter()
        held = [next(batches) for _ in range(5)]
        self._sync()
        data_ms = 1000 * (time.perf_counter() - t0) / 5
        t0 = time.perf_counter()
        for batch in held:
            self.train_step(batch, 0.0)
        self._sync()
        step_ms = 1000 * (time.perf_counter() - t0) / 5
        bound = "the data path" if data_ms > 0.5 * step_ms else "the model step (kernel launches or compute)"
        raise SmokeCheckFailed(
            f"{rate:,.0f} samples/s is below the floor {cfg.smoke_min_samples_per_s:,.0f}: a batch takes "
            f"{data_ms:.1f} ms to draw and augment and {step_ms:.1f} ms to train on "
            f"(data path {cfg.data_path}); bound by {bound}. Try: data_path resident, a larger batch, "
            "compile: true, or fewer validations."
        )

    def run(self) -> TrainResult:
        cfg, opts, main = self.cfg, self.opts, self.dist.main
        self.out.mkdir(parents=True, exist_ok=True)
        self.build_data()
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
        every = max(1, cfg.log_rows_every)
        # device-side sums of the losses since the last row: loss, ce, aux, symbol ce, symbol steps
        sums = torch.zeros(5, device=self.device)
        row_samples, row_t0 = 0, time.monotonic()
        smoke_due = cfg.smoke_seconds > 0 and main
        smoke_t0: float | None = None
        smoke_samples = 0
        samples, val_s = 0, 0.0  # this invocation's trained samples and validation seconds
        try:
            while self.step < cfg.max_steps:
                c0 = time.process_time()
                p = 0.0 if self.symbols else sampling_probability(cfg.sampling, self.step)
                lr = self.scheduler.get_last_lr()[0]
                loss, ce, aux, n, sym_loss = self.train_step(next(batches), p)
                sums[:3] += torch.stack([loss.float(), ce.float(), aux.float()])
                if sym_loss is not None:
                    sums[3] += sym_loss.float()
                    sums[4] += 1
                row_samples += n
                samples += n
                self.cpu_s += time.process_time() - c0
                self.step += 1
                now = time.monotonic()
                if smoke_due:  # the first steps (start-up, compilation) do not count
                    if smoke_t0 is None and self.step >= 3:
                        self._sync()
                        smoke_t0, smoke_samples = time.monotonic(), 0
                    elif smoke_t0 is not None:
                        smoke_samples += n
                        if now - smoke_t0 >= cfg.smoke_seconds:
                            self._sync()
                            smoke_due = False
                            self._smoke_check(smoke_samples, time.monotonic() - smoke_t0)
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
                validating = (cfg.val_every and self.step % cfg.val_every == 0) or final or stop or cpu_due
                if validating:
                    if self.dist.enabled:
                        dist.barrier()
                    if main:
                        v0 = time.monotonic()
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
                        val_s += time.monotonic() - v0
                    if self.dist.enabled:
                        stop = self._flags(stop, False)[0]
                row_due = self.step % every == 0 or validating or final or stop or interrupt
                if row_due:
                    steps_in_row = (self.step - 1) % every + 1
                    loss_m, ce_m, aux_m, sym_sum, sym_n = (sums / steps_in_row).tolist()  # the host sync
                    sym_n *= steps_in_row
                    sums.zero_()
                    if not math.isfinite(loss_m):
                        raise FloatingPointError(f"non-finite loss in the steps up to {self.step}")
                    row_now = time.monotonic()
                    rate = row_samples * self.dist.world / max(row_now - row_t0, 1e-9)
                    row_samples, row_t0 = 0, row_now
                    if main:
                        writer.writerow(
                            {
                                "step": self.step,
                                "epoch": self.epoch,
                                "loss": f"{loss_m:.5f}",
                                "ce": f"{ce_m:.5f}",
                                "aux": f"{aux_m:.5f}",
                                "sampling_prob": f"{p:.4f}",
                                "lr": f"{lr:.3e}",
                                "samples_per_s": f"{rate:.2f}",
                                "elapsed_s": f"{now - t_start:.1f}",
                                "cpu_min": f"{self.cpu_s / 60.0:.3f}",
                                "sym_loss": "" if sym_n < 0.5 else f"{sym_sum * steps_in_row / sym_n:.5f}",
                                "val": "" if val is None else f"{val:.3f}",
                                **{
                                    col: (f"{metrics[k]:.4f}" if col != "val_n" else f"{metrics[k]:.0f}")
                                    if k in metrics
                                    else ""
                                    for col, k in (
                                        ("val_le1", "le1"),
                                        ("val_le2", "le2"),
                                        ("val_loss", "loss"),
                                        ("val_raw", "raw"),
                                        ("val_sym", "sym"),
                                        ("val_n", "n"),
                                    )
                                },
                            }
                        )
                        if (self.step // every) % cfg.log_every == 0 or val is not None:
                            log_file.flush()
                        if bar is not None:
                            bar.update(steps_in_row)
                            bar.set_postfix(loss=f"{loss_m:.3f}", p=f"{p:.2f}", val=self.last_metric)
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
            if self.data is not None:
                self.data.close()
        if main and not interrupted:
            plot_curves(self.out / LOG_FILE, self.out / PLOT_FILE)
            self.write_summary(samples, time.monotonic() - t_start - val_s)
        if self.dist.enabled:
            dist.barrier()
        return TrainResult(self.step, self.best_metric, self.last_metric, self.out, interrupted)
