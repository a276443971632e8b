"""Annealed scheduled-sampling schedules: probability of feeding the model's own prediction.

p(step) = start for step < warmup_steps, then start + (end - start) * f(s / ramp_steps) with
s = step - warmup_steps and f rising from 0 to 1 (clamped at 1 after the ramp):
- linear:          f(x) = x
- exponential:     f(x) = (1 - exp(-EXP_RATE * x)) / (1 - exp(-EXP_RATE))   (fast start, slow finish)
- inverse_sigmoid: f(x) = logistic(SIGMOID_SLOPE * (x - 0.5)) rescaled to f(0) = 0, f(1) = 1 (slow-fast-slow)
- none:            p = 0 (teacher forcing)
"""

from __future__ import annotations

import math

from seq2latex.config import SamplingConfig

EXP_RATE = 5.0
SIGMOID_SLOPE = 10.0


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def ramp(kind: str, x: float) -> float:
    """The schedule shape f on x in [0, 1] (clamped outside)."""
    x = min(max(x, 0.0), 1.0)
    if kind == "linear":
        return x
    if kind == "exponential":
        return (1.0 - math.exp(-EXP_RATE * x)) / (1.0 - math.exp(-EXP_RATE))
    if kind == "inverse_sigmoid":
        lo, hi = _logistic(-SIGMOID_SLOPE / 2), _logistic(SIGMOID_SLOPE / 2)
        return (_logistic(SIGMOID_SLOPE * (x - 0.5)) - lo) / (hi - lo)
    raise ValueError(f"unknown sampling schedule {kind!r}")


def sampling_probability(cfg: SamplingConfig, step: int) -> float:
    """Probability of replacing a gold decoder input by the model's prediction at `step`."""
    if cfg.kind == "none":
        return 0.0
    if step < cfg.warmup_steps:
        return cfg.start
    x = (step - cfg.warmup_steps) / max(cfg.ramp_steps, 1)
    return cfg.start + (cfg.end - cfg.start) * ramp(cfg.kind, x)
