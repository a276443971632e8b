"""train.py contract: exact resume, time budget, symbol pre-training + --init, 2-process gloo DDP."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import train
from seq2latex.checkpoint import load_model_dir, load_training_checkpoint

REPO = Path(__file__).resolve().parents[1]
TINY_YAML = """
model:
  encoder: {embed_dim: 32, depth: 1, num_heads: 2, stem_channels: 8}
  decoder: {d_model: 32, num_layers: 1, num_heads: 2, ff_dim: 64, hidden_size: 32, attn_dim: 16, dropout: 0.1}
train:
  lr: 0.001
  warmup_steps: 2
  max_steps: 6
  batch_size: 4
  val_every: 0
  limit_val: 3
  aux_count_weight: 0.1
  augment_strength: 0.5
  sampling: {kind: linear, start: 0.3, end: 0.6, warmup_steps: 1, ramp_steps: 4}
  train_sources: ["offline/train"]
  val_source: "offline/2014"
  holdout: ""
  symbol_sources: ["inkml/train"]
  symbol_val_source: "inkml/test2014"
"""


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY_YAML)
    return p


def _run(data: Path, out: Path, cfg: Path, *extra: str) -> None:
    args = ["--data", str(data), "--out", str(out), "--config", str(cfg), "--device", "cpu", "--no-progress"]
    assert train.main([*args, "--threads", "1", *extra]) == 0


def _losses(out: Path) -> dict[int, float]:
    with (out / "log.csv").open() as f:
        return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(f)}


@pytest.mark.parametrize("path", ["loader", "resident"])  # the CPU's DataLoader and the GPU window's path
@pytest.mark.parametrize("stop", [3, 4])  # 31 samples / batch 8 = 4 batches: mid-epoch and epoch end
def test_resume_gives_the_same_next_step_loss(
    fixtures_dir: Path, tiny: Path, tmp_path: Path, stop: int, path: str
) -> None:
    if path == "resident":  # resident on the device, augmented there batch-wise, with an EMA
        tiny.write_text(
            tiny.read_text() + "  data_path: resident\n  preprocess_workers: 1\n  ema_decay: 0.9\n"
        )
    data = fixtures_dir / "crohme"
    _run(data, tmp_path / "full", tiny, "--batch-size", "8")
    _run(data, tmp_path / "cut", tiny, "--batch-size", "8", "--stop-at-step", str(stop))
    ckpt = load_training_checkpoint(tmp_path / "cut" / "checkpoint.pt")
    assert ckpt["step"] == stop and not (tmp_path / "cut" / "best").exists()  # killed: no final export
    _run(data, tmp_path / "cut", tiny, "--batch-size", "8", "--resume")
    full, cut = _losses(tmp_path / "full"), _losses(tmp_path / "cut")
    assert sorted(full) == sorted(cut) == list(range(1, 7))
    for step in range(1, 7):
        assert cut[step] == pytest.approx(full[step], rel=1e-5, abs=1e-6), step
    m_full, *_ = load_model_dir(tmp_path / "full" / "best")
    m_cut, *_ = load_model_dir(tmp_path / "cut" / "best")
    for (k, a), b in zip(m_full.state_dict().items(), m_cut.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=k)
    with (tmp_path / "cut" / "log.csv").open() as f:
        probs = [float(r["sampling_prob"]) for r in csv.DictReader(f)]
    assert probs[0] == pytest.approx(0.3) and probs[-1] == pytest.approx(0.6)  # logged every step


def test_time_budget_stops_and_checkpoints(fixtures_dir: Path, tiny: Path, tmp_path: Path) -> None:
    _run(fixtures_dir / "crohme", tmp_path / "run", tiny, "--max-steps", "1000", "--max-minutes", "0.0001")
    assert load_training_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 1
    card = json.loads((tmp_path / "run" / "best" / "card.json").read_text())
    assert card["step"] == 1 and "val_exprate" in card["metrics"]
    assert (tmp_path / "run" / "curves.png").is_file()


def test_symbol_pretraining_then_init(fixtures_dir: Path, tiny: Path, tmp_path: Path) -> None:
    from seq2latex.config import load_yaml_configs
    from seq2latex.training import RunOptions, Trainer

    data = fixtures_dir / "crohme"
    _run(
        data,
        tmp_path / "sym",
        tiny,
        "--stage",
        "symbols",
        "--max-steps",
        "2",
        "--limit-train",
        "4",
        "--limit-val",
        "16",
    )
    card = json.loads((tmp_path / "sym" / "best" / "card.json").read_text())
    assert card["stage"] == "symbols" and 0.0 <= card["metrics"]["val_symbol_accuracy"] <= 100.0
    src, _, _, classes = load_model_dir(tmp_path / "sym" / "best")
    assert len(classes) == src.cfg.num_symbol_classes > 90
    model_cfg, train_cfg = load_yaml_configs(tiny)
    trainer = Trainer(
        model_cfg, train_cfg, RunOptions(data=data, out=tmp_path / "expr", init=tmp_path / "sym" / "best")
    )
    own = trainer.model.state_dict()
    for k, v in src.state_dict().items():
        if k.startswith(("encoder.", "symbol_head.")):
            torch.testing.assert_close(own[k], v, msg=k)


def test_frozen_encoder_retrains_only_the_symbol_head(fixtures_dir: Path, tiny: Path, tmp_path: Path) -> None:
    data = fixtures_dir / "crohme"
    _run(data, tmp_path / "a", tiny, "--max-steps", "2", "--seed", "3")
    start = tmp_path / "a" / "best"
    extra = ["--stage", "symbols", "--max-steps", "3", "--limit-train", "4", "--limit-val", "16"]
    _run(
        data,
        tmp_path / "frozen",
        tiny,
        *extra,
        "--init",
        str(start),
        "--init-scope",
        "all",
        "--freeze-encoder",
    )
    _run(data, tmp_path / "free", tiny, *extra, "--init", str(start), "--init-scope", "all")
    before = {k: v.float() for k, v in load_model_dir(start)[0].state_dict().items()}
    for run, encoder_moves in (("frozen", False), ("free", True)):
        after = {k: v.float() for k, v in load_model_dir(tmp_path / run / "best")[0].state_dict().items()}
        moved = {k for k in before if not torch.equal(before[k], after[k])}
        assert any(k.startswith("symbol_head.") for k in moved), run
        assert not any(k.startswith("decoder.") for k in moved), run  # the symbol loss never reaches it
        assert any(k.startswith("encoder.") for k in moved) == encoder_moves, run


def test_init_scope_all_continues_a_whole_model(fixtures_dir: Path, tiny: Path, tmp_path: Path) -> None:
    from seq2latex.config import load_yaml_configs
    from seq2latex.training import RunOptions, Trainer

    data = fixtures_dir / "crohme"
    _run(data, tmp_path / "a", tiny, "--max-steps", "3", "--seed", "7")
    src, *_ = load_model_dir(tmp_path / "a" / "best")
    model_cfg, train_cfg = load_yaml_configs(tiny)
    src_state = {k: v.float() for k, v in src.state_dict().items()}

    def initialised(scope: str) -> dict[str, torch.Tensor]:
        opts = RunOptions(data=data, out=tmp_path / scope, init=tmp_path / "a" / "best", init_scope=scope)
        return Trainer(model_cfg, train_cfg, opts).model.state_dict()

    whole = initialised("all")
    for k, v in src_state.items():
        torch.testing.assert_close(whole[k].float(), v, msg=k)
    enc = initialised("encoder")
    assert any(not torch.equal(enc[k].float(), v) for k, v in src_state.items() if k.startswith("decoder."))
    with pytest.raises(ValueError, match="init_scope"):
        initialised("decoder")


def test_init_from_another_architecture_says_what_it_skipped(
    fixtures_dir: Path, tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An --init whose tensors do not fit the config's model (the wrong --config) is not silent."""
    from dataclasses import replace

    from seq2latex.config import load_yaml_configs
    from seq2latex.training import RunOptions, Trainer

    data = fixtures_dir / "crohme"
    _run(data, tmp_path / "a", tiny, "--max-steps", "1")
    model_cfg, train_cfg = load_yaml_configs(tiny)
    wider = replace(model_cfg, encoder=replace(model_cfg.encoder, mlp_ratio=model_cfg.encoder.mlp_ratio * 2))
    opts = RunOptions(data=data, out=tmp_path / "b", init=tmp_path / "a" / "best", init_scope="all")
    capsys.readouterr()
    Trainer(model_cfg, train_cfg, opts)
    assert "warning" not in capsys.readouterr().err
    Trainer(wider, train_cfg, opts)
    err = capsys.readouterr().err
    assert "warning:" in err and "encoder." in err and "were not copied" in err


