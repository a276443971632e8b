"""What the README tells a newcomer matches the shipped model and the service's real answers."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image

from seq2latex.recognizer import DEFAULT_MODEL_DIR

README = Path(__file__).resolve().parents[2] / "README.md"


def _opening(lines: int = 20) -> str:
    return "\n".join(README.read_text().splitlines()[:lines])


def test_opening_says_how_often_a_formula_is_read_right() -> None:
    """The one figure a newcomer needs, in the first lines, equal to the card's, with a link to Results."""
    card = json.loads((DEFAULT_MODEL_DIR / "card.json").read_text())
    exprate = card["metrics"]["crohme2014_exprate_greedy"]
    opening = _opening()
    assert f"**{exprate:.1f} %**" in opening and "CROHME 2014" in opening
    assert "[Results](#results)" in opening and "\n## Results\n" in README.read_text()
    threshold = card["confirmation"]["threshold"]
    assert f"below {threshold}" in opening and "needs_confirmation" in opening


def _error_codes_named_with(status: int, text: str) -> set[str]:
    return set(re.findall(rf"{status}\s+`([a-z_]+)`", text.replace("\n", " ")))


def test_readme_names_the_413_codes_the_service_returns(make_client: Callable[..., TestClient]) -> None:
    """An oversized upload is `payload_too_large`, too many pixels `image_too_large`: as the README says."""
    client = make_client(max_upload_bytes=2000, max_pixels=10_000)
    buf = io.BytesIO()
    Image.new("L", (200, 100), 255).save(buf, format="PNG")  # small file, 20,000 pixels
    pixels = client.post("/recognize", files={"file": ("wide.png", buf.getvalue())})
    upload = client.post("/recognize", files={"file": ("big.png", bytes(5000))})
    assert pixels.status_code == upload.status_code == 413
    codes = {pixels.json()["error"]["code"], upload.json()["error"]["code"]}
    assert codes == {"image_too_large", "payload_too_large"}
    named = _error_codes_named_with(413, README.read_text())
    assert codes <= named, named
    assert "one code, `image_too_large`" not in README.read_text().replace("\n", " ")


def test_readme_says_what_the_load_benchmark_needs() -> None:
    text = README.read_text().replace("\n", " ")
    at = text.index("benchmarks/load_bench.py --clients")
    assert "pip install -e '.[dev]'" in text[at - 200 : at + 50]
