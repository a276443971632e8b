"""POST /solve with "steps": true — JSON body, multipart form field (image upload) and query string."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient


def test_json_steps_come_back_with_mathml(client: TestClient) -> None:
    r = client.post("/solve", json={"latex": "x^2 - 5x + 6 = 0", "lang": "nl", "steps": True})
    assert r.status_code == 200, r.text
    body = r.json()
    steps = body["solution"]["steps"]
    assert body["solution"]["steps_reason"] is None
    assert [s["latex"] for s in steps][-1] == "x = 2 \\vee x = 3"
    assert any("som-productmethode" in s["explanation"] for s in steps)
    assert len(body["steps_mathml"]) == len(steps)
    assert all(m.startswith("<math") for m in body["steps_mathml"])
    assert "<mo>∨</mo>" in body["steps_mathml"][-1]


def test_without_steps_nothing_changes(client: TestClient) -> None:
    body = client.post("/solve", json={"latex": "2x + 1 = 7"}).json()
    assert "steps" not in body["solution"] and body["steps_mathml"] is None
    body = client.post("/solve", json={"latex": "2x + 1 = 7", "steps": False}).json()
    assert "steps" not in body["solution"] and body["steps_mathml"] is None


def test_unsupported_input_has_null_steps_and_a_reason(client: TestClient) -> None:
    body = client.post("/solve", json={"latex": "\\sin x = 0", "steps": True}).json()
    assert body["solution"]["steps"] is None and body["solution"]["steps_reason"]
    assert body["steps_mathml"] is None
    assert body["solution"]["kind"] == "equation" and body["solution"]["solutions"]


def test_steps_as_a_form_field_with_an_image(client: TestClient, images_dir: Path) -> None:
    files = {"file": ("p.png", (images_dir / "2x_plus_1.png").read_bytes())}
    r = client.post("/solve", files=files, data={"steps": "true", "lang": "en"})
    assert r.status_code == 200, r.text
    steps = r.json()["solution"]["steps"]
    assert steps[0]["latex"] == "2x + 1 = 5" and steps[-1]["latex"] == "x = 2"
    assert "Divide both sides by 2" in steps[-1]["explanation"]
    # and through the query string
    r = client.post("/solve?steps=1", json={"latex": "-3x + 2 < 8"})
    assert "flips" in r.json()["solution"]["steps"][-1]["explanation"]


@pytest.mark.parametrize("value", ["maybe", 2, [True]])
def test_a_bad_steps_value_is_422(client: TestClient, value: object) -> None:
    r = client.post("/solve", json={"latex": "x = 1", "steps": value})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_parameter"


def test_steps_keep_the_422_contract_for_typed_latex(client: TestClient) -> None:
    """`"steps": true` changes nothing about what is a client error: unreadable typed LaTeX is still 422,
    LaTeX that was read but cannot be solved is still an answer (with null steps, a reason and its code)."""
    for latex, lang, code in [
        ("\\frac{1}{}+==", "en", "invalid_latex"),
        ("x^2 = 2,25", "en", "decimal_comma"),
        ("x^2 = 2{,}25", "en", "decimal_comma"),
    ]:
        r = client.post("/solve", json={"latex": latex, "lang": lang, "steps": True})
        assert r.status_code == 422, (latex, r.text)
        assert r.json()["error"]["code"] == code
    r = client.post("/solve", json={"latex": "x^2 = 2{,}25", "lang": "nl", "steps": True})
    assert r.status_code == 200, r.text
    sol = r.json()["solution"]
    assert sol["error_code"] is None and sol["steps"] and sol["steps_reason"] is None
    assert r.json()["latex_typed"] == "x^2 = 2{,}25"
    r = client.post("/solve", json={"latex": "\\sin x > x^5 + x", "steps": True})
    assert r.status_code == 200, r.text
    sol = r.json()["solution"]
    assert sol["kind"] == "error" and sol["error_code"] == "cannot_solve"
    assert sol["steps"] is None and sol["steps_reason"] and r.json()["steps_mathml"] is None
