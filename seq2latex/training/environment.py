"""Process set-up of a training run: DDP ranks, the device, CPU threads, the learning-rate schedule and
random-state handling (for exact resume)."""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from seq2latex.config import TrainConfig


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


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def cleanup_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
