"""Every committed training config (configs/**/*.yaml) loads and builds a model that trains a step."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from data.preprocess import preprocess
from seq2latex.config import load_yaml_configs, preprocess_config
from seq2latex.model import Seq2Latex

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").rglob("*.yaml"))
VOCAB = 40


def test_configs_are_found() -> None:
    names = {p.relative_to(p.parents[1]).as_posix() for p in CONFIGS if p.parent.name == "study"}
    assert {"study/baseline.yaml", "study/baseline_long.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.relative_to(p.parents[1]).as_posix())
def test_config_builds_a_model_that_takes_a_step(path: Path) -> None:
    model_cfg, train_cfg = load_yaml_configs(path)
    assert train_cfg.batch_size > 0 and train_cfg.lr > 0
    model = Seq2Latex(replace(model_cfg, vocab_size=VOCAB))
    # a blank page and a stroke through the model's own input path
    page = np.full((90, 300), 255, dtype=np.uint8)  # (H, W), white
    page[40:50, 20:280] = 0
    x = preprocess(page, preprocess_config(model_cfg))[None]  # (1, 1, H, W)
    targets = torch.tensor([[1, 5, 6, 7, 2]])  # <sos> a b c <eos>, ids within VOCAB
    out = model.compute_losses(x, targets)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
