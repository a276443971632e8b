"""Mixing pre-generated synthetic records into the real training records by a ratio (`synth_ratio`)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

R = TypeVar("R")
SYNTH_PREFIX = "synth"  # a source whose last path part starts with this is synthetic (offline/synth)


def is_synthetic(source: str) -> bool:
    """`offline/synth`, `synth`, `runs/synth_train`: yes; `offline/train`, `inkml/train`: no."""
    return source.rstrip("/").rsplit("/", 1)[-1].startswith(SYNTH_PREFIX)


def mix_synthetic(records: Sequence[R], ratio: float, seed: int = 0, limit: int = 0) -> list[R]:
    """The real records (the first `limit` when > 0) plus `round(ratio * real)` synthetic ones.

    `ratio` <= 0 returns `records[:limit]` (every source as it is, synthetic or not). Otherwise the synthetic
    records (those of a synthetic `source`) are drawn in a seeded order, each once before any repeats."""
    if ratio <= 0:
        return list(records[:limit] if limit else records)
    real = [r for r in records if not is_synthetic(getattr(r, "source", ""))]
    synth = [r for r in records if is_synthetic(getattr(r, "source", ""))]
    real = real[:limit] if limit else real
    if not synth:
        raise ValueError(
            f"synth_ratio {ratio} but no synthetic training records: add a source named "
            f"'{SYNTH_PREFIX}...' to train_sources (e.g. offline/synth, packed by `data.pack --add synth=DIR`)"
        )
    order = random.Random(seed).sample(range(len(synth)), len(synth))
    want = round(ratio * len(real))
    return real + [synth[order[i % len(order)]] for i in range(want)]
