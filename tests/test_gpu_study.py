"""scripts/gpu_study.sh end to end on the CPU (the study window's dry run): two tiny arms trained side by
side, one fed by the synthesizer's workers, must leave the files the device tool brings back, within its
limits, with the best arm by crohme_val packed as the window's model; an arm that fails is reported and
does not stop the others."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from data.symbol_crops import crops_from_bank
from data.symbols import CROHME_SYMBOL_CLASSES
from data.synth.glyphs import build_bank
from seq2latex.checkpoint import load_model_dir
from seq2latex.training.study import (
    Arm,
    ArmSpec,
    StudyConfig,
    StudySettings,
    arm_overrides,
    run_arms,
    watch_verdict,
)
from seq2latex.training.window import MAX_FILE_MIB, MAX_FILES, check_out, unpack

REPO = Path(__file__).resolve().parents[1]
TINY = """
model:
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
  data_path: resident
  log_rows_every: 3
  log_every: 1
  val_raw: false
  val_batch: 8
  smoke_seconds: 1
  smoke_min_samples_per_s: 0.5
"""
STREAM = """
  synth_stream: 1.0
  synth_workers: 1
  synth_refresh: 1.0
  synth_refresh_every: 2
  synth_bank: {bank}
  symbol_weight: 1.0
  symbol_every: 2
  symbol_batch_size: 8
  symbol_crops: {crops}
  symbol_val_crops: {crops}
"""
PART_MIB = 0.2
pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="two arms need two CPU cores")


def _setup(tmp_path: Path, fixtures_dir: Path) -> tuple[Path, Path, Path]:
    glyphs = build_bank(fixtures_dir / "crohme" / "inkml" / "train", split="all")
    bank = glyphs.save(tmp_path / "glyphs.npz")
    crops = crops_from_bank(glyphs, list(CROHME_SYMBOL_CLASSES), 64, per_class=2).save(
        tmp_path / "symbols.npz"
    )
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "tiny_stream.yaml").write_text(TINY + STREAM.format(bank=bank, crops=crops))
    holdout = tmp_path / "val.txt"
    holdout.write_text("70_Frank\n90_Frank\nMfrDB0206\n")
    return tmp_path / "tiny.yaml", tmp_path / "tiny_stream.yaml", holdout


def _study_script(out: Path, fixtures_dir: Path, timeout: int, **env: str) -> subprocess.CompletedProcess:
    """scripts/gpu_study.sh on the CPU with the fixtures' data, `env` on top."""
    base = {**os.environ, "DEVICE": "cpu", "DATA": str(fixtures_dir / "crohme"), "PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "gpu_study.sh"), str(out)],
        capture_output=True, text=True, timeout=timeout, env={**base, **env},
    )  # fmt: skip


