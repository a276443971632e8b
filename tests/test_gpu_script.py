"""scripts/gpu_train.sh end to end on the CPU (the GPU command's dry run): tiny model, committed fixtures."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

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
  val_every: 10
  ema_decay: 0.9
  train_sources: ["offline/train"]
  val_source: "offline/train"
  num_workers: 2
  preload_images: true
"""


def test_gpu_command_dry_run_on_the_cpu(fixtures_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    holdout = tmp_path / "val.txt"
    holdout.write_text("70_Frank\n90_Frank\nMfrDB0206\n")
    out = tmp_path / "out"
    env = {
        **os.environ,
        "DEVICE": "cpu",
        "CONFIG": str(config),
        "DATA": str(fixtures_dir / "crohme"),
        "PYTHON": sys.executable,
        "TRAIN_ARGS": f"--holdout {holdout} --threads 1",
        "EVAL_ARGS": "--limit 4 --threads 1",
        "RESERVE_MIN": "0",
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "gpu_train.sh"), str(out), "0.1"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["curves.png", "eval_2014.json", "log.csv", "model"]
    assert {"config.json", "model.safetensors", "tokenizer.json", "card.json"} <= {
        p.name for p in (out / "model").iterdir()
    }
    config_json = json.loads((out / "model" / "config.json").read_text())
    assert config_json["model"]["bidirectional"] is True
    with (out / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert 0 < int(rows[-1]["step"]) < 1_000_000  # stopped by its time budget, not by max_steps
    assert float(rows[-1]["lr"]) < float(rows[len(rows) // 2]["lr"])  # the cosine follows the clock
    report = json.loads((out / "eval_2014.json").read_text())
    assert report["n"] == 4 and 0.0 <= report["exprate"] <= 100.0 and "by_length" in report
    card = json.loads((out / "model" / "card.json").read_text())
    assert card["metrics"]["val_split"] == str(holdout)
