"""`eval-symbols` measures what POST /symbol answers: the same crops give the same top-5 probabilities."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from api.app import create_app
from api.settings import Settings
from data.ink_parts import image_layout
from data.symbols import SymbolDataset
from seq2latex.recognizer import DEFAULT_MODEL_DIR, Recognizer
from seq2latex.symbol_eval import read_inkml, score_symbols

TEST2014 = Path(__file__).resolve().parents[1] / "fixtures" / "crohme" / "inkml" / "test2014"


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "config.json").is_file(), reason="no shipped model")
def test_eval_crops_match_the_symbol_route() -> None:
    recognizer = Recognizer.from_pretrained()
    reader = recognizer.symbol_reader  # the model that reads single symbols (the shipped symbols/ model)
    records = read_inkml(TEST2014)
    scores = score_symbols(reader, records)
    probs = torch.softmax(scores.logits / reader.symbol_temperature, -1)  # (N, C)
    ds = SymbolDataset(records, reader.classes, reader.config.symbol_size, pen=reader.config.symbol_pen)
    checked = 0
    with TestClient(create_app(Settings(warmup=False), recognizer=recognizer)) as client:
        for i in range(0, len(ds), 3):
            image = ds.render(i)
            if not image_layout(image).single_symbol:
                continue
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            r = client.post("/symbol", files={"file": ("crop.png", buf.getvalue())})
            assert r.status_code == 200, r.text
            got = r.json()["predictions"]
            top = probs[i].topk(5)
            assert [p["label"] for p in got] == [reader.classes[j] for j in top.indices.tolist()]
            assert [p["probability"] for p in got] == pytest.approx(top.values.tolist(), abs=1e-5)
            checked += 1
    assert checked >= 10


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "config.json").is_file(), reason="no shipped model")
@pytest.mark.parametrize("pad", [0, 10, 20])
def test_symbol_reads_a_zero_with_a_white_margin(pad: int) -> None:
    """A clear thin "0" is a "0" with or without white paper around it (with 10 px it was once "." at
    69 %, outvoted by the two turned views, which came out almost all ink)."""
    im = Image.new("RGB", (20 + 2 * pad, 30 + 2 * pad), (255, 255, 255))
    ImageDraw.Draw(im).ellipse((pad, pad, pad + 20, pad + 30), outline=(0, 0, 0), width=2)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    with TestClient(create_app(Settings(warmup=False), recognizer=Recognizer.from_pretrained())) as client:
        r = client.post("/symbol", files={"file": ("zero.png", buf.getvalue())})
    assert r.status_code == 200, r.text
    top = r.json()["predictions"][0]
    assert top["label"] == "0" and top["probability"] > 0.5, r.json()["predictions"]
