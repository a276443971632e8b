"""Temperature fitting, ECE, the card entry and the Recognizer applying it."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from data.render import render_symbol
from seq2latex.calibration import (
    CALIBRATION_KEY,
    card_temperature,
    expected_calibration_error,
    fit_temperature,
    nll,
    weights_sha256,
)
from seq2latex.checkpoint import load_card, save_card
from seq2latex.recognizer import DEFAULT_MODEL_DIR, Recognizer


def test_fit_recovers_the_temperature_that_generated_the_labels() -> None:
    g = torch.Generator().manual_seed(0)
    logits = 4.0 * torch.randn(20000, 12, generator=g)  # (N, C): over-confident logits
    for true_t in (0.5, 2.5):
        labels = torch.multinomial(torch.softmax(logits / true_t, -1), 1, generator=g)[:, 0]
        t = fit_temperature(logits, labels)
        assert abs(t - true_t) / true_t < 0.05, (t, true_t)
        assert nll(logits, labels, t) <= min(nll(logits, labels, t * 1.1), nll(logits, labels, t / 1.1))


def test_fit_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        fit_temperature(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError):
        fit_temperature(torch.zeros(4, 3), torch.zeros(3, dtype=torch.long))


def test_ece_by_hand() -> None:
    # 15 bins; 0.95 lands in bin 14 (all right), 0.55 in bin 8 (half right), 0.25 in bin 3 (none)
    conf = np.array([0.95, 0.95, 0.55, 0.55, 0.25])
    ok = np.array([1, 1, 1, 0, 0])
    want = 2 / 5 * 0.05 + 2 / 5 * 0.05 + 1 / 5 * 0.25
    assert expected_calibration_error(conf, ok) == pytest.approx(want)
    assert expected_calibration_error(np.array([1.0, 0.0]), np.array([1, 0])) == pytest.approx(0.0)
    assert expected_calibration_error(np.array([]), np.array([])) == 0.0


def _model_copy(tmp_path: Path) -> Path:
    if not (DEFAULT_MODEL_DIR / "config.json").is_file():
        pytest.skip("the shipped model is not in the package")
    out = tmp_path / "model"
    # the expression model alone: with its symbols/ sub-model, classify_symbol would answer from that one
    shutil.copytree(DEFAULT_MODEL_DIR, out, ignore=shutil.ignore_patterns("symbols"))
    card = load_card(out)
    card.pop(CALIBRATION_KEY, None)
    save_card(out, card)
    return out


def test_card_temperature(tmp_path: Path) -> None:
    model = _model_copy(tmp_path)
    assert card_temperature({}, model) == 1.0
    good = {CALIBRATION_KEY: {"temperature": 2.0, "weights_sha256": weights_sha256(model)}}
    assert card_temperature(good, model) == 2.0
    stale = {CALIBRATION_KEY: {"temperature": 2.0, "weights_sha256": "0" * 64}}
    assert card_temperature(stale, model) == 1.0  # fitted on other weights
    assert card_temperature(good, model, views=1) == 2.0  # no "views": fitted on single crops
    assert card_temperature(good, model, views=3) == 1.0
    three = {CALIBRATION_KEY: {**good[CALIBRATION_KEY], "views": 3}}
    assert card_temperature(three, model, views=3) == 2.0
    assert card_temperature(three, model, views=1) == 1.0
    for bad in (-1, 0, "2", float("nan"), None):
        assert card_temperature({CALIBRATION_KEY: {"temperature": bad}}, model) == 1.0


def test_recognizer_applies_the_card_temperature(tmp_path: Path) -> None:
    model = _model_copy(tmp_path)
    plain = Recognizer.from_pretrained(model)
    assert plain.symbol_temperature == 1.0
    card = load_card(model)
    card[CALIBRATION_KEY] = {"temperature": 3.0, "weights_sha256": weights_sha256(model)}
    save_card(model, card)
    assert json.loads((model / "card.json").read_text())[CALIBRATION_KEY]["temperature"] == 3.0
    # an entry without "views" was fitted on single crops: only a single-view classifier takes it
    assert Recognizer.from_pretrained(model).symbol_temperature == 1.0
    assert Recognizer.from_pretrained(model, symbol_view_angles=()).symbol_temperature == 3.0
    card[CALIBRATION_KEY]["views"] = plain.symbol_views_per_image
    save_card(model, card)
    hot = Recognizer.from_pretrained(model)
    assert hot.symbol_temperature == 3.0
    image = render_symbol([np.array([[0, 0], [10, 10]]), np.array([[10, 0], [0, 10]])], size=128)  # an x
    p1 = plain.classify_symbol(image, k=5)
    p3 = hot.classify_symbol(image, k=5)
    assert [c for c, _ in p1] == [c for c, _ in p3]  # the ranking does not change
    scores = plain.symbol_scores(plain.symbol_views(image)[None])[0]
    want = torch.softmax(scores / 3.0, -1).topk(5).values.tolist()
    assert [p for _, p in p3] == pytest.approx(want, abs=1e-6)
    assert p3[0][1] < p1[0][1]  # T > 1 flattens
    # log-odds between two classes shrink by exactly T
    r1 = math.log(p1[0][1] / p1[1][1])
    r3 = math.log(p3[0][1] / p3[1][1])
    assert r3 == pytest.approx(r1 / 3.0, rel=1e-4)
    # an explicit temperature wins over the card's
    assert [p for _, p in hot.classify_symbol(image, k=5, temperature=1.0)] == pytest.approx([p for _, p in p1])


def test_symbol_scores_average_the_views(tmp_path: Path) -> None:
    """The score is the mean log-probability over the views; one view gives softmax(logits) itself."""
    model = _model_copy(tmp_path)
    rec = Recognizer.from_pretrained(model)
    single = Recognizer.from_pretrained(model, symbol_view_angles=())
    assert rec.symbol_views_per_image == 3 and single.symbol_views_per_image == 1
    image = render_symbol([np.array([[0, 0], [10, 10]]), np.array([[10, 0], [0, 10]])], size=128)  # an x
    views = rec.symbol_views(image)  # (3, 1, S, S)
    logp = torch.log_softmax(rec.symbol_logits(views), -1)  # (3, C)
    assert torch.allclose(rec.symbol_scores(views[None])[0], logp.mean(0), atol=1e-5)
    assert not torch.allclose(logp[0], logp[1], atol=1e-4)  # the turned views do differ
    one = dict(single.classify_symbol(image, k=5, temperature=1.0))
    z = single.symbol_logits(single.symbol_tensor(image)[None])[0]
    want = torch.softmax(z, -1)
    assert list(one.values()) == pytest.approx(want.topk(5).values.tolist(), abs=1e-6)


def test_recognizer_rejects_a_bad_temperature(tmp_path: Path) -> None:
    r = Recognizer.from_pretrained(_model_copy(tmp_path))
    with pytest.raises(ValueError):
        Recognizer(r.model, r.tokenizer, r.config, r.classes, r.card, symbol_temperature=0.0)
