"""`seq2latex serve` as a real process: the load benchmark (48 requests from 8 clients) and the demo page
in headless Chromium (upload a photo, draw on the canvas, edit the LaTeX, Symbol mode)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tokenizer import compact


def test_serve_answers(live_server: str, images_dir: Path, captions: dict[str, str]) -> None:
    assert httpx.get(f"{live_server}/health").json()["model"]["name"] == "fixture-tiny"
    files = {"file": ("p.jpg", (images_dir / "x2_minus_4_photo_exif.jpg").read_bytes())}
    r = httpx.post(f"{live_server}/solve", files=files, timeout=60)
    assert r.status_code == 200 and r.json()["latex"] == captions["x2_minus_4"]


def test_load_48_requests_from_8_clients(live_server: str, load_bench: ModuleType) -> None:
    report = load_bench.run_load(live_server, clients=8, requests=48, endpoint="/solve")
    assert report["requests"] == 48
    assert report["ok"] == 48 and report["errors"] == 0, report
    assert report["throughput_rps"] > 0 and report["latency_ms"]["p99"] >= report["latency_ms"]["p50"] > 0


def test_load_bench_refuses_remote_hosts(load_bench: ModuleType) -> None:
    with pytest.raises(ValueError, match="loopback"):
        load_bench.run_load("http://example.com:80", clients=1, requests=1)


def test_demo_page_in_chromium(
    browser: object, live_server: str, images_dir: Path, captions: dict[str, str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    shots = Path(os.environ.get("SEQ2LATEX_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1200, "height": 820}, locale="en-GB")  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server + "/")
    expect(page.locator("#model-info")).to_contain_text("fixture-tiny")

    # 1. upload a photo (EXIF-rotated JPEG): LaTeX, rendered formula and the solution appear
    page.click("#tab-photo")
    page.set_input_files("#file-input", str(images_dir / "x2_minus_4_photo_exif.jpg"))
    expect(page.locator("#latex-input")).to_have_value(compact(captions["x2_minus_4"]))  # as one types it
    expect(page.locator("#solution-message")).to_have_text("Two real solutions")
    expect(page.locator("#formula math")).to_have_count(1)
    expect(page.locator("#solution-formula")).to_contain_text("2")
    page.screenshot(path=str(shots / "demo_upload.png"), full_page=True)

    # 2. correct the LaTeX by typing: the solution follows without another upload
    page.fill("#latex-input", "x^2 = 9")
    expect(page.locator("#solution-formula")).to_contain_text(re.compile(r"3"))
    expect(page.locator("#formula msup")).to_have_count(1)
    page.select_option("#lang", "nl")
    expect(page.locator("#solution-message")).to_have_text("Twee reële oplossingen")
    page.screenshot(path=str(shots / "demo_edit.png"), full_page=True)

    # 3. draw with the mouse on the canvas and recognize it
    page.click("#tab-draw")
    box = page.locator("#canvas").bounding_box()
    assert box is not None
    strokes = [
        [(60, 150), (120, 80)],
        [(60, 80), (120, 150)],
        [(160, 80), (200, 80), (200, 115), (160, 150), (210, 150)],
    ]
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=6)
        page.mouse.up()
    page.click("#recognize-btn")
    expect(page.locator("#status")).to_contain_text("Herkend")  # the page follows the chosen language
    expect(page.locator("#tab-draw")).to_have_text("Tekenen")
    assert page.input_value("#latex-input").strip()
    page.screenshot(path=str(shots / "demo_draw.png"), full_page=True)

    assert not errors, errors

    # 4. a bad upload shows the server's error message, in the page's language (Dutch since step 2; the
    # browser logs the 415 itself)
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    page.click("#tab-photo")
    page.set_input_files("#file-input", str(bad))
    expect(page.locator("#error")).to_contain_text("ondersteund formaat")
    assert [e for e in errors if "415" not in e] == []
    page.close()


def test_demo_page_shows_the_steps(browser: object, live_server: str, tmp_path: Path) -> None:
    """Typed LaTeX: the steps appear under the answer, rendered, one per line with the explanation beside
    each, in the page's language."""
    from playwright.sync_api import expect

    shots = Path(os.environ.get("SEQ2LATEX_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="en-GB")  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server + "/")
    expect(page.locator("#steps-box")).to_be_hidden()
    page.fill("#latex-input", "3x + 2 = x - 4")
    expect(page.locator("#solution-message")).to_have_text("One real solution")
    steps = page.locator("#steps li.step")
    expect(page.locator("#steps-box")).to_be_visible()
    expect(steps).to_have_count(4)
    expect(steps.locator(".step-math math")).to_have_count(4)  # rendered MathML, one formula per line
    expect(steps.nth(3).locator(".step-explanation")).to_have_text("Divide both sides by 2")
    expect(steps.nth(3).locator(".step-math")).to_contain_text("3")
    first, last = steps.nth(0).bounding_box(), steps.nth(3).bounding_box()
    assert first is not None and last is not None and last["y"] > first["y"]  # one per line
    math_box = steps.nth(0).locator(".step-math").bounding_box()
    text_box = steps.nth(0).locator(".step-explanation").bounding_box()
    assert math_box is not None and text_box is not None and text_box["x"] > math_box["x"]  # beside it

    page.select_option("#lang", "nl")
    expect(page.locator("#steps-box h2")).to_have_text("Stappen")
    expect(steps.nth(3).locator(".step-explanation")).to_have_text("Deel beide kanten door 2")
    page.fill("#latex-input", "x^2 - 2x - 1 = 0")
    expect(page.locator("#steps li.step.aside .step-explanation")).to_contain_text("abc-formule")
    expect(page.locator("#steps li.step").last.locator(".step-math msqrt")).to_have_count(2)
    page.screenshot(path=str(shots / "demo_steps.png"), full_page=True)

    page.select_option("#lang", "en")
    page.fill("#latex-input", "x^2 = 2,25")  # 422 on the English page: the old steps go with the old answer
    expect(page.locator("#error")).to_have_text("Write 2.25 (with a decimal point) or switch to Nederlands.")
    expect(page.locator("#steps-box")).to_be_hidden()
    expect(page.locator("#steps li")).to_have_count(0)
    page.fill("#latex-input", "x^2 - 2x - 1 = 0")
    expect(page.locator("#steps-box")).to_be_visible()

    page.fill("#latex-input", "\\sin x = 0")  # no steps for this: the list goes away, the answer stays
    expect(page.locator("#steps-box")).to_be_hidden()
    expect(page.locator("#solution-formula")).to_contain_text("π")
    assert [e for e in errors if "422" not in e] == [], errors  # the browser logs the 422 it was sent
    page.close()


def test_demo_page_follows_the_current_input(
    browser: object, live_server: str, images_dir: Path, tmp_path: Path
) -> None:
    """Alternatives with one click, typed-style LaTeX, stale results cleared after an error, the
    student's wording for a decimal comma, the accepted formats from /version."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1200, "height": 820}, locale="en-GB")  # type: ignore[attr-defined]
    page.goto(live_server + "/")
    formats = httpx.get(f"{live_server}/version").json()["limits"]["formats"]
    shown = page.locator("#formats")
    expect(shown).not_to_be_empty()
    assert [f.upper() for f in shown.inner_text().split(", ")] == formats
    page.click("#tab-photo")
    page.set_input_files("#file-input", str(images_dir / "x2_minus_4.png"))
    expect(page.locator("#solution-message")).not_to_be_empty()
    chips = page.locator("#alternatives .chip")
    expect(chips.first).to_be_visible()  # the page asks for a beam: alternatives appear
    first = chips.first.get_attribute("data-latex")  # the chip shows the formula, it stands for this LaTeX
    assert first and "{ " not in first and " }" not in first  # typed style, not spaced tokens
    chips.first.click()
    expect(page.locator("#latex-input")).to_have_value(first)
    expect(page.locator("#status")).to_have_text("Solved.")

    # a bad file: the old formula, solution and picture go
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    page.set_input_files("#file-input", str(bad))
    expect(page.locator("#error")).to_contain_text("supported format")
    expect(page.locator("#formula math")).to_have_count(0)
    expect(page.locator("#solution-formula math")).to_have_count(0)
    expect(page.locator("#solution-message")).to_have_text("")
    expect(page.locator("#latex-input")).to_have_value("")
    expect(page.locator("#preview")).to_be_hidden()

    # a decimal comma on the English page: what to do, in the student's words
    page.fill("#latex-input", "x^2 = 2,25")
    expect(page.locator("#error")).to_have_text("Write 2.25 (with a decimal point) or switch to Nederlands.")
    expect(page.locator("#formula math")).to_have_count(0)
    page.select_option("#lang", "nl")
    expect(page.locator("#solution-message")).to_have_text("Twee reële oplossingen")
    expect(page.locator("#error")).to_be_hidden()
    page.close()


def test_demo_page_at_phone_width(browser: object, live_server: str) -> None:
    """At 390 px the canvas hint lies inside the canvas, and nothing scrolls sideways."""
    for locale in ("en-GB", "nl-NL"):
        page = browser.new_page(viewport={"width": 390, "height": 800}, locale=locale)  # type: ignore[attr-defined]
        page.goto(live_server + "/")
        expect_ready = page.locator("#canvas")
        expect_ready.wait_for()
        ink = page.evaluate(
            """() => {
              const c = document.getElementById("canvas");
              const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
              let lo = c.width, hi = -1;
              for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) {
                const i = 4 * (y * c.width + x);
                if (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
              }
              return {lo, hi, width: c.width, scroll: document.documentElement.scrollWidth};
            }"""
        )
        assert ink["hi"] > ink["lo"], ink  # the hint is drawn
        assert ink["lo"] > 4 and ink["hi"] < ink["width"] - 5, ink  # ... and not clipped at either side
        assert ink["scroll"] <= 390, ink
        page.close()


def _draw(page: object, canvas: str, strokes: list[list[tuple[int, int]]]) -> None:
    box = page.locator(canvas).bounding_box()  # type: ignore[attr-defined]
    assert box is not None
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])  # type: ignore[attr-defined]
        page.mouse.down()  # type: ignore[attr-defined]
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=6)  # type: ignore[attr-defined]
        page.mouse.up()  # type: ignore[attr-defined]


def test_symbol_mode_in_chromium(browser: object, live_server: str, tmp_path: Path) -> None:
    """Symbol mode: draw one symbol, see the top-5 with bars; several symbols get their own message."""
    from playwright.sync_api import expect

    shots = Path(os.environ.get("SEQ2LATEX_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1200, "height": 820}, locale="en-GB")  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live_server + "/")
    expect(page.locator("#tab-symbol")).to_have_text("Symbol")
    page.click("#tab-symbol")
    expect(page.locator("#panel-symbol")).to_be_visible()
    expect(page.locator("#panel-draw")).to_be_hidden()
    page.click("#classify-btn")
    expect(page.locator("#symbol-error")).to_have_text("Draw a symbol first.")

    _draw(page, "#symbol-canvas", [[(110, 110), (210, 110)], [(160, 60), (160, 160)]])  # a plus
    page.click("#classify-btn")
    rows = page.locator("#symbol-results li")
    expect(rows).to_have_count(5)
    expect(page.locator("#symbol-error")).to_be_hidden()
    served = httpx.get(f"{live_server}/version").json()["model"]["card"]
    labels = [rows.nth(i).locator(".label").get_attribute("title") for i in range(5)]
    assert all(label for label in labels)
    widths = [
        rows.nth(i).locator(".bar span").evaluate("e => e.getBoundingClientRect().width") for i in range(5)
    ]
    assert widths == sorted(widths, reverse=True) and widths[0] > 0  # bars, most probable first
    pcts = [float(rows.nth(i).locator(".pct").inner_text().rstrip("%")) for i in range(5)]
    assert pcts == sorted(pcts, reverse=True) and 0 < sum(pcts) <= 100.5
    calibrated = "symbol_calibration" in served
    expect(page.locator("#symbol-note")).to_contain_text(
        "calibrated on held-out" if calibrated else "not calibrated"
    )
    page.screenshot(path=str(shots / "demo_symbol.png"), full_page=True)

    # Dutch, then a formula drawn in Symbol mode: the page says so instead of guessing
    page.select_option("#lang", "nl")
    expect(page.locator("#tab-symbol")).to_have_text("Symbool")
    expect(page.locator("#symbol-results li")).to_have_count(0)
    page.click("#symbol-clear-btn")
    _draw(page, "#symbol-canvas", [[(30, 60), (30, 160)], [(200, 60), (200, 160)], [(300, 60), (300, 160)]])
    page.click("#classify-btn")
    expect(page.locator("#symbol-error")).to_contain_text("meerdere symbolen")
    expect(page.locator("#symbol-results li")).to_have_count(0)
    # the Draw tab still works after visiting Symbol mode
    page.click("#tab-draw")
    expect(page.locator("#panel-symbol")).to_be_hidden()
    assert page.locator("#canvas").bounding_box()["width"] > 100  # type: ignore[index]
    assert [e for e in errors if "422" not in e] == []
    page.close()


@pytest.fixture(scope="module")
def doubting_server(model_dir: Path, serve: Callable[..., AbstractContextManager[str]]) -> Iterator[str]:
    """The fixture model served with SEQ2LATEX_CONFIRM_BELOW=1: every reading needs confirmation."""
    with serve(model_dir, {"SEQ2LATEX_CONFIRM_BELOW": "1"}) as url:
        yield url


X2 = [
    [(60, 150), (120, 80)],
    [(60, 80), (120, 150)],
    [(160, 80), (200, 80), (200, 115), (160, 150), (210, 150)],
]


def test_demo_page_asks_before_solving_a_doubtful_reading(
    browser: object, doubting_server: str, tmp_path: Path
) -> None:
    """Below the confidence threshold the page first asks "Is this what you wrote?" (in the page's
    language), offers the reading and its alternatives and the editable LaTeX, and shows no solution
    until the writer confirms, picks or corrects."""
    from playwright.sync_api import expect

    shots = Path(os.environ.get("SEQ2LATEX_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    assert httpx.get(f"{doubting_server}/version").json()["confirmation"]["threshold"] == 1.0
    page = browser.new_page(viewport={"width": 1200, "height": 820}, locale="en-GB")  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(doubting_server + "/")
    expect(page.locator("#confirm-box")).to_be_hidden()
    _draw(page, "#canvas", X2)
    page.click("#recognize-btn")
    expect(page.locator("#confirm-box")).to_be_visible()
    expect(page.locator("#confirm-question")).to_have_text("Is this what you wrote?")
    expect(page.locator("#confirm-why")).to_contain_text("not sure")
    expect(page.locator("#solution-area")).to_be_hidden()  # no solution presented as the answer
    reading = page.input_value("#latex-input")
    assert reading.strip()
    chips = page.locator("#confirm-choices .chip")
    expect(chips.first).to_have_attribute("data-latex", reading)  # the reading itself, then its alternatives
    expect(chips.first.locator("math")).to_have_count(1)  # shown as a formula, not as LaTeX
    page.screenshot(path=str(shots / "demo_confirm.png"), full_page=True)

    # in Dutch the question is Dutch, and still nothing is solved
    page.select_option("#lang", "nl")
    expect(page.locator("#confirm-question")).to_have_text("Is dit wat je schreef?")
    expect(page.locator("#confirm-btn")).to_have_text("Ja, los dit op")
    expect(page.locator("#confirm-why")).to_contain_text("twijfelt")
    expect(page.locator("#solution-area")).to_be_hidden()
    page.click("#confirm-btn")  # yes: the solution of that reading appears, in Dutch
    expect(page.locator("#confirm-box")).to_be_hidden()
    expect(page.locator("#solution-area")).to_be_visible()
    expect(page.locator("#solution-message")).not_to_be_empty()
    expect(page.locator("#status")).to_have_text("Opgelost.")

    # again, and this time correct the LaTeX instead: the corrected formula is solved
    page.select_option("#lang", "en")
    page.click("#clear-btn")
    _draw(page, "#canvas", X2)
    page.click("#recognize-btn")
    expect(page.locator("#confirm-box")).to_be_visible()
    expect(page.locator("#solution-area")).to_be_hidden()
    page.fill("#latex-input", "x^2 = 9")
    expect(page.locator("#confirm-box")).to_be_hidden()
    expect(page.locator("#solution-formula")).to_contain_text("3")
    expect(page.locator("#status")).to_have_text("Solved.")
    assert errors == [], errors
    page.close()


def test_symbol_mode_hides_the_formula_result(browser: object, live_server: str, images_dir: Path) -> None:
    """Switching to Symbol mode takes the previous formula's reading and solution off the screen."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1200, "height": 820}, locale="en-GB")  # type: ignore[attr-defined]
    page.goto(live_server + "/")
    page.click("#tab-photo")
    page.set_input_files("#file-input", str(images_dir / "x2_minus_4_photo_exif.jpg"))
    expect(page.locator("#solution-message")).to_have_text("Two real solutions")
    page.click("#tab-symbol")
    expect(page.locator("#result-card")).to_be_hidden()
    expect(page.locator("#solution-message")).to_be_hidden()
    expect(page.locator("#formula math")).to_have_count(0)
    page.click("#tab-draw")  # back to formulas: an empty result card, nothing left over
    expect(page.locator("#result-card")).to_be_visible()
    expect(page.locator("#solution-message")).to_have_text("")
    expect(page.locator("#formula math")).to_have_count(0)
    expect(page.locator("#latex-input")).to_have_value("")
    expect(page.locator("#status")).to_have_text("Draw a formula or upload a photo.")
    page.close()


def test_load_bench_says_what_it_needs_without_httpx() -> None:
    """Without the dev extras the benchmark names what to install instead of a bare ModuleNotFoundError."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "load_bench.py"
    code = f"import sys, runpy; sys.modules['httpx'] = None; sys.argv = ['load_bench.py', '--help']; runpy.run_path({str(script)!r}, run_name='__main__')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "pip install -e '.[dev]'" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_dutch_page_shows_dutch_errors(
    browser: object, live_server: str, images_dir: Path, tmp_path: Path
) -> None:
    """On the Dutch page every message is Dutch: the server's errors (it is sent the page's language)
    and the page's own words."""
    from PIL import Image
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1200, "height": 820}, locale="nl-NL")  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live_server + "/")
    expect(page.locator("#tab-photo")).to_have_text("Foto")
    page.click("#tab-photo")
    blank = tmp_path / "blank.png"
    Image.new("L", (300, 150), 255).save(blank)
    page.set_input_files("#file-input", str(blank))
    expect(page.locator("#error")).to_have_text("geen handschrift gevonden in de afbeelding")
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    page.set_input_files("#file-input", str(notes))
    expect(page.locator("#error")).to_contain_text("geen afbeelding in een ondersteund formaat")
    page.fill("#latex-input", "x^2 = 9")
    expect(page.locator("#solution-message")).to_have_text("Twee reële oplossingen")
    expect(page.locator("#timings")).to_contain_text("totaal")
    expect(page.locator("#timings")).not_to_contain_text("total ")
    page.click("#tab-symbol")  # Symbol mode: a formula drawn there gets the server's Dutch words too
    _draw(page, "#symbol-canvas", [[(30, 60), (30, 160)], [(200, 60), (200, 160)], [(300, 60), (300, 160)]])
    page.click("#classify-btn")
    expect(page.locator("#symbol-error")).to_contain_text("meerdere symbolen")
    page.select_option("#lang", "en")  # the page's language changes: the Dutch message goes with it
    page.click("#tab-photo")
    page.set_input_files("#file-input", str(blank))
    expect(page.locator("#error")).to_have_text("no handwriting found in the image")
    assert errors == [], errors
    page.close()
