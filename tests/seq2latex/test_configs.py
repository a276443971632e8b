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

ROOT = Path(__file__).resolve().parents[2]
# configs/windows/ holds study specs (lists of arms, seq2latex.training.study), not training configs
CONFIGS = sorted(p for p in (ROOT / "configs").rglob("*.yaml") if p.parent.name != "windows")
STUDIES = sorted((ROOT / "configs" / "windows").glob("*.yaml"))
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


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_study_arms_resolve_to_configs_and_models(path: Path) -> None:
    """Every arm of a study window resolves as its train.py would: config, overrides, starting model."""
    import train
    from seq2latex.training.study import StudyConfig

    study = StudyConfig.load(path)
    assert len(study.arms) >= 3
    for arm in study.arms:
        argv = ["--data", "x", "--out", "y", "--config", str(ROOT / arm.config)]
        argv += [a for kv in arm.set for a in ("--set", kv)] + [
            a for kv in arm.model_set for a in ("--model-set", kv)
        ]
        model_cfg, train_cfg = train.resolve_configs(train.build_parser().parse_args(argv))
        assert train_cfg.data_path == "resident" and train_cfg.synth_stream > 0, arm.name
        assert (ROOT / train_cfg.synth_bank).parent.name == "gpu_data"
        assert not arm.init or (ROOT / arm.init / "config.json").is_file(), arm.name
        n = sum(p.numel() for p in Seq2Latex(replace(model_cfg, vocab_size=VOCAB)).parameters())
        assert n <= 10_000_000, (arm.name, n)


def test_extends_starts_from_the_base_and_replaces_whole_keys(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "model:\n  encoder: {embed_dim: 96, depth: 5}\n"
        "  decoder: {kind: transformer, num_layers: 3}\n"
        "train:\n  lr: 0.001\n  batch_size: 8\n"
    )
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "arm.yaml").write_text(
        "extends: ../base.yaml\nmodel:\n  decoder: {kind: gru, hidden_size: 64}\ntrain:\n  lr: 0.002\n"
    )
    model, train = load_yaml_configs(sub / "arm.yaml")
    assert (model.encoder.embed_dim, model.encoder.depth) == (96, 5)  # inherited
    assert (train.lr, train.batch_size) == (0.002, 8)  # overridden / inherited
    assert model.decoder.kind == "gru" and model.decoder.hidden_size == 64
    default_layers = load_yaml_configs(_write(tmp_path / "plain.yaml", "model:\n  decoder: {kind: gru}\n"))[0]
    assert model.decoder.num_layers == default_layers.decoder.num_layers  # the base's 3 is not merged in


def test_extends_refuses_loops_and_unknown_keys(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", "extends: b.yaml\n")
    _write(tmp_path / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ValueError, match="loops back"):
        load_yaml_configs(tmp_path / "a.yaml")
    with pytest.raises(ValueError, match="unknown top-level keys"):
        load_yaml_configs(_write(tmp_path / "c.yaml", "extend: a.yaml\n"))
    with pytest.raises(FileNotFoundError):
        load_yaml_configs(_write(tmp_path / "d.yaml", "extends: missing.yaml\n"))


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_yaml_exponent_numbers_are_numbers(tmp_path: Path) -> None:
    cfg = tmp_path / "e.yaml"
    cfg.write_text("train:\n  lr: 1e-4\n  smoke_min_samples_per_s: 4e3\n")  # YAML 1.1 reads these as strings
    _, train = load_yaml_configs(cfg)
    assert train.lr == 1e-4 and train.smoke_min_samples_per_s == 4000.0
    cfg.write_text("train:\n  lr: fast\n")
    with pytest.raises(ValueError, match="expected a number"):
        load_yaml_configs(cfg)


ARMS = sorted((Path(__file__).resolve().parents[2] / "configs" / "arms").glob("*.yaml"))
MAX_PARAMS = 10_000_000  # the budget (the published systems it compares with are <= 10 M)


@pytest.mark.parametrize("path", ARMS, ids=lambda p: p.name)
def test_model_arms_stay_within_ten_million_parameters(path: Path) -> None:
    """With the shipped vocabulary (114) and symbol head (101 classes)."""
    model_cfg, _ = load_yaml_configs(path)
    model = Seq2Latex(replace(model_cfg, vocab_size=114, num_symbol_classes=101))
    assert sum(p.numel() for p in model.parameters()) <= MAX_PARAMS


def test_the_model_arms_change_what_they_name() -> None:
    base, _ = load_yaml_configs(ARMS[0].parents[1] / "gpu.yaml")
    arms = {p.stem: load_yaml_configs(p)[0] for p in ARMS}
    assert {"backbone", "coverage", "width"} <= set(arms)
    assert replace(arms["backbone"], encoder=base.encoder) == base
    assert arms["backbone"].encoder.stem == "resnet" and arms["backbone"].encoder.depth < base.encoder.depth
    assert replace(arms["coverage"], decoder=base.decoder) == base
    assert replace(arms["coverage"].decoder, cross_coverage=False) == base.decoder
    assert replace(arms["width"], encoder=base.encoder, decoder=base.decoder) == base
    assert arms["width"].decoder.d_model == 256 and arms["width"].decoder.num_heads == 8
