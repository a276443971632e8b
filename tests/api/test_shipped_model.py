"""The service with no model configured uses the shipped model (skips until it is in the package)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from seq2latex.checkpoint import save_model_dir
from seq2latex.model import Seq2Latex
from seq2latex.recognizer import DEFAULT_MODEL_DIR, Recognizer
from tokenizer import LatexTokenizer


@pytest.mark.skipif(
    not (DEFAULT_MODEL_DIR / "config.json").is_file(),
    reason=f"the shipped model is not in the package yet ({DEFAULT_MODEL_DIR} has no config.json)",
)
def test_default_settings_serve_the_shipped_model(images_dir: Path) -> None:
    with TestClient(create_app(Settings(warmup=False))) as c:
        health = c.get("/health")
        assert health.status_code == 200
        assert health.json()["model"]["name"] != "fixture-tiny"
        r = c.post("/solve", files={"file": ("x.png", (images_dir / "x2_minus_4.png").read_bytes())})
        assert r.status_code == 200, r.text
        assert r.json()["latex"].strip()
        assert r.json()["solution"]["kind"] in {"equation", "inequality", "system", "expression", "error"}


def test_symbol_without_a_symbol_head_is_501(tmp_path: Path, images_dir: Path, model_dir: Path) -> None:
    """A model trained without the auxiliary symbol head answers /symbol with 501, not a crash."""
    fixture = Recognizer.from_pretrained(model_dir)
    cfg = fixture.config
    cfg.num_symbol_classes = 0
    tok = LatexTokenizer.load()
    save_model_dir(tmp_path / "m", Seq2Latex(cfg), tok, classes=[], card={"name": "no-symbols"})
    with TestClient(create_app(Settings(model_dir=tmp_path / "m", warmup=False))) as c:
        r = c.post("/symbol", files={"file": ("x.png", (images_dir / "x2_minus_4.png").read_bytes())})
        assert r.status_code == 501, r.text
        assert r.json()["error"]["code"] == "not_available"
