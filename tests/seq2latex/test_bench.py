"""`seq2latex bench train`: the real training step of a config, timed, as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seq2latex.cli import main

TINY = """
model:
  bidirectional: true
  encoder: {embed_dim: 32, depth: 1, num_heads: 2, stem_channels: 8}
  decoder: {d_model: 32, num_layers: 1, num_heads: 2, ff_dim: 64}
train:
  batch_size: 4
  augment_strength: 0.3
  ema_decay: 0.99
"""


def test_bench_train_prints_json(fixtures_dir: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY)
    out = tmp_path / "bench.json"
    args = ["bench", "train", "--config", str(cfg), "--data", str(fixtures_dir / "crohme")]
    assert main([*args, "--steps", "3", "--threads", "1", "--json", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)  # stdout is the JSON alone
    assert report == json.loads(out.read_text())
    assert report["parameters"] > 10_000 and report["batch_size"] == 4 and report["steps"] == 3
    assert report["bidirectional"] is True and report["ema"] is True
    assert report["flops_per_sample"] > 1e6  # counted over a real forward and backward
    assert set(report["paths"]) == {"loader", "resident"}  # the old and the new data path side by side
    for path in report["paths"].values():
        assert path["samples_per_s"] > 0 and path["samples_per_s_no_data"] > 0
        assert path["ms_per_step"] > 0 and path["ms_per_step_no_data"] > 0
        assert path["achieved_tflops"] == pytest.approx(
            report["flops_per_sample"] * path["samples_per_s"] / 1e12, abs=1e-3
        )
    assert report["resident_speedup"] == pytest.approx(
        report["paths"]["resident"]["samples_per_s"] / report["paths"]["loader"]["samples_per_s"], abs=0.01
    )


def test_the_command_offers_the_paths_the_bench_times() -> None:
    """`seq2latex bench train --paths` lists them without importing the trainer (torch) for `--help`."""
    from seq2latex.cli import bench as command
    from seq2latex.training.bench import PATHS

    assert command.PATHS == PATHS
