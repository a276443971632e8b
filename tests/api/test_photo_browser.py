"""The demo page shows what the model read beside the uploaded photo: a phone photo of squared paper is
uploaded in headless Chromium to `seq2latex serve` (shipped model); the "what was read" thumbnail is the
server's `model_input`, the same picture `data.preprocess` makes of that photo (lines gone, cropped). A photo
of an empty sheet is an error (`blank_image`) and shows no thumbnail."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from data.inkml import read_inkml
from data.photo_render import phone_photo
from data.preprocess import preprocess, view_image
from data.render import render_strokes
from seq2latex.config import model_preprocess_config
from seq2latex.recognizer import DEFAULT_MODEL_DIR

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(
    not (DEFAULT_MODEL_DIR / "config.json").is_file(), reason="the shipped model is not in the package"
)


def _photo(tmp_path: Path, fixtures_dir: Path, empty: bool = False) -> Path:
    strokes = read_inkml(fixtures_dir / "crohme" / "inkml" / "test2014" / "34_em_225.inkml").strokes
    ink = Image.new("L", (400, 100), 0) if empty else render_strokes(strokes, height=160, pen_width=4.0)
    path = tmp_path / ("empty.jpg" if empty else "squared.jpg")
    phone_photo(ink, np.random.default_rng(2), size=(1600, 1200), paper="squared").save(path, quality=88)
    return path


def _upload(browser: Any, url: str, path: Path) -> Any:
    page = browser.new_page(viewport={"width": 1200, "height": 820}, locale="en-GB")
    page.goto(url + "/")
    page.click("#tab-photo")
    with page.expect_response(lambda r: "/solve" in r.url, timeout=TIMEOUT_MS):
        page.set_input_files("#file-input", str(path))
    return page


def test_thumbnail_shows_what_the_model_read(
    browser: Any, shipped_server: str, tmp_path: Path, fixtures_dir: Path
) -> None:
    path = _photo(tmp_path, fixtures_dir)
    page = _upload(browser, shipped_server, path)
    page.locator("#model-view").wait_for(state="visible", timeout=TIMEOUT_MS)
    assert page.locator("#preview").is_visible()
    assert page.locator("#model-view figcaption").inner_text() == "what was read"
    src = page.locator("#model-input").get_attribute("src")
    assert src and src.startswith("data:image/png;base64,")
    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("L"))
    want = np.asarray(view_image(preprocess(path.read_bytes(), model_preprocess_config(None))))
    assert shown.shape == want.shape  # the model's input size, not the photo's
    assert float(np.abs(shown.astype(np.float32) - want).mean()) < 8.0  # the same picture (decoder rounding)
    assert (shown < 128).mean() < 0.3  # dark ink on white, no grid left
    photo_box = page.locator("#preview").bounding_box()
    view_box = page.locator("#model-view").bounding_box()
    assert view_box["height"] < photo_box["height"]  # a small thumbnail ...
    assert view_box["x"] >= photo_box["x"] + photo_box["width"]  # ... beside the photo
    page.close()


def test_empty_sheet_is_an_error_without_thumbnail(
    browser: Any, shipped_server: str, tmp_path: Path, fixtures_dir: Path
) -> None:
    page = _upload(browser, shipped_server, _photo(tmp_path, fixtures_dir, empty=True))
    page.locator("#error").wait_for(state="visible", timeout=TIMEOUT_MS)
    assert page.locator("#model-view").is_hidden()
    page.close()


def test_the_sheet_found_and_the_writing_read_are_drawn_on_the_photo(
    browser: Any, shipped_server: str, tmp_path: Path, fixtures_dir: Path
) -> None:
    from data.photo_render import PageConfig, page_photo

    strokes = read_inkml(fixtures_dir / "crohme" / "inkml" / "test2014" / "RIT_2014_97.inkml").strokes
    shot = page_photo(
        [render_strokes(strokes, 200, 5.0)], np.random.default_rng([7, 1]), PageConfig(desk="dark")
    )
    path = tmp_path / "page.jpg"
    shot.image.save(path, quality=88)
    page = _upload(browser, shipped_server, path)
    page.locator("#model-view").wait_for(state="visible", timeout=TIMEOUT_MS)
    assert page.locator("#page-overlay").is_visible()
    assert page.locator("#page-overlay polygon.sheet").count() == 1
    assert page.locator("#page-overlay polygon.writing").count() == 1
    photo = page.locator("#preview").bounding_box()
    sheet = page.locator("#page-overlay polygon.sheet").bounding_box()
    writing = page.locator("#page-overlay polygon.writing").bounding_box()
    assert photo["x"] - 2 <= sheet["x"] and sheet["x"] + sheet["width"] <= photo["x"] + photo["width"] + 2
    assert (
        sheet["width"] * sheet["height"] < 0.9 * photo["width"] * photo["height"]
    )  # the sheet, not the frame
    assert writing["width"] < sheet["width"] and sheet["x"] <= writing["x"]
    page.close()
