"""Scheduled-sampling schedules at known steps."""

from __future__ import annotations

import math

import pytest

from seq2latex.config import SamplingConfig
from seq2latex.sampling import sampling_probability


def test_none_is_teacher_forcing() -> None:
    cfg = SamplingConfig(kind="none", start=0.3, end=0.9)
    assert all(sampling_probability(cfg, s) == 0.0 for s in (0, 10, 10_000))


def test_linear_values() -> None:
    cfg = SamplingConfig(kind="linear", start=0.0, end=0.4, warmup_steps=100, ramp_steps=200)
    assert sampling_probability(cfg, 0) == 0.0
    assert sampling_probability(cfg, 99) == 0.0
    assert sampling_probability(cfg, 100) == 0.0
    assert sampling_probability(cfg, 150) == pytest.approx(0.1)
    assert sampling_probability(cfg, 200) == pytest.approx(0.2)
    assert sampling_probability(cfg, 300) == pytest.approx(0.4)
    assert sampling_probability(cfg, 10_000) == pytest.approx(0.4)


def test_exponential_values() -> None:
    cfg = SamplingConfig(kind="exponential", start=0.1, end=0.5, warmup_steps=0, ramp_steps=100)
    f = (1 - math.exp(-5 * 0.5)) / (1 - math.exp(-5))
    assert sampling_probability(cfg, 0) == pytest.approx(0.1)
    assert sampling_probability(cfg, 50) == pytest.approx(0.1 + 0.4 * f)
    assert sampling_probability(cfg, 100) == pytest.approx(0.5)
    # fast start: above the linear ramp half way
    assert sampling_probability(cfg, 50) > 0.3


def test_inverse_sigmoid_values() -> None:
    cfg = SamplingConfig(kind="inverse_sigmoid", start=0.0, end=0.25, warmup_steps=10, ramp_steps=1000)
    assert sampling_probability(cfg, 10) == pytest.approx(0.0)
    assert sampling_probability(cfg, 510) == pytest.approx(0.125)  # symmetric around the middle
    assert sampling_probability(cfg, 1010) == pytest.approx(0.25)
    assert sampling_probability(cfg, 110) < 0.25 * 0.1  # slow start
    values = [sampling_probability(cfg, s) for s in range(0, 1200, 50)]
    assert values == sorted(values)


def test_unknown_kind() -> None:
    with pytest.raises(ValueError):
        sampling_probability(SamplingConfig(kind="cubic"), 5)  # type: ignore[arg-type]
