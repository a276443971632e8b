"""The demo's Draw and Symbol pads send their strokes (JSON ink), not a bitmap: CROHME ink drawn on them with
the mouse in headless Chromium, read by `seq2latex serve` with the shipped model. The slow test replays
50 CROHME 2014 test expressions (benchmarks/ink_replay.py) and holds the pad's ExpRate to `seq2latex eval`'s
on the same expressions' offline images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from data.inkml import read_inkml
from seq2latex.recognizer import DEFAULT_MODEL_DIR

REPO = Path(__file__).resolve().parents[2]
INKML = REPO / "tests" / "fixtures" / "crohme" / "inkml" / "test2014"
MAX_EXPRATE_GAP = 3.0  # points: the pad may read at most this much worse (or better) than the offline images
SLOW_COUNT = 50

pytestmark = pytest.mark.skipif(
    not (DEFAULT_MODEL_DIR / "config.json").is_file(), reason="the shipped model is not in the package"
)


@pytest.fixture(scope="module")
def replay(load_script: Callable[[str, Path], ModuleType]) -> ModuleType:
    return load_script("ink_replay", REPO / "benchmarks" / "ink_replay.py")


def test_draw_pad_sends_its_strokes(browser: Any, shipped_server: str, replay: ModuleType) -> None:
    page = replay.open_draw_page(browser, shipped_server)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    strokes = read_inkml(INKML / "502_em_12.inkml").strokes  # R_L, three strokes
    box = page.locator("#canvas").bounding_box()
    drawn = replay.pad_strokes(strokes, box["width"], box["height"])
    shown = replay.replay_on_page(page, strokes)
    sent = shown["sent"]
    assert isinstance(sent, dict) and "image" not in sent, "the pad sent a picture, not its strokes"
    assert len(sent["strokes"]) == len(strokes)
    for got, want in zip(sent["strokes"], drawn, strict=True):
        # what the pointer drew, in the pad's CSS pixels (the mouse may round to whole pixels)
        assert abs(got[0][0] - want[0][0]) <= 1 and abs(got[0][1] - want[0][1]) <= 1
        assert abs(got[-1][0] - want[-1][0]) <= 1 and abs(got[-1][1] - want[-1][1]) <= 1
        assert len(got) >= len(want) // 2
    assert shown["status"] == 200 and shown["response"]["source"] == "ink"
    assert replay.same_tokens("R _ { L }", shown["latex"]), shown["latex"]
    assert not errors, errors
    page.close()


def test_symbol_pad_sends_its_strokes(browser: Any, shipped_server: str, replay: ModuleType) -> None:
    page = browser.new_page(viewport=replay.VIEWPORT, locale="en-GB")
    page.goto(shipped_server + "/")
    page.click("#tab-symbol")
    rec = read_inkml(INKML / "502_em_12.inkml")
    by_id = rec.strokes_by_id()
    symbol = next(s for s in rec.symbols if s.label == "R")
    strokes = [by_id[t] for t in symbol.trace_ids]
    box = page.locator("#symbol-canvas").bounding_box()
    assert box is not None
    replay.draw_on(page, "#symbol-canvas", replay.pad_strokes(strokes, box["width"], box["height"]))
    with page.expect_request(lambda r: "/symbol" in r.url) as info:
        page.click("#classify-btn")
    sent = info.value.post_data_json
    assert isinstance(sent, dict) and len(sent["strokes"]) == len(strokes)
    assert info.value.headers["content-type"].startswith("application/json")
    first = page.locator("#symbol-results li .label").first
    first.wait_for()
    assert first.get_attribute("title") == "R"
    page.close()


@pytest.mark.slow
def test_pad_reads_crohme_ink_as_well_as_eval_reads_the_images(replay: ModuleType) -> None:
    """Needs ../shared/crohme (InkML test2014 and offline/2014); ~10 minutes on 2 CPU cores."""
    if not (replay.INKML_DIR.is_dir() and (replay.OFFLINE_DIR / "caption.txt").is_file()):
        pytest.skip(f"CROHME 2014 not found at {replay.INKML_DIR} / {replay.OFFLINE_DIR}")
    if not replay.CHROMIUM.exists():
        pytest.skip(f"{replay.CHROMIUM} not found")
    report = replay.run(SLOW_COUNT, chromium=replay.CHROMIUM)
    assert report["n"] == SLOW_COUNT
    assert report["page_sent_strokes"]
    assert abs(report["page_minus_eval"]) <= MAX_EXPRATE_GAP, report["exprate"]
    assert abs(report["api_minus_eval"]) <= MAX_EXPRATE_GAP, report["exprate"]