def test_ddp_two_processes_gloo(fixtures_dir: Path, tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(REPO / "train.py"), "--data", str(fixtures_dir / "crohme"), "--out", str(out),
        "--config", str(tiny), "--max-steps", "3", "--device", "cpu", "--no-progress", "--threads", "1",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(_losses(out)) == [1, 2, 3]
    ckpt = load_training_checkpoint(out / "checkpoint.pt")
    assert ckpt["step"] == 3 and len(ckpt["rng"]) == 2  # one RNG state per rank
    assert (out / "best" / "model.safetensors").is_file()


def test_holdout_split_leaves_training_and_is_the_validation_set(
    fixtures_dir: Path, tiny: Path, tmp_path: Path
) -> None:
    from dataclasses import replace

    from seq2latex.config import load_yaml_configs
    from seq2latex.training import RunOptions, Trainer

    data = fixtures_dir / "crohme"
    held = ["70_Frank", "90_Frank", "MfrDB0206"]
    split = tmp_path / "val.txt"
    split.write_text("# three training names\n" + "\n".join(held) + "\n")
    model_cfg, train_cfg = load_yaml_configs(tiny)
    train_cfg = replace(train_cfg, val_source="offline/train", holdout=str(split), limit_val=0)
    trainer = Trainer(model_cfg, train_cfg, RunOptions(data=data, out=tmp_path / "run"))
    names = {r.name for r in trainer.build_data().train_set.records}
    assert len(names) == 31 - 3 and not names & set(held)
    assert sorted(v.reference for v in trainer.val_items) == sorted(
        r.latex.split() for r in _offline_train_records(data) if r.name in held
    )
    metrics = trainer.validate()
    assert {"metric", "le1", "le2", "loss"} <= set(metrics) and metrics["loss"] > 0
    empty = tmp_path / "none.txt"
    empty.write_text("not_a_name\n")
    trainer = Trainer(
        model_cfg, replace(train_cfg, holdout=str(empty)), RunOptions(data=data, out=tmp_path / "x")
    )
    with pytest.raises(ValueError, match="holdout"):
        trainer.build_data()


def _offline_train_records(data: Path) -> list:
    from data.records import discover_sources, read_source

    (src,) = [s for s in discover_sources(data) if s.name == "offline/train"]
    return read_source(src).records


def test_ema_weights_are_what_is_saved(fixtures_dir: Path, tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "ema"
    tiny.write_text(tiny.read_text().replace("  val_every: 0", "  val_every: 0\n  ema_decay: 0.5"))
    _run(fixtures_dir / "crohme", out, tiny, "--max-steps", "4", "--lr", "0.01")
    ckpt = load_training_checkpoint(out / "checkpoint.pt")
    best, *_ = load_model_dir(out / "best")
    raw, *_ = load_model_dir(out / "best_raw")
    moved = 0
    for k, v in best.state_dict().items():  # validated once, at the final step: best == the final EMA
        torch.testing.assert_close(v.float(), ckpt["ema"][k].float(), msg=k, atol=2e-3, rtol=2e-3)
        torch.testing.assert_close(
            raw.state_dict()[k].float(), ckpt["model"][k].float(), msg=k, atol=2e-3, rtol=2e-3
        )
        moved += not torch.allclose(ckpt["ema"][k].float(), ckpt["model"][k].float(), atol=1e-4, rtol=0)
    assert moved > 0  # the average lags the raw weights: it is not the raw model saved twice
    from seq2latex.cli import main as cli

    assert cli(["export", "--checkpoint", str(out / "checkpoint.pt"), "--out", str(tmp_path / "x")]) == 0
    shipped, *_ = load_model_dir(tmp_path / "x")  # fp16 EMA weights, no training state beside them
    for k, v in shipped.state_dict().items():
        torch.testing.assert_close(v.float(), ckpt["ema"][k].float(), msg=k, atol=2e-3, rtol=2e-3)
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        "card.json", "config.json", "model.safetensors", "symbols.json", "tokenizer.json",
    ]  # fmt: skip
    with (out / "log.csv").open() as f:
        last = list(csv.DictReader(f))[-1]
    assert last["val_raw"] != "" and last["val_loss"] != ""


def test_cpu_minute_budget_stops_the_run(fixtures_dir: Path, tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "cpu"
    _run(fixtures_dir / "crohme", out, tiny, "--max-steps", "100000", "--max-cpu-minutes", "0.002")
    with (out / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert 1 <= len(rows) < 100000 and rows[-1]["val"] != ""  # stopped by the budget, validated at the end
    assert float(rows[-1]["cpu_min"]) > 0


def test_command_line_overrides_the_config_file(tiny: Path) -> None:
    args = train.build_parser().parse_args(
        ["--data", "d", "--out", "o", "--config", str(tiny), "--schedule-cpu-minutes", "42", "--lr", "0.01"]
    )
    model_cfg, train_cfg = train.resolve_configs(args)
    assert train_cfg.schedule_cpu_minutes == 42.0 and train_cfg.lr == 0.01
    assert train_cfg.batch_size == 4 and model_cfg.encoder.embed_dim == 32  # the rest is the file's
    plain = train.resolve_configs(
        train.build_parser().parse_args(["--data", "d", "--out", "o", "--config", str(tiny)])
    )
    assert plain[1].schedule_cpu_minutes == 0.0 and plain[1].lr == 0.001


@pytest.mark.parametrize("path", ["loader", "resident"])  # the GPU window's path keeps the task on the device
def test_multitask_symbol_head_trains_with_the_expression_model(
    fixtures_dir: Path, tiny: Path, tmp_path: Path, path: str
) -> None:
    from seq2latex.config import load_yaml_configs

    out = tmp_path / "mt"
    split = tmp_path / "val.txt"
    split.write_text("70_Frank\n90_Frank\nMfrDB0206\n")
    text = tiny.read_text().replace('  holdout: ""\n', "")
    text = text.replace('  val_source: "offline/2014"', '  val_source: "offline/train"\n  symbol_weight: 1.0')
    text = text.replace('  symbol_val_source: "inkml/test2014"', '  symbol_val_source: "inkml/train"')
    if path == "resident":
        text += "  data_path: resident\n  preprocess_workers: 1\n"
    tiny.write_text(text + "  symbol_batch_size: 8\n  symbol_every: 2\n")
    assert load_yaml_configs(tiny)[1].symbol_weight == 1.0
    _run(fixtures_dir / "crohme", out, tiny, "--max-steps", "4", "--holdout", str(split), "--seed", "3")
    with (out / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["sym_loss"] != "" for r in rows] == [True, False, True, False]  # every 2nd step
    assert rows[-1]["val_sym"] != "" and 0.0 <= float(rows[-1]["val_sym"]) <= 100.0
    # the symbol head got gradients: it moved from its initialisation (it gets none without the task)
    _run(
        fixtures_dir / "crohme",
        tmp_path / "init",
        tiny,
        "--max-steps",
        "1",
        "--lr",
        "1e-12",
        "--holdout",
        str(split),
        "--seed",
        "3",
    )
    trained, *_ = load_model_dir(out / "best")
    init, *_ = load_model_dir(tmp_path / "init" / "best")
    head = [k for k in trained.state_dict() if k.startswith("symbol_head.")]
    assert head and any(
        not torch.allclose(trained.state_dict()[k].float(), init.state_dict()[k].float(), atol=1e-3)
        for k in head
    )


def test_keep_validations_saves_every_validated_model(fixtures_dir: Path, tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "keep"
    tiny.write_text(tiny.read_text().replace("  val_every: 0", "  val_every: 2\n  keep_validations: true"))
    _run(fixtures_dir / "crohme", out, tiny, "--max-steps", "4", "--lr", "0.01")
    kept = sorted((out / "validations").iterdir())
    assert [p.name for p in kept] == ["step_2", "step_4"]
    first, *_ = load_model_dir(kept[0])
    last, *_ = load_model_dir(kept[1])
    best, *_ = load_model_dir(out / "best")
    card = json.loads((kept[1] / "card.json").read_text())
    assert card["step"] == 4 and "val_metric" in card["metrics"]
    moved = [k for k, v in last.state_dict().items() if not torch.equal(v, first.state_dict()[k])]
    assert moved  # two different models, not one saved twice
    chosen = kept[1] if json.loads((out / "best" / "card.json").read_text())["step"] == 4 else kept[0]
    same, *_ = load_model_dir(chosen)
    for k, v in best.state_dict().items():  # best/ is one of the kept validations
        torch.testing.assert_close(v, same.state_dict()[k], msg=k)


def test_set_overrides_any_train_key(tiny: Path) -> None:
    args = ["--data", "d", "--out", "o", "--config", str(tiny), "--set", "compile=true", "--set", "lr=2e-3"]
    _, train_cfg = train.resolve_configs(train.build_parser().parse_args(args))
    assert train_cfg.compile is True and train_cfg.lr == 0.002 and train_cfg.batch_size == 4
    with pytest.raises(SystemExit, match="unknown TrainConfig keys"):
        train.resolve_configs(train.build_parser().parse_args([*args[:6], "--set", "nonsense=1"]))


def test_log_rows_every_n_steps_average_the_losses(fixtures_dir: Path, tiny: Path, tmp_path: Path) -> None:
    """`log_rows_every`: the losses stay on the device and are read once per row (no sync per step)."""
    _run(fixtures_dir / "crohme", tmp_path / "each", tiny, "--max-steps", "7")
    tiny.write_text(tiny.read_text() + "  log_rows_every: 3\n")
    _run(fixtures_dir / "crohme", tmp_path / "rows", tiny, "--max-steps", "7")
    each, rows = _losses(tmp_path / "each"), _losses(tmp_path / "rows")
    assert sorted(rows) == [3, 6, 7]  # every 3rd step, and the last
    assert rows[3] == pytest.approx(sum(each[s] for s in (1, 2, 3)) / 3, rel=1e-4)
    assert rows[7] == pytest.approx(each[7], rel=1e-4)


@pytest.mark.slow  # torch.compile builds its kernels first (a minute or more on this CPU)
def test_compile_flag_trains_and_validates(fixtures_dir: Path, tiny: Path, tmp_path: Path) -> None:
    tiny.write_text(tiny.read_text() + "  data_path: resident\n  preprocess_workers: 1\n  compile: true\n")
    _run(fixtures_dir / "crohme", tmp_path / "c", tiny, "--max-steps", "3")
    assert sorted(_losses(tmp_path / "c")) == [1, 2, 3]
    model, *_ = load_model_dir(tmp_path / "c" / "best")  # saved without compile's wrapper names
    assert all(not k.startswith("_orig_mod") and "._orig_mod" not in k for k in model.state_dict())


def test_the_resident_symbol_task_trains_from_packed_crops(
    fixtures_dir: Path, tiny: Path, tmp_path: Path
) -> None:
    """A GPU window carries the symbol crops packed (no InkML there): train and validate the head from them."""
    from data.records import discover_sources, read_source
    from data.symbol_crops import crops_from_dataset
    from data.symbols import CROHME_SYMBOL_CLASSES, SymbolDataset
    from seq2latex.config import load_yaml_configs

    model_cfg = load_yaml_configs(tiny)[0]
    classes = list(CROHME_SYMBOL_CLASSES)  # the classes train.py builds a model with
    source = {s.name: s for s in discover_sources(fixtures_dir / "crohme")}["inkml/train"]
    records = read_source(source).records
    crops = crops_from_dataset(SymbolDataset(records, classes, model_cfg.symbol_size))
    train_file, val_file = crops.save(tmp_path / "train.npz"), crops.save(tmp_path / "val.npz")
    text = tiny.read_text().replace(
        '  symbol_sources: ["inkml/train"]', '  symbol_sources: ["inkml/nowhere"]'
    )
    text = text.replace('  symbol_val_source: "inkml/test2014"', '  symbol_val_source: "inkml/nowhere"')
    text += "  data_path: resident\n  preprocess_workers: 1\n  symbol_weight: 1.0\n  symbol_batch_size: 8\n"
    text += f"  symbol_crops: {train_file}\n  symbol_val_crops: {val_file}\n  val_every: 4\n"
    tiny.write_text(text)
    out = tmp_path / "packed"
    _run(fixtures_dir / "crohme", out, tiny, "--max-steps", "4")
    with (out / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert all(r["sym_loss"] != "" for r in rows)
    assert rows[-1]["val_sym"] != "" and 0.0 <= float(rows[-1]["val_sym"]) <= 100.0


def test_grad_checkpointing_reaches_the_coverage_refiners(
    fixtures_dir: Path, tiny: Path, tmp_path: Path
) -> None:
    from dataclasses import replace

    from seq2latex.config import load_yaml_configs
    from seq2latex.training import RunOptions, Trainer

    model_cfg, train_cfg = load_yaml_configs(tiny)
    covered = replace(model_cfg, decoder=replace(model_cfg.decoder, kind="transformer", cross_coverage=True))
    opts = RunOptions(data=fixtures_dir / "crohme", out=tmp_path / "run")
    trainer = Trainer(covered, replace(train_cfg, grad_checkpointing=True), opts)
    assert all(layer.refiner.grad_checkpointing for layer in trainer.model.decoder.layers)
    with pytest.raises(ValueError, match="cross_coverage"):
        Trainer(model_cfg, replace(train_cfg, grad_checkpointing=True), opts)
