"""Ink in: /recognize, /solve and /symbol read JSON `strokes` and `inkml` with the shipped model, drawn by the
project's renderer as the training data is; every kind of bad ink gets its own 4xx code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.ink import OFFLINE_PAD_PX, render_expression
from api.limits import MAX_INK_COORDINATE, MAX_INK_POINTS, MAX_INK_STROKE_POINTS, MAX_INK_STROKES
from api.settings import Settings
from data.inkml import read_inkml
from seq2latex.recognizer import DEFAULT_MODEL_DIR

INKML = Path(__file__).resolve().parents[1] / "fixtures" / "crohme" / "inkml" / "test2014"

pytestmark = pytest.mark.skipif(
    not (DEFAULT_MODEL_DIR / "config.json").is_file(), reason="the shipped model is not in the package"
)


@pytest.fixture(scope="module")
def shipped() -> Iterator[TestClient]:
    """The service with the shipped model (the confirmation threshold of its card)."""
    with TestClient(create_app(Settings(warmup=False)), raise_server_exceptions=False) as c:
        yield c


def strokes_of(name: str) -> list[list[list[float]]]:
    return [s.tolist() for s in read_inkml(INKML / f"{name}.inkml").strokes]


def test_strokes_are_read_by_the_shipped_model(shipped: TestClient) -> None:
    r = shipped.post("/recognize", json={"strokes": strokes_of("502_em_12")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["latex"] == "R _ { L }"
    assert body["needs_confirmation"] is False  # 0.80 against the card's 0.455
    assert "render" in body["timings_ms"]


def test_a_doubtful_ink_reading_needs_confirmation(shipped: TestClient) -> None:
    r = shipped.post("/recognize", json={"strokes": strokes_of("34_em_225")})
    assert r.status_code == 200, r.text
    assert r.json()["confidence"] < 0.455
    assert r.json()["needs_confirmation"] is True


def test_ink_is_normalised_whatever_its_size_place_and_extra_values(shipped: TestClient) -> None:
    """A pad's pixels (a third of the size, shifted, y and x, with a timestamp per point) read the same."""
    pad = [
        [[0.3 * x + 400.0, 0.3 * y + 120.0, 1000.0 + 16.0 * i] for i, (x, y) in enumerate(s)]
        for s in strokes_of("502_em_12")
    ]
    r = shipped.post("/recognize", json={"strokes": pad})
    assert r.status_code == 200, r.text
    assert r.json()["latex"] == "R _ { L }"


def test_ink_is_drawn_at_the_offline_images_scale_whatever_its_units() -> None:
    """The median stroke spans OFFLINE_STROKE_EXTENT_PX whether the ink is in CROHME units or pad pixels."""
    strokes = read_inkml(INKML / "34_em_225.inkml").strokes
    big = render_expression(strokes)
    small = render_expression([0.05 * s + 7.0 for s in strokes])
    assert abs(big.height - small.height) <= 1 and abs(big.width - small.width) <= 2
    ink = np.asarray(big) > 128
    rows = np.flatnonzero(ink.any(axis=1))
    assert rows[0] >= OFFLINE_PAD_PX - 1 and big.height - 1 - rows[-1] >= OFFLINE_PAD_PX - 1


def test_inkml_text_reads_as_its_strokes(shipped: TestClient) -> None:
    text = (INKML / "502_em_12.inkml").read_text()
    r = shipped.post("/recognize", json={"inkml": text})
    assert r.status_code == 200, r.text
    assert r.json()["latex"] == "R _ { L }"


