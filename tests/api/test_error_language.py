"""Every error message comes in the request's language: `lang` of the body, else of the query string,
else `Accept-Language` (the Dutch page once showed "no handwriting found in the image")."""

from __future__ import annotations

import ast
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

API = Path(__file__).resolve().parents[2] / "api"


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


BLANK = _png(Image.new("L", (200, 100), 255))


def _three_bars() -> bytes:
    im = Image.new("L", (300, 120), 255)
    for x in (40, 140, 240):
        ImageDraw.Draw(im).line([(x, 20), (x, 100)], fill=0, width=6)
    return _png(im)


def _message(r: object, status: int, code: str) -> str:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    error = r.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == code
    return str(error["message"])


def test_blank_image_in_dutch_and_english(client: TestClient) -> None:
    files = {"file": ("blank.png", BLANK)}
    nl = _message(client.post("/solve", files=files, data={"lang": "nl"}), 422, "blank_image")
    assert nl == "geen handschrift gevonden in de afbeelding"
    en = _message(client.post("/solve", files=files, data={"lang": "en"}), 422, "blank_image")
    assert en == "no handwriting found in the image"
    assert _message(client.post("/recognize?lang=nl", files=files), 422, "blank_image") == nl
    assert _message(client.post("/symbol", files=files, data={"lang": "nl"}), 422, "blank_image") == nl


def test_every_kind_of_bad_request_in_dutch(make_client: Callable[..., TestClient], images_dir: Path) -> None:
    c = make_client(max_upload_bytes=4000)
    png = (images_dir / "x2_minus_4.png").read_bytes()
    cases = [
        (c.post("/solve?lang=nl", files={"file": ("big.png", bytes(5000))}), 413, "payload_too_large", "groter"),
        (c.post("/solve", files={"file": ("a.txt", b"just some notes")}, data={"lang": "nl"}), 415,
         "unsupported_media_type", "ondersteund formaat"),
        (c.post("/solve", files={"file": ("a.png", png)}, data={"lang": "nl", "beam": "99"}), 422,
         "invalid_parameter", "geheel getal"),
        (c.post("/solve", json={"lang": "nl"}), 422, "missing_input", "het verzoek is leeg"),
        (c.post("/solve", json={"latex": "x^{2", "lang": "nl"}), 422, "unbalanced_latex", "accolades"),
        (c.post("/recognize", json={"latex": "x", "lang": "nl"}), 422, "invalid_input", "geen LaTeX"),
        (c.post("/symbol", files={"file": ("bars.png", _three_bars())}, data={"lang": "nl"}), 422,
         "several_symbols", "symbolen naast elkaar"),
        (c.post("/solve", json={"latex": "x = = 3", "lang": "nl"}), 422, "invalid_latex", "Kon de invoer niet lezen"),
        (c.get("/nowhere", headers={"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.8"}), 404, "not_found",
         "niet gevonden"),
        (c.post("/solve?lang=nl", content=b"x", headers={"Content-Type": "text/plain"}), 415,
         "unsupported_media_type", "stuur multipart"),
    ]  # fmt: skip
    for r, status, code, dutch in cases:
        message = _message(r, status, code)
        assert dutch in message, (code, message)
    # the same requests without a language stay English
    assert "larger" in _message(c.post("/solve", files={"file": ("b.png", bytes(5000))}), 413, "payload_too_large")
    assert _message(c.get("/nowhere"), 404, "not_found") == "Not Found"


def _api_error_calls() -> list[tuple[str, int, set[str]]]:
    calls = []
    for path in sorted(API.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ApiError":
                calls.append((path.name, node.lineno, {k.arg for k in node.keywords if k.arg}))
    return calls


def test_every_api_error_has_a_dutch_message() -> None:
    """Each ApiError the service raises carries its Dutch text, except the solver's own message, which
    the solver already wrote in the request's language."""
    calls = _api_error_calls()
    assert len(calls) > 30
    missing = [(name, line) for name, line, kws in calls if "nl" not in kws and name != "solve.py"]
    assert missing == []


@pytest.mark.parametrize("latex", ["x^2 = 2,25", "\\frac{x}{"])
def test_solver_errors_follow_lang(client: TestClient, latex: str) -> None:
    en = client.post("/solve", json={"latex": latex, "lang": "en"}).json()["error"]["message"]
    nl = client.post("/solve", json={"latex": latex, "lang": "nl"}).json()
    assert nl.get("error") is None or nl["error"]["message"] != en
