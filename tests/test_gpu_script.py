"""scripts/gpu_train.sh end to end on the CPU (the GPU window's dry run): the same command with a tiny
config and the committed fixtures must leave exactly the files the device tool brings back, within its
limits, and they must turn back into loadable model directories."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from seq2latex.checkpoint import load_model_dir
from seq2latex.training.window import MAX_FILE_MIB, MAX_FILES, check_out, unpack

REPO = Path(__file__).resolve().parents[1]
TINY = """
model:
  bidirectional: true
  encoder: {embed_dim: 32, depth: 1, num_heads: 2, stem_channels: 8}
  decoder: {d_model: 32, num_layers: 1, num_heads: 2, ff_dim: 64, dropout: 0.1}
train:
  lr: 0.001
  warmup_steps: 2
  max_steps: 1000000
  batch_size: 4
  val_every: 1000000
  ema_decay: 0.9
  augment_strength: 0.4
  train_sources: ["offline/train"]
  val_source: "offline/train"
  data_path: resident
  preprocess_workers: 1
  log_rows_every: 3
  val_raw: false
  val_batch: 8
  smoke_seconds: 1
  smoke_min_samples_per_s: 0.5
"""
PART_MIB = 0.1  # the tiny model's fp32 weights then come back in parts, as a real model's do


def _run(tmp_path: Path, fixtures_dir: Path, config_text: str) -> tuple[subprocess.CompletedProcess, Path]:
    config = tmp_path / "tiny.yaml"
    config.write_text(config_text)
    holdout = tmp_path / "val.txt"
    holdout.write_text("70_Frank\n90_Frank\nMfrDB0206\n")
    out = tmp_path / "out"
    env = {
        **os.environ,
        "DEVICE": "cpu",
        "CONFIG": str(config),
        "DATA": str(fixtures_dir / "crohme"),
        "PYTHON": sys.executable,
        "TRAIN_MIN": "0.08",
        "TRAIN_ARGS": f"--holdout {holdout} --threads 1",
        "EVAL_S": "20",
        "PART_MIB": str(PART_MIB),
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "gpu_train.sh"), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    return proc, out


def test_window_command_dry_run_on_the_cpu(fixtures_dir: Path, tmp_path: Path) -> None:
    proc, out = _run(tmp_path, fixtures_dir, TINY)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    names = sorted(p.name for p in out.iterdir())
    parts = [n for n in names if n.startswith("ema-fp32.tar.part")]
    assert len(parts) >= 2  # the fp32 weights were cut, as a real model's 18+ MB must be
    assert names == sorted(["curves.png", "eval.json", "log.csv", "model-fp16.tar", "run.log", *parts])
    assert len(names) <= MAX_FILES and check_out(out) == []
    assert all(p.stat().st_size <= MAX_FILE_MIB * 2**20 for p in out.iterdir())
    assert all((out / n).stat().st_size <= PART_MIB * 2**20 for n in parts)
    log = (out / "run.log").read_text()
    assert "smoke:" in log and "samples/s" in log  # the smoke figures are printed first
    with (out / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert 0 < int(rows[-1]["step"]) < 1_000_000  # stopped by its time budget, not by max_steps
    assert float(rows[-1]["lr"]) < float(rows[len(rows) // 2]["lr"])  # the cosine follows the clock
    report = json.loads((out / "eval.json").read_text())
    assert report["crohme_val"]["n"] == report["crohme_val"]["of"] == 3  # the holdout's expressions
    assert report["crohme2014"]["n"] > 0 and "by_length" in report["crohme2014"]
    assert report["crohme2016"] is None  # not in the fixtures
    models = unpack(out, tmp_path / "unpacked")
    fp16, _, cfg16, _ = load_model_dir(models["fp16"])
    fp32, _, _, _ = load_model_dir(models["fp32"])
    assert cfg16.bidirectional is True
    from safetensors.torch import load_file

    assert {t.dtype for t in load_file(str(models["fp32"] / "model.safetensors")).values()} >= {torch.float32}
    assert all(
        t.dtype != torch.float32 for t in load_file(str(models["fp16"] / "model.safetensors")).values()
    )
    # one validation, at the end: best/ is the last EMA, so the fp16 model is the fp32 one, rounded
    for (k, a), b in zip(fp16.state_dict().items(), fp32.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=2e-3, rtol=2e-3, msg=k)


def test_a_slow_window_stops_at_the_smoke_check(fixtures_dir: Path, tmp_path: Path) -> None:
    proc, out = _run(
        tmp_path, fixtures_dir, TINY.replace("smoke_min_samples_per_s: 0.5", "smoke_min_samples_per_s: 1e9")
    )
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = (out / "run.log").read_text()
    assert "below the floor" in log and "ms to draw and augment" in log and "bound by" in log
    assert not (out / "model-fp16.tar").exists()  # nothing trained on: nothing packed