def test_study_window_dry_run_on_the_cpu(fixtures_dir: Path, tmp_path: Path) -> None:
    tiny, tiny_stream, holdout = _setup(tmp_path, fixtures_dir)
    spec = tmp_path / "study.yaml"
    spec.write_text(
        "study: {arm_memory_gib: 0.01, cores_per_arm: 1}\n"
        "arms:\n"
        f"  - {{name: stream, config: {tiny_stream}, set: ['holdout={holdout}']}}\n"
        f"  - {{name: plain, config: {tiny}, set: ['holdout={holdout}', 'lr=0.003'], seed: 1}}\n"
    )
    out, work_root = tmp_path / "out", tmp_path / "tmp"
    work_root.mkdir()
    proc = _study_script(
        out, fixtures_dir, 600, SPEC=str(spec), NEEDS="",  # the tiny arms' bank and crops are in tmp_path
        TRAIN_MIN="0.1", EVAL_S="20", PART_MIB=str(PART_MIB), TMPDIR=str(work_root),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    names = sorted(p.name for p in out.iterdir())
    parts = [n for n in names if n.startswith("ema-fp32.tar.part")]
    assert names == sorted(["curves.png", "eval.json", "model-fp16.tar", "run.log", "study.json", *parts])
    assert len(names) <= MAX_FILES and check_out(out) == []
    assert all(p.stat().st_size <= MAX_FILE_MIB * 2**20 for p in out.iterdir())
    log = (out / "run.log").read_text()
    assert "[stream] smoke:" in log and "[plain] smoke:" in log  # each arm's own smoke check, prefixed
    assert "[stream] symbol task (resident):" in log  # the symbol task from the packed crops, on the device

    study = json.loads((out / "study.json").read_text())
    assert study["device"] == "cpu" and study["arms"] == 2 and study["skipped"] == []
    arms = {a["name"]: a for a in study["per_arm"]}
    assert set(arms) == {"stream", "plain"} and all(a["status"] == "ok" for a in arms.values())
    assert arms["stream"]["cores"] != arms["plain"]["cores"]  # a core each
    for a in arms.values():
        s = a["summary"]
        assert s["samples"] > 0 and s["samples_per_s"] > 0 and s["train_seconds"] > 0
        assert a["eval"]["crohme_val"]["n"] == a["eval"]["crohme_val"]["of"] == 3
        assert set(a["eval"]) >= {"crohme_val", "school_val"} and "crohme2014" not in a["eval"]
        cols = a["log"]["columns"]
        assert "loss" in cols and len(a["log"]["rows"]) > 0
    synth = arms["stream"]["summary"]["synthetic"]
    real = arms["stream"]["summary"]["real_expressions"]
    assert real > 0 and synth["placed"] > real  # the initial set (1 x real) and fresh ones after it
    assert arms["stream"]["summary"]["distinct_expressions"] == real + synth["placed"]
    assert arms["plain"]["summary"]["synthetic"]["made"] == 0
    assert study["distinct_expressions"] == real + synth["placed"]  # the real ones counted once
    assert arms["stream"]["set"][0] == "synth_seed=1" and arms["plain"]["set"][0] == "synth_seed=2"
    assert study["aggregate_samples_per_s"] == pytest.approx(
        sum(a["summary"]["samples_per_s"] for a in arms.values()), abs=0.2
    )
    # the best arm by crohme_val (ExpRate, then the lower loss) is the one packed
    key = {n: (a["eval"]["crohme_val"]["exprate"], -a["eval"]["crohme_val"]["loss"]) for n, a in arms.items()}
    best = max(key, key=key.get)
    assert study["best_arm"] == best == study["ranking"][0]
    full = json.loads((out / "eval.json").read_text())
    assert full["arm"] == best and full["crohme_val"] == arms[best]["eval"]["crohme_val"]  # read once
    assert full["crohme2014"]["n"] > 0  # the test sets, for the packed arm only
    (work,) = work_root.glob("seq2latex-study.*")
    packed, _, _, _ = load_model_dir(unpack(out, tmp_path / "unpacked")["fp16"])
    arm_best, _, _, _ = load_model_dir(work / best / "best")
    other, _, _, _ = load_model_dir(work / ({"stream", "plain"} - {best}).pop() / "best")
    for (k, a), b in zip(packed.state_dict().items(), arm_best.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=2e-3, rtol=2e-3, msg=k)
    differs = any(
        not torch.allclose(a, b, atol=2e-3, rtol=2e-3)
        for a, b in zip(packed.state_dict().values(), other.state_dict().values(), strict=True)
        if a.is_floating_point()
    )
    assert differs  # not the other arm's weights


def test_a_window_short_of_time_brings_back_the_ranking_and_the_model(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    """A 30 s window is over before its arm has trained: crohme_val (the ranking) is still read, study.json
    written and the model packed; school_val and the test sets are left out, and study.json says so."""
    tiny, _, holdout = _setup(tmp_path, fixtures_dir)
    spec = tmp_path / "study.yaml"
    spec.write_text(
        f"study: {{arm_memory_gib: 0.01, cores_per_arm: 1}}\narms:\n  - {{name: plain, config: {tiny}, "
        f"set: ['holdout={holdout}']}}\n"
    )
    out = tmp_path / "out"
    proc = _study_script(
        out, fixtures_dir, 300, SPEC=str(spec), NEEDS="", TRAIN_MIN="0.1", WINDOW_S="30", TMPDIR=str(tmp_path)
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    study = json.loads((out / "study.json").read_text())
    assert study["best_arm"] == "plain" and study["per_arm"][0]["eval"]["crohme_val"]["n"] > 0
    assert study["skipped"] == ["plain: school_val", "plain: crohme2014, crohme2016"]
    assert "school_val" not in study["per_arm"][0]["eval"]
    assert (out / "model-fp16.tar").is_file() and check_out(out) == []
    assert "crohme2014" not in json.loads((out / "eval.json").read_text())


def test_a_failing_arm_is_reported_and_the_other_goes_on(fixtures_dir: Path, tmp_path: Path) -> None:
    tiny, _, holdout = _setup(tmp_path, fixtures_dir)
    arms = [
        Arm(
            ArmSpec("slow", str(tiny), [f"holdout={holdout}", "smoke_min_samples_per_s=1e9"]),
            tmp_path / "a",
            [0],
        ),
        Arm(ArmSpec("fine", str(tiny), [f"holdout={holdout}"]), tmp_path / "b", [1]),
    ]
    run_arms(arms, fixtures_dir / "crohme", "cpu", 0.05, StudySettings(), python=sys.executable)
    assert arms[0].status == "smoke_failed" and arms[0].rc == 3 and "exited with 3" in arms[0].reason
    assert arms[1].status == "ok" and arms[1].rc == 0
    assert (tmp_path / "b" / "best").is_dir() and (tmp_path / "b" / "summary.json").is_file()
    assert not (tmp_path / "a" / "best").exists()


def test_a_window_without_the_files_its_arms_read_stops_at_once(fixtures_dir: Path, tmp_path: Path) -> None:
    proc = _study_script(tmp_path / "out", fixtures_dir, 60, NEEDS=str(tmp_path / "symbols_train.npz"))
    assert proc.returncode == 2
    assert "missing" in proc.stdout and "symbols_train.npz" in proc.stdout and "docs/gpu.md" in proc.stdout


def test_an_arm_is_stalled_only_after_its_first_row_has_gone_quiet() -> None:
    s = StudySettings(start_seconds=240.0, stall_seconds=120.0)
    # before its first row (no file, or the trainer's empty log.csv): the start-up allowance
    assert watch_verdict(-1, 200.0, 200.0, 600.0, s) is None
    assert watch_verdict(0, 200.0, 230.0, 600.0, s) is None  # a CPU dry run's first validation was here
    assert watch_verdict(0, 241.0, 260.0, 600.0, s) == ("stalled", "its log gained nothing for 241 s")
    # after it: the stall limit
    assert watch_verdict(812, 119.0, 300.0, 600.0, s) is None
    assert watch_verdict(812, 121.0, 300.0, 600.0, s) == ("stalled", "its log gained nothing for 121 s")
    assert watch_verdict(812, 5.0, 601.0, 600.0, s) == ("overran", "still running 601 s after its start")


def test_the_arms_share_the_study_smoke_floor_and_their_own_overrides_win() -> None:
    spec = ArmSpec("updates", "configs/gpu_stream.yaml", ["batch_size=64"])
    shared = StudySettings(smoke_samples_per_s=3000.0)
    assert arm_overrides(spec, 2, 4, shared) == [
        "synth_seed=3",
        "smoke_min_samples_per_s=750",
        "batch_size=64",
    ]
    own = ArmSpec("slow", "configs/gpu_stream.yaml", ["smoke_min_samples_per_s=100"])
    assert arm_overrides(own, 0, 4, shared, ["limit_train=300"])[-2:] == [
        "smoke_min_samples_per_s=100",  # later than the share: the arm's own floor wins
        "limit_train=300",
    ]
    assert arm_overrides(spec, 0, 4, StudySettings()) == ["synth_seed=1", "batch_size=64"]  # the config's
    window = StudyConfig.load(REPO / "configs" / "windows" / "recipes1.yaml")
    floors = [
        [o for o in arm_overrides(a, i, 4, window.study) if o.startswith("smoke_")][-1]
        for i, a in enumerate(window.arms[:4])
    ]  # an H100's four arms; `updates` (a quarter of the batch) a quarter of the share
    assert floors == ["smoke_min_samples_per_s=750"] * 2 + ["smoke_min_samples_per_s=200"] + [
        "smoke_min_samples_per_s=750"
    ]
