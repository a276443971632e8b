"""The model shipped in the package: it loads with no arguments and reads real CROHME 2014 test images.

The images in tests/fixtures/crohme2014_shipped are ones the shipped model reads correctly today
(greedy); asserting their exact LaTeX makes a regression of the shipped weights fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from seq2latex.cli import main
from seq2latex.recognizer import DEFAULT_MODEL_DIR, SYMBOLS_SUBDIR, Recognizer
from tokenizer import normalize

SPLIT = Path(__file__).resolve().parents[1] / "fixtures" / "crohme2014_shipped"


@pytest.fixture(scope="module")
def shipped() -> Recognizer:
    assert (DEFAULT_MODEL_DIR / "config.json").is_file(), "the package ships a model"
    return Recognizer.from_pretrained()


def _captions() -> dict[str, str]:
    return dict(line.split("\t") for line in (SPLIT / "caption.txt").read_text().splitlines())


def test_shipped_model_is_small_and_documented(shipped: Recognizer) -> None:
    size = sum(f.stat().st_size for f in DEFAULT_MODEL_DIR.rglob("*") if f.is_file())  # symbols/ included
    assert size <= 25 * 2**20  # the service contract: the model directory stays <= 25 MB
    card = shipped.card
    assert 0 <= card["metrics"]["crohme2014_exprate_greedy"] <= 100 and card["training_data"]
    assert card["training"]["cpu_minutes"] > 0 and card["training"]["commands"]
    assert card["metrics"]["val_split"] == "crohme_val"


def test_single_symbols_are_read_by_the_model_that_trained_on_them(shipped: Recognizer) -> None:
    """The shipped directory's symbols/ model answers for single symbols when it is there; a model
    directory without one reads symbols with its own head."""
    reader = shipped.symbol_reader
    sub = DEFAULT_MODEL_DIR / SYMBOLS_SUBDIR
    if not (sub / "config.json").is_file():
        assert reader is shipped
        return
    assert reader is not shipped and reader.symbol_reader is reader
    assert shipped.card["symbols_model"]["version"] == reader.card["version"]
    assert reader.model.symbol_head is not None and reader.classes
    assert Recognizer.from_pretrained(sub).symbol_reader.card == reader.card


def test_reads_real_crohme_test_images(shipped: Recognizer) -> None:
    captions = _captions()
    names = sorted(captions)
    preds = shipped([Image.open(SPLIT / f"{n}.png") for n in names])
    assert {n: p.latex for n, p in zip(names, preds, strict=True)} == {
        n: normalize(captions[n]) for n in names
    }
    assert all(0.0 < p.confidence <= 1.0 for p in preds)


def test_eval_defaults_to_the_shipped_model(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    assert main(["eval", "--data", str(SPLIT), "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["n"] == len(_captions()) and metrics["exprate"] == 100.0


def test_eval_reports_a_photo_like_copy(shipped: Recognizer, tmp_path: Path) -> None:
    out = tmp_path / "photo.json"
    assert (
        main(
            [
                "eval",
                "--data",
                str(SPLIT),
                "--augment",
                "1",
                "--seed",
                "3",
                "--limit",
                "3",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert report["n"] == 3 and report["augment"] == {"strength": 1.0, "seed": 3, "paper": "plain"}
    assert report["model"].startswith(shipped.card["name"])
    rows = [json.loads(line) for line in out.with_name("photo.predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    assert main(["eval", "--data", str(SPLIT), "--augment", "-1"]) == 2
