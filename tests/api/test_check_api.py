"""POST /check: typed lines, a photo or ink of several lines; every step checked, the first wrong line found,
bad input a clear 422 in the request's language."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.ink import split_ink_lines
from data.inkml import read_inkml
from data.photo_render import PageConfig, page_photo
from data.render import render_strokes

INKML = Path(__file__).resolve().parents[1] / "fixtures" / "crohme" / "inkml"


def test_the_issue_example_in_dutch_and_english(client: TestClient) -> None:
    lines = ["3(x-2)=9", "3x-2=9", "x=11/3"]
    nl = client.post("/check", json={"lines": lines, "lang": "nl"})
    assert nl.status_code == 200, nl.text
    body = nl.json()
    assert body["first_wrong_line"] == 1 and body["source"] == "typed" and body["beam"] is None
    assert [s["verdict"] for s in body["steps"]] == ["not_equivalent", "equivalent"]
    assert [(s["from"], s["to"]) for s in body["steps"]] == [(0, 1), (1, 2)]
    assert "linkerkant" in body["steps"][0]["explanation"] and "3x - 6" in body["steps"][0]["explanation"]
    assert [line["latex"] for line in body["lines"]] == lines  # typed lines are used as typed
    assert all(line["confidence"] is None and not line["needs_confirmation"] for line in body["lines"])
    en = client.post("/check?lang=en", json={"lines": lines}).json()
    assert "left side" in en["steps"][0]["explanation"]
    right = client.post("/check", json={"lines": ["3(x-2)=9", "3x-6=9", "3x=15", "x=5"]}).json()
    assert right["first_wrong_line"] is None and {s["verdict"] for s in right["steps"]} == {"equivalent"}


@pytest.mark.parametrize(
    ("body", "code", "en_word", "nl_word"),
    [
        ({"lines": []}, "too_few_lines", "at least 2", "minstens 2"),
        ({"lines": ["x=1"]}, "too_few_lines", "at least 2", "minstens 2"),
        ({"lines": ["x=1"] * 31}, "invalid_lines", "30", "30"),
        ({"lines": ["x=1", 7]}, "invalid_lines", "line 2", "regel 2"),
        ({"lines": ["x=1", "x" * 5000]}, "invalid_lines", "line 2", "regel 2"),
        ({"lines": ["x=1", ""]}, "invalid_lines", "empty", "leeg"),
        ({"lines": "x=1\nx=2"}, "invalid_lines", "list", "lijst"),
        ({}, "missing_input", "lines", "regels"),
        ({"lines": ["x=1", "x=1"], "image": "aGk="}, "invalid_input", "not", "niet"),
    ],
)
def test_bad_input_is_a_clear_422_in_the_requests_language(
    client: TestClient, body: dict, code: str, en_word: str, nl_word: str
) -> None:
    en = client.post("/check", json=body)
    nl = client.post("/check", json={**body, "lang": "nl"})
    for resp, word in ((en, en_word), (nl, nl_word)):
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["code"] == code
        assert word in resp.json()["error"]["message"]
    assert en.json()["error"]["message"] != nl.json()["error"]["message"]


def test_bad_json_and_media_types_are_4xx(client: TestClient) -> None:
    assert (
        client.post("/check", content=b"{not json", headers={"content-type": "application/json"}).status_code
        == 422
    )
    assert client.post("/check", content=b"x=1", headers={"content-type": "text/plain"}).status_code == 415


def test_an_unreadable_line_comes_back_marked_and_its_steps_unknown(client: TestClient) -> None:
    body = client.post("/check", json={"lines": ["2x=8", "x=\\frac{", "x=4"]}).json()
    assert [line["readable"] for line in body["lines"]] == [True, False, True]
    assert [s["verdict"] for s in body["steps"]] == ["unknown", "unknown"]
    assert body["first_wrong_line"] is None


def _jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _page(names: list[str], fill_frame: bool = False) -> bytes:
    inks = [render_strokes(read_inkml(INKML / name).strokes, 200, 5.0) for name in names]
    # close up, the lines a symbol apart: the heaviest cluster of ink reaches across both
    gap = (0.9, 1.0) if fill_frame else (2.0, 2.5)
    cfg = PageConfig(desk="dark", p_pen=0.0, line_gap=gap, fill_frame=fill_frame)
    return _jpeg(page_photo(inks, np.random.default_rng([7, 0]), cfg).image)


# on the desk the sheet is found; close up the photo is all paper (its default reading is the heaviest
# cluster of ink, not a line: each line must still be read alone)
@pytest.mark.parametrize("fill_frame", [False, True], ids=["desk", "close-up"])
def test_a_photo_of_lines_is_read_line_by_line_and_checked(client: TestClient, fill_frame: bool) -> None:
    photo = _page(["train/expressmatch/70_Frank.inkml", "test2014/RIT_2014_97.inkml"], fill_frame)
    resp = client.post("/check", files={"file": ("working.jpg", photo, "image/jpeg")}, data={"lang": "nl"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["source"] == "photo" and len(body["lines"]) == 2 and len(body["steps"]) == 1
    for k, line in enumerate(body["lines"], start=1):
        assert line["source"] == "photo" and line["confidence"] is not None and len(line["box"]) == 4
        # each line is what /recognize reads for that line of the same photo
        alone = client.post(
            "/recognize", files={"file": ("w.jpg", photo, "image/jpeg")}, data={"line": str(k)}
        )
        assert alone.json()["latex"] == line["latex"]
    assert body["steps"][0]["verdict"] in ("equivalent", "not_equivalent", "unknown")
    assert body["steps"][0]["explanation"]


def test_an_image_with_one_line_is_refused_in_the_requests_language(
    client: TestClient, images_dir: Path
) -> None:
    path = sorted(images_dir.glob("*.png"))[0]  # a clean scan of one formula
    resp = client.post(
        "/check", files={"file": (path.name, path.read_bytes(), "image/png")}, data={"lang": "nl"}
    )
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "too_few_lines"
    assert "1 regel" in resp.json()["error"]["message"]


def _two_lines_of_ink() -> list[np.ndarray]:
    top = read_inkml(INKML / "test2014" / "34_em_225.inkml").strokes
    bottom = read_inkml(INKML / "test2014" / "502_em_12.inkml").strokes
    top_h = max(float(s[:, 1].max()) for s in top) - min(float(s[:, 1].min()) for s in top)
    y0 = max(float(s[:, 1].max()) for s in top) + 1.5 * top_h - min(float(s[:, 1].min()) for s in bottom)
    return list(top) + [s + np.array([0.0, y0], dtype=np.float32) for s in bottom]


def test_ink_is_split_into_lines_and_a_fraction_stays_one_line() -> None:
    ink = _two_lines_of_ink()
    lines = split_ink_lines(ink)
    assert [len(line) for line in lines] == [
        len(read_inkml(INKML / "test2014" / n).strokes) for n in ("34_em_225.inkml", "502_em_12.inkml")
    ]
    frac = [np.array([[0, 0], [4, 10]], np.float32), np.array([[-2, 13], [8, 13]], np.float32),
            np.array([[0, 16], [4, 26]], np.float32)]  # fmt: skip
    assert len(split_ink_lines(frac)) == 1


def test_ink_of_lines_is_read_line_by_line(client: TestClient) -> None:
    ink = [s.tolist() for s in _two_lines_of_ink()]
    body = client.post("/check", json={"strokes": ink}).json()
    assert body["source"] == "ink" and len(body["lines"]) == 2
    for line, part in zip(
        body["lines"], split_ink_lines([np.asarray(s, np.float32) for s in ink]), strict=True
    ):
        alone = client.post("/recognize", json={"strokes": [s.tolist() for s in part]}).json()
        assert alone["latex"] == line["latex"]


def test_the_openapi_describes_check(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/check"]["post"]
    props = op["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert (
        props["lines"]["maxItems"] == 30
        and "file" in op["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    )
    assert "first_wrong_line" in spec["components"]["schemas"]["CheckResponse"]["properties"]
    assert "from" in spec["components"]["schemas"]["CheckStep"]["properties"]

