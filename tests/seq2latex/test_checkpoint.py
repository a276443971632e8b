"""Model directory round trip (fp32 / fp16), configs from YAML, atomic training checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seq2latex.checkpoint import (
    load_model_dir,
    load_training_checkpoint,
    save_model_dir,
    save_training_checkpoint,
)
from seq2latex.config import (
    DecoderConfig,
    EncoderConfig,
    ModelConfig,
    TrainConfig,
    from_dict,
    load_yaml_configs,
)
from seq2latex.model import Seq2Latex
from seq2latex.recognizer import Recognizer
from tokenizer import LatexTokenizer


def _model(kind: str) -> Seq2Latex:
    tok = LatexTokenizer.load()
    torch.manual_seed(0)
    cfg = ModelConfig(
        encoder=EncoderConfig(embed_dim=32, depth=1, num_heads=2, stem_channels=8),
        decoder=DecoderConfig(
            kind=kind, d_model=32, num_layers=1, num_heads=2, ff_dim=64, hidden_size=32, attn_dim=16
        ),
        vocab_size=tok.vocab_size,
        num_symbol_classes=3,
        pad_id=tok.pad_id,
        sos_id=tok.sos_id,
        eos_id=tok.eos_id,
    )
    return Seq2Latex(cfg).eval()


@pytest.mark.parametrize("kind", ["transformer", "gru"])
@pytest.mark.parametrize("fp16", [False, True])
def test_model_dir_round_trip(kind: str, fp16: bool, tmp_path: Path) -> None:
    model = _model(kind)
    tok = LatexTokenizer.load()
    save_model_dir(tmp_path / "m", model, tok, ["a", "b", "c"], card={"name": "t", "version": "0"}, fp16=fp16)
    assert {p.name for p in (tmp_path / "m").iterdir()} == {
        "config.json", "model.safetensors", "tokenizer.json", "symbols.json", "card.json",
    }  # fmt: skip
    loaded, tok2, cfg, classes = load_model_dir(tmp_path / "m")
    assert cfg == model.cfg and classes == ["a", "b", "c"] and tok2.vocab == tok.vocab
    x = torch.rand(2, 1, 64, 96)
    t = torch.tensor([[tok.sos_id, 5, 6, tok.eos_id]] * 2)
    with torch.no_grad():
        a, _ = model(x, t)
        b, _ = loaded(x, t)
    torch.testing.assert_close(a, b, atol=2e-2 if fp16 else 1e-6, rtol=1e-2 if fp16 else 1e-6)
    rec = Recognizer.from_pretrained(tmp_path / "m")
    assert rec.card["name"] == "t"


def test_missing_model_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="model directory"):
        Recognizer.from_pretrained(tmp_path / "nothing")


def test_training_checkpoint_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "ck" / "checkpoint.pt"
    save_training_checkpoint(path, {"step": 1, "w": torch.ones(3)})
    save_training_checkpoint(path, {"step": 2, "w": torch.zeros(3)})
    state = load_training_checkpoint(path)
    assert state["step"] == 2 and list(path.parent.iterdir()) == [path]  # no temp files left behind


def test_configs_from_yaml_and_json(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(
        "model:\n  decoder: {kind: gru, coverage: false}\ntrain:\n  lr: 1\n  sampling: {kind: linear}\n"
    )
    model, train = load_yaml_configs(p)
    assert model.decoder.kind == "gru" and model.decoder.coverage is False
    assert train.lr == 1.0 and isinstance(train.lr, float) and train.sampling.kind == "linear"
    assert (
        from_dict(ModelConfig, json.loads(json.dumps(model.__dict__, default=lambda o: o.__dict__))) == model
    )
    p.write_text("train:\n  learning_rate: 1\n")
    with pytest.raises(ValueError, match="learning_rate"):
        load_yaml_configs(p)
    assert TrainConfig().stage == "expressions"
