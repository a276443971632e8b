"""`seq2latex preprocess IMAGE --out view.png`: the model's input written as a picture."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data.inkml import read_inkml
from data.photo_render import phone_photo
from data.preprocess import preprocess, view_image
from data.render import render_strokes
from seq2latex.cli import main
from seq2latex.config import model_preprocess_config
from seq2latex.recognizer import DEFAULT_MODEL_DIR

pytestmark = pytest.mark.skipif(
    not (DEFAULT_MODEL_DIR / "config.json").is_file(), reason="the shipped model is not in the package"
)


def test_writes_what_the_model_reads(
    tmp_path: Path, fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strokes = read_inkml(fixtures_dir / "crohme" / "inkml" / "test2014" / "34_em_225.inkml").strokes
    photo = tmp_path / "photo.jpg"
    phone_photo(
        render_strokes(strokes, height=160, pen_width=4.0), np.random.default_rng(0), size=(1200, 900)
    ).save(photo, quality=85)
    out = tmp_path / "sub" / "view.png"
    assert main(["preprocess", str(photo), "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["path"] == "photo" and report["blank"] is False
    cfg = model_preprocess_config(None)
    want = view_image(preprocess(photo.read_bytes(), cfg))
    got = Image.open(out)
    assert got.mode == "L" and got.size == want.size and list(report["shape"]) == [1, want.height, want.width]
    assert np.array_equal(np.asarray(got), np.asarray(want))
    assert np.asarray(got)[0, 0] == 255  # dark ink on white by default


def test_clean_image_model_polarity_blank_and_missing(
    tmp_path: Path, fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "view.png"
    clean = fixtures_dir / "images" / "x2_minus_4.png"
    assert main(["preprocess", str(clean), "--out", str(out), "--model-polarity"]) == 0
    assert json.loads(capsys.readouterr().out)["path"] == "clean"
    model_input = preprocess(clean.read_bytes(), model_preprocess_config(None))[0].numpy()
    assert np.array_equal(np.asarray(Image.open(out)), (model_input * 255 + 0.5).astype(np.uint8))
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 100), (240, 238, 230)).save(blank)
    assert main(["preprocess", str(blank), "--out", str(out)]) == 3  # no writing: said so, not a guess
    assert json.loads(capsys.readouterr().out)["blank"] is True
    assert main(["preprocess", str(tmp_path / "missing.jpg"), "--out", str(out)]) == 2
