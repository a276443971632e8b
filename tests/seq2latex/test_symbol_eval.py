"""`seq2latex eval-symbols` and `calibrate-symbols` with the shipped model on the committed InkML fixtures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from data.records import iter_inkml_records
from data.symbols import normalize_label
from seq2latex.calibration import CALIBRATION_KEY, weights_sha256
from seq2latex.checkpoint import load_card
from seq2latex.cli import main
from seq2latex.recognizer import DEFAULT_MODEL_DIR, Recognizer, symbol_model_dir
from seq2latex.symbol_eval import CELL_PX, LABEL_PX, confusion_image, read_inkml, score_symbols

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "crohme"
TEST2014 = FIXTURES / "inkml" / "test2014"

pytestmark = [
    pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "config.json").is_file(), reason="no shipped model"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


@pytest.fixture(scope="module")
def shipped() -> Recognizer:
    return Recognizer.from_pretrained()


def test_eval_symbols_json_and_confusion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "sym.json", tmp_path / "conf.png"
    rc = main(["eval-symbols", "--data", str(TEST2014), "--json", str(out), "--confusion", str(png), "--threads", "1"])
    assert rc == 0
    report = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == report
    classes = json.loads((DEFAULT_MODEL_DIR / "symbols.json").read_text())
    labels = [normalize_label(s.label) for r in iter_inkml_records(TEST2014) for s in r.symbols or []]
    assert report["n"] == sum(label in classes for label in labels) > 30  # every traceGroup of a class
    assert report["left_out"] == {}
    assert sum(v["n"] for v in report["per_class"].values()) == report["n"]
    assert set(report["per_class"]) == {label for label in labels if label in classes}
    assert 0 <= report["top1"] <= report["top5"] <= 100
    wrong = round(report["n"] * (1 - report["top1"] / 100))
    assert sum(p["count"] for p in report["confused"]) <= wrong
    assert all(p["true"] != p["predicted"] for p in report["confused"])
    assert report["temperature"] == pytest.approx(Recognizer.from_pretrained().symbol_reader.symbol_temperature, abs=1e-4)
    assert 0 <= report["ece"] <= 100 and report["ece_bins"] == 15
    with Image.open(png) as im:
        assert im.width >= LABEL_PX + len(report["per_class"]) * CELL_PX


def test_temperature_changes_calibration_not_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    runs = {}
    for t in ("1", "4"):
        assert main(["eval-symbols", "--data", str(TEST2014), "--temperature", t, "--limit", "30"]) == 0
        runs[t] = json.loads(capsys.readouterr().out)
    assert runs["1"]["n"] == runs["4"]["n"] == 30
    assert runs["1"]["top1"] == runs["4"]["top1"] and runs["1"]["top5"] == runs["4"]["top5"]
    assert runs["4"]["temperature"] == 4.0
    assert runs["4"]["mean_top1_probability"] < runs["1"]["mean_top1_probability"]
    assert runs["4"]["ece_at_t1"] == runs["1"]["ece"]


def test_eval_symbols_bad_input(tmp_path: Path) -> None:
    assert main(["eval-symbols", "--data", str(tmp_path / "missing")]) == 2
    assert main(["eval-symbols", "--data", str(tmp_path)]) == 2  # no InkML
    assert main(["eval-symbols", "--data", str(TEST2014), "--temperature", "0"]) == 2


def test_confusion_image_shows_the_classes_that_occur(shipped: Recognizer) -> None:
    scores = score_symbols(shipped, read_inkml(TEST2014), limit=25)
    shown = set(scores.labels.tolist()) | set(scores.logits.argmax(-1).tolist())
    im = confusion_image(scores, shipped.classes)
    assert im.size == (LABEL_PX + len(shown) * CELL_PX + 2, 18 + LABEL_PX + len(shown) * CELL_PX + 2)
    # batching does not change the logits: the first crop alone gives the same
    one = score_symbols(shipped, read_inkml(TEST2014), limit=1)
    assert torch.allclose(one.logits[0], scores.logits[0], atol=1e-5)


def test_calibrate_symbols_writes_the_card(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On a split file naming fixture training expressions; the source model dir is left unchanged."""
    train = sorted((FIXTURES / "inkml" / "train").rglob("*.inkml"))
    names = [p.stem for p in train if p.stat().st_size > 0][:6]
    split = tmp_path / "val.txt"
    split.write_text("# test split\n" + "\n".join(names) + "\n")
    model = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model)
    before = (symbol_model_dir(model) / "card.json").read_text()
    out = tmp_path / "calibrated"
    rc = main(["calibrate-symbols", "--data", str(FIXTURES), "--split", str(split), "--model", str(model),
               "--out", str(out), "--threads", "1"])  # fmt: skip
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert (symbol_model_dir(model) / "card.json").read_text() == before
    # the temperature belongs to the weights that read symbols: the shipped directory's symbols/ model
    symbols = symbol_model_dir(out)
    entry = load_card(symbols)[CALIBRATION_KEY]
    assert entry == report[CALIBRATION_KEY]
    assert entry["split"] == str(split) and entry["expressions"] == len(names) and entry["n"] > 20
    assert entry["weights_sha256"] == weights_sha256(symbols)
    assert entry["nll_after"] <= entry["nll_before"] + 1e-6
    assert 0.05 <= entry["temperature"] <= 20
    assert Recognizer.from_pretrained(out).symbol_reader.symbol_temperature == entry["temperature"]
    # the rest of the card is kept
    assert load_card(symbols)["name"] == json.loads(before)["name"]


def test_calibrate_symbols_refuses_a_split_it_cannot_find(tmp_path: Path) -> None:
    split = tmp_path / "val.txt"
    split.write_text("no_such_expression\n")
    assert main(["calibrate-symbols", "--data", str(FIXTURES), "--split", str(split), "--out", str(tmp_path / "o")]) == 2
    assert main(["calibrate-symbols", "--data", str(tmp_path / "nope")]) == 2
    assert not (tmp_path / "o").exists()