def test_solve_takes_strokes(shipped: TestClient) -> None:
    r = shipped.post("/solve", json={"strokes": strokes_of("RIT_2014_97"), "lang": "nl"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "ink"
    assert body["latex"] == "1 2"
    assert body["solution"]["kind"] == "expression"
    assert body["needs_confirmation"] is False


def test_symbol_takes_the_strokes_of_one_symbol(shipped: TestClient) -> None:
    rec = read_inkml(INKML / "502_em_12.inkml")
    by_id = rec.strokes_by_id()
    r_symbol = next(s for s in rec.symbols if s.label == "R")
    strokes = [by_id[t].tolist() for t in r_symbol.trace_ids]
    r = shipped.post("/symbol", json={"strokes": strokes})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][0]["label"] == "R"


def test_symbol_refuses_the_ink_of_a_formula(shipped: TestClient) -> None:
    r = shipped.post("/symbol", json={"strokes": strokes_of("RIT_2014_225")})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "several_symbols"


def _point_strokes(n_strokes: int, points: int) -> list[list[list[float]]]:
    return [[[float(i), float(j % 7)] for i in range(points)] for j in range(n_strokes)]


BAD_STROKES: list[tuple[str, Any, int, str]] = [
    ("no strokes", [], 422, "empty_ink"),
    ("only empty strokes", [[], []], 422, "empty_ink"),
    ("not a list", "1,2 3,4", 422, "invalid_ink"),
    ("a stroke not a list", [{"x": 1, "y": 2}], 422, "invalid_ink"),
    ("a point not a list", [[1, 2, 3]], 422, "invalid_ink"),
    ("a point with one value", [[[1]]], 422, "invalid_ink"),
    ("a point with too many values", [[[1, 2, 3, 4, 5, 6, 7, 8, 9]]], 422, "invalid_ink"),
    ("a string coordinate", [[["1", 2]]], 422, "invalid_ink"),
    ("a boolean coordinate", [[[True, 2]]], 422, "invalid_ink"),
    ("a null coordinate", [[[None, 2]]], 422, "invalid_ink"),
    ("too far out", [[[0, 0], [2 * MAX_INK_COORDINATE, 1]]], 422, "ink_out_of_range"),
    ("too many strokes", [[[0, 0]]] * (MAX_INK_STROKES + 1), 413, "ink_too_large"),
    ("too long a stroke", _point_strokes(1, MAX_INK_STROKE_POINTS + 1), 413, "ink_too_large"),
    (
        "too many points",
        _point_strokes(MAX_INK_POINTS // MAX_INK_STROKE_POINTS + 1, MAX_INK_STROKE_POINTS),
        413,
        "ink_too_large",
    ),
]


@pytest.mark.parametrize("route", ["/recognize", "/solve", "/symbol"])
@pytest.mark.parametrize(("what", "strokes", "status", "code"), BAD_STROKES, ids=[b[0] for b in BAD_STROKES])
def test_bad_strokes_get_their_code(
    shipped: TestClient, route: str, what: str, strokes: Any, status: int, code: str
) -> None:
    r = shipped.post(route, json={"strokes": strokes})
    assert r.status_code == status, (what, r.text)
    assert r.json()["error"]["code"] == code


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_coordinates_are_refused(shipped: TestClient, literal: str) -> None:
    """Python's JSON reader takes NaN/Infinity (and 1e400 overflows to inf); none of them is ink."""
    body = '{"strokes": [[[0, 0], [' + literal + ", 5]]]}"
    r = shipped.post("/recognize", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_ink"


BAD_INKML = [
    ("not XML", "<ink><trace>1 2, 3 4</ink>", "invalid_inkml"),
    ("no traces", "<ink><annotation type='truth'>x</annotation></ink>", "empty_ink"),
    ("empty", "   ", "empty_ink"),
    (
        "entities",
        '<!DOCTYPE ink [<!ENTITY a "1 2, 3 4">]><ink><trace>&a;</trace></ink>',
        "invalid_inkml",
    ),
]


@pytest.mark.parametrize(("what", "text", "code"), BAD_INKML, ids=[b[0] for b in BAD_INKML])
def test_bad_inkml_gets_its_code(shipped: TestClient, what: str, text: str, code: str) -> None:
    r = shipped.post("/recognize", json={"inkml": text})
    assert r.status_code == 422, (what, r.text)
    assert r.json()["error"]["code"] == code


def test_inkml_over_the_limits_is_refused(shipped: TestClient) -> None:
    traces = "".join(f"<trace>{j} 0, {j} 1</trace>" for j in range(MAX_INK_STROKES + 1))
    r = shipped.post("/recognize", json={"inkml": f"<ink>{traces}</ink>"})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "ink_too_large"


@pytest.mark.parametrize(
    "body",
    [
        {"strokes": [[[0, 0], [1, 1]]], "image": "aGVsbG8="},
        {"strokes": [[[0, 0], [1, 1]]], "latex": "x=1"},
        {"strokes": [[[0, 0], [1, 1]]], "inkml": "<ink><trace>1 2, 3 4</trace></ink>"},
    ],
)
def test_ink_with_another_input_is_refused(shipped: TestClient, body: dict[str, Any]) -> None:
    r = shipped.post("/solve", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_input"


def test_ink_errors_are_in_dutch(shipped: TestClient) -> None:
    r = shipped.post("/recognize", json={"strokes": [[["a", 1]]], "lang": "nl"})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "strokes[0][0][0] is geen getal"
    r = shipped.post("/recognize?lang=nl", json={"strokes": []})
    assert r.json()["error"]["message"] == "de inkt bevat geen punten"
    r = shipped.post("/recognize", json={"strokes": [[[0, 0]]] * (MAX_INK_STROKES + 1), "lang": "nl"})
    assert (
        r.json()["error"]["message"]
        == f"de inkt heeft {MAX_INK_STROKES + 1} streken; de grens is {MAX_INK_STROKES}"
    )


def test_a_single_dot_is_ink(shipped: TestClient) -> None:
    """One point (a tap) is drawn as a dot of the pen, not refused or divided by zero."""
    r = shipped.post("/recognize", json={"strokes": [[[10, 10]]]})
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["latex"], str)


def test_version_states_the_ink_limits(shipped: TestClient) -> None:
    ink = shipped.get("/version").json()["limits"]["ink"]
    assert ink == {
        "max_strokes": MAX_INK_STROKES,
        "max_stroke_points": MAX_INK_STROKE_POINTS,
        "max_points": MAX_INK_POINTS,
        "max_coordinate": MAX_INK_COORDINATE,
    }


def test_the_openapi_schema_documents_ink(shipped: TestClient) -> None:
    schema = shipped.get("/openapi.json").json()
    for route in ("/recognize", "/solve", "/symbol"):
        props = schema["paths"][route]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert {"strokes", "inkml"} <= set(props["properties"]), route
    assert json.dumps(schema)  # serialisable
