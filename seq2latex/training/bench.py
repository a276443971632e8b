"""The real training step of a config on this machine, timed (the work of `seq2latex bench train`).

Builds the Trainer of train.py for the config (same data, augmentation and loss) and times both data
paths side by side: `loader` (DataLoader, PIL augmentation per image) and `resident` (the training set
on the device, augmented batch-wise there). For each: a few warm-up steps, then `--steps` steps with
the data drawn in the loop (what a training run sees) and again on batches drawn beforehand (the model
step alone). FLOPs per sample are counted once (torch's FlopCounterMode over the forward and backward of
the config's step on a few samples of every bucket, weighted by the buckets' sizes) and give the achieved TFLOP/s, on CUDA also against the H200's measured bf16 peak.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

WARMUP_STEPS = 3
H200_BF16_TFLOPS = 790.0  # bf16 matrix products measured on the lent H200 (the device tool's KINDS.md)
PATHS = ("loader", "resident")


def _time_path(trainer: Any, path: str, steps: int, p: float) -> dict[str, Any]:
    import torch

    data = trainer.build_data()
    batches = data.resident_batches() if path == "resident" else data.loader_batches()

    def sync() -> None:
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(WARMUP_STEPS):
        trainer.train_step(next(batches), p)
    sync()
    n_samples, t0, c0 = 0, time.perf_counter(), time.process_time()
    for _ in range(steps):
        n_samples += trainer.train_step(next(batches), p)[3]
    sync()
    with_data_s, with_data_cpu = time.perf_counter() - t0, time.process_time() - c0
    held = [next(batches) for _ in range(steps)]
    sync()
    n_held, t0 = 0, time.perf_counter()
    for batch in held:
        n_held += trainer.train_step(batch, p)[3]
    sync()
    compute_s = time.perf_counter() - t0
    syncs = None
    if trainer.device.type == "cuda":  # host synchronisations inside one step (drawing the batch included)
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                trainer.train_step(next(batches), p)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        syncs = sum("synchroniz" in str(w.message) for w in caught)
    return {
        "host_syncs_per_step": syncs,
        "samples_per_s": round(n_samples / with_data_s, 2),
        "ms_per_step": round(1000 * with_data_s / steps, 2),
        "cpu_s_per_wall_s": round(with_data_cpu / with_data_s, 2),
        "samples_per_s_no_data": round(n_held / compute_s, 2),
        "ms_per_step_no_data": round(1000 * compute_s / steps, 2),
        "data_ms_per_step": round(1000 * (with_data_s - compute_s) / steps, 2),
    }


def flops_per_sample(trainer: Any, p: float, batch: int = 8) -> float:
    """FLOPs of one training step (forward with scheduled sampling, backward) per sample, counted on
    `batch` samples of every resident bucket and averaged with the buckets' sizes (padding included:
    what the device computes)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    data = trainer.build_data()
    res, gen = data.resident, torch.Generator(device=trainer.device).manual_seed(0)
    total, n_total = 0.0, 0
    for b, bk in enumerate(res.buckets):
        index = torch.arange(min(batch, len(bk)), device=trainer.device)
        with FlopCounterMode(display=False) as counter:
            n = trainer.train_step(res.batch(b, index, data.device_augment, gen), p)[3]
        total += counter.get_total_flops() / n * len(bk)
        n_total += len(bk)
    return total / n_total


def bench_train(
    config: Path | None,
    data: Path,
    steps: int = 20,
    threads: int = 0,
    device: str = "cpu",
    batch_size: int | None = None,
    limit_train: int = 2000,
    paths: tuple[str, ...] = PATHS,
) -> dict[str, Any]:
    import torch

    from seq2latex.config import ModelConfig, TrainConfig, load_yaml_configs
    from seq2latex.sampling import sampling_probability
    from seq2latex.training import RunOptions, Trainer

    model_cfg, train_cfg = load_yaml_configs(config) if config else (ModelConfig(), TrainConfig())
    own_path = train_cfg.data_path
    train_cfg = replace(
        train_cfg,
        batch_size=batch_size or train_cfg.batch_size,
        limit_train=limit_train,  # the step does not depend on the set's size; startup does
        limit_val=1,
        holdout="",  # no validation is run: any records will do
        ckpt_minutes=1e9,
        data_path="resident",  # builds both paths: the DataLoader and the resident set
    )
    with tempfile.TemporaryDirectory() as tmp:
        opts = RunOptions(data=data, out=Path(tmp), device=device, progress=False, threads=threads)
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the JSON only
            trainer = Trainer(model_cfg, train_cfg, opts)
            data_ = trainer.build_data()
            if train_cfg.preload_images and "loader" in paths:  # as the loader path of a run preloads
                from seq2latex.training.datasource import preload_images

                preload_images(data_.train_set.records)
        trainer.model.train()
        p = sampling_probability(
            train_cfg.sampling, train_cfg.sampling.warmup_steps + train_cfg.sampling.ramp_steps
        )
        flops = flops_per_sample(trainer, p)
        results = {path: _time_path(trainer, path, steps, p) for path in paths}
    cuda = trainer.device.type == "cuda"
    for r in results.values():
        r["achieved_tflops"] = round(flops * r["samples_per_s"] / 1e12, 3)
        r["achieved_tflops_no_data"] = round(flops * r["samples_per_s_no_data"] / 1e12, 3)
        if cuda:
            r["percent_of_bf16_peak"] = round(100 * r["achieved_tflops"] / H200_BF16_TFLOPS, 2)
    report: dict[str, Any] = {
        "config": str(config) if config else None,
        "device": str(trainer.device),
        "gpu": torch.cuda.get_device_name(trainer.device) if cuda else None,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "parameters": trainer.n_params,
        "batch_size": train_cfg.batch_size,
        "steps": steps,
        "sampling_prob": round(p, 4),
        "bidirectional": model_cfg.bidirectional,
        "ema": train_cfg.ema_decay > 0,
        "augment_strength": train_cfg.augment_strength,
        "num_workers": train_cfg.num_workers,
        "config_data_path": own_path,
        "flops_per_sample": round(flops),
        "gflops_per_sample": round(flops / 1e9, 3),
        "bf16_peak_tflops": H200_BF16_TFLOPS if cuda else None,
        "paths": results,
    }
    if len(results) == 2:
        report["resident_speedup"] = round(
            results["resident"]["samples_per_s"] / max(results["loader"]["samples_per_s"], 1e-9), 2
        )
    return report
