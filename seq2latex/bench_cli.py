"""`seq2latex bench train`: the real training step of a config on this machine, as JSON.

Builds the Trainer of train.py for the config (same data, augmentation, loader and loss), runs a few
warm-up steps, then times `--steps` steps twice: with the data loader in the loop (what a training run
sees) and on batches fetched beforehand (the model step alone).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

WARMUP_STEPS = 3


def bench_train(
    config: Path | None,
    data: Path,
    steps: int = 20,
    threads: int = 0,
    device: str = "cpu",
    batch_size: int | None = None,
    limit_train: int = 2000,
) -> dict[str, Any]:
    import torch

    from seq2latex.config import ModelConfig, TrainConfig, load_yaml_configs
    from seq2latex.sampling import sampling_probability
    from seq2latex.training import RunOptions, Trainer

    model_cfg, train_cfg = load_yaml_configs(config) if config else (ModelConfig(), TrainConfig())
    train_cfg = replace(
        train_cfg,
        batch_size=batch_size or train_cfg.batch_size,
        limit_train=limit_train,  # the step does not depend on the set's size; startup does
        limit_val=1,
        holdout="",  # no validation is run: any records will do
        ckpt_minutes=1e9,
    )
    with tempfile.TemporaryDirectory() as tmp:
        opts = RunOptions(data=data, out=Path(tmp), device=device, progress=False, threads=threads)
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the JSON only
            trainer = Trainer(model_cfg, train_cfg, opts)
            trainer._build_data()
        trainer.model.train()
        batches = trainer._batches()
        p = sampling_probability(
            train_cfg.sampling, train_cfg.sampling.warmup_steps + train_cfg.sampling.ramp_steps
        )

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
        n_held, t0 = 0, time.perf_counter()
        for batch in held:
            n_held += trainer.train_step(batch, p)[3]
        sync()
        compute_s = time.perf_counter() - t0
    return {
        "config": str(config) if config else None,
        "device": str(trainer.device),
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "parameters": trainer.n_params,
        "batch_size": train_cfg.batch_size,
        "steps": steps,
        "sampling_prob": round(p, 4),
        "bidirectional": model_cfg.bidirectional,
        "ema": train_cfg.ema_decay > 0,
        "samples_per_s": round(n_samples / with_data_s, 2),
        "ms_per_step": round(1000 * with_data_s / steps, 1),
        "cpu_s_per_wall_s": round(with_data_cpu / with_data_s, 2),
        "samples_per_s_no_data": round(n_held / compute_s, 2),
        "ms_per_step_no_data": round(1000 * compute_s / steps, 1),
        "data_ms_per_step": round(1000 * (with_data_s - compute_s) / steps, 1),
    }


def _run_train(args: argparse.Namespace) -> int:
    report = bench_train(
        args.config, args.data, args.steps, args.threads, args.device, args.batch_size, args.limit_train
    )
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="benchmarks that print JSON")
    sub = p.add_subparsers(dest="bench", required=True)
    t = sub.add_parser("train", help="samples/s and ms per step of a training config on this machine")
    t.add_argument(
        "--config", type=Path, default=None, help="train.py YAML config (default: built-in defaults)"
    )
    t.add_argument("--data", type=Path, required=True, help="CROHME root (as train.py --data)")
    t.add_argument("--steps", type=int, default=20, help="timed steps (after 3 warm-up steps)")
    t.add_argument("--threads", type=int, default=0, help="CPU threads (0 = all cores)")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--limit-train", type=int, default=2000, help="training records loaded (startup only)")
    t.add_argument("--json", type=Path, default=None, help="also write the report here")
    t.set_defaults(func=_run_train)


if __name__ == "__main__":  # python -m seq2latex.bench_cli train ...
    parser = argparse.ArgumentParser(prog="python -m seq2latex.bench_cli")
    register(parser.add_subparsers(dest="command", required=True))
    ns = parser.parse_args(["bench", *sys.argv[1:]])
    sys.exit(ns.func(ns))
