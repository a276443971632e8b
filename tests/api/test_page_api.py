"""Whole-page photos through the service: the sheet and the lines in `page`, `line` picks a line, and a photo
without paper, an empty sheet, an all-dark or all-white frame are 422s in the request's language."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from data.inkml import read_inkml
from data.photo_render import PageConfig, _desk, page_photo
from data.render import render_strokes

INKML = Path(__file__).resolve().parents[1] / "fixtures" / "crohme" / "inkml"


def _jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


@pytest.fixture(scope="module")
def two_lines() -> bytes:
    inks = [
        render_strokes(read_inkml(INKML / "train" / "expressmatch" / "70_Frank.inkml").strokes, 200, 5.0),
        render_strokes(read_inkml(INKML / "test2014" / "RIT_2014_97.inkml").strokes, 200, 5.0),
    ]
    cfg = PageConfig(desk="dark", p_pen=0.0, line_gap=(2.0, 2.5))
    return _jpeg(page_photo(inks, np.random.default_rng([7, 0]), cfg).image)


def _error(resp, code: str) -> str:  # noqa: ANN001
    assert resp.status_code == 422, resp.text
    body = resp.json()["error"]
    assert body["code"] == code, body
    return body["message"]


def test_a_page_lists_its_lines_and_reads_the_one_asked_for(client: TestClient, two_lines: bytes) -> None:
    files = {"file": ("page.jpg", two_lines, "image/jpeg")}
    default = client.post("/recognize", files=files)
    assert default.status_code == 200, default.text
    page = default.json()["page"]
    assert len(page["lines"]) == 2 and page["line"] in (1, 2)
    assert len(page["sheet"]) == 4 and all(0 <= x <= 1 and 0 <= y <= 1 for x, y in page["sheet"])
    assert len(page["writing"]) == 4
    second = client.post("/recognize", files=files, data={"line": "2"})
    assert second.status_code == 200 and second.json()["page"]["line"] == 2
    first = client.post("/recognize?line=1", files=files).json()
    assert first["page"]["line"] == 1 and first["model_input"] != second.json()["model_input"]
    solved = client.post("/solve", files=files, data={"line": "2"})
    assert solved.status_code == 200 and solved.json()["page"]["line"] == 2
    # a line the photo does not have, or no line number at all
    en = _error(client.post("/recognize", files=files, data={"line": "3"}), "invalid_parameter")
    nl = _error(client.post("/recognize", files=files, data={"line": "3", "lang": "nl"}), "invalid_parameter")
    assert "2" in en and en != nl and "regel" in nl
    for bad in ("0", "x", "1.5"):
        _error(client.post("/recognize", files=files, data={"line": bad}), "invalid_parameter")


def test_a_clean_image_has_no_page(client: TestClient, images_dir: Path) -> None:
    path = sorted(images_dir.glob("*.png"))[0]
    resp = client.post("/recognize", files={"file": (path.name, path.read_bytes(), "image/png")})
    assert resp.status_code == 200 and resp.json()["page"] is None


def _frame(kind: str) -> bytes:
    rng = np.random.default_rng(3)
    if kind == "black":
        return _jpeg(Image.new("RGB", (800, 600), (6, 6, 8)))
    if kind == "white":
        return _jpeg(Image.new("RGB", (800, 600), (250, 250, 250)))
    if kind == "empty sheet":
        return _jpeg(page_photo([], np.random.default_rng([7, 1]), PageConfig(desk="wood", p_pen=0.0)).image)
    return _jpeg(Image.fromarray((_desk(kind, (1600, 1200), rng) * 255).astype(np.uint8)))


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("wood", "no_paper_found"),
        ("dark", "no_paper_found"),
        ("black", "no_paper_found"),
        ("white", "blank_image"),
        ("empty sheet", "blank_image"),
    ],
)
def test_nothing_to_read_is_a_clear_422_in_both_languages(client: TestClient, kind: str, code: str) -> None:
    files = {"file": ("photo.jpg", _frame(kind), "image/jpeg")}
    en = _error(client.post("/recognize", files=files), code)
    nl = _error(client.post("/solve", files=files, data={"lang": "nl"}), code)
    assert en != nl
    if code == "no_paper_found":
        assert "paper" in en and "papier" in nl
