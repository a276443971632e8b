"""The demo's "Check my working" / "Controleer mijn uitwerking" mode in headless Chromium against
`seq2latex serve` (fixture model): typed working checked by POST /check, each line shown as a formula with
a box to correct it, the wrong step marked with its explanation beside it (en and nl); corrected lines are
checked again; a drawing is sent as ink of several lines; a photo of one line asks for more lines; a photo of
several lines is shown with each line read boxed on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ISSUE_EXAMPLE = "3(x-2)=9\n3x-2=9\nx=11/3"
TWO_LINES_OF_X2 = [
    [(60, 80), (120, 140)],
    [(60, 140), (120, 80)],
    [(160, 80), (200, 80), (200, 110), (160, 140), (210, 140)],
    [(60, 220), (120, 280)],
    [(60, 280), (120, 220)],
    [(160, 220), (200, 220), (200, 250), (160, 280), (210, 280)],
]


def _page(browser: Any, url: str, locale: str = "en-GB") -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1200, "height": 900}, locale=locale)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/")
    return page, errors


def test_typed_working_shows_the_wrong_step_and_why(browser: Any, live_server: str) -> None:
    from playwright.sync_api import expect

    page, errors = _page(browser, live_server)
    expect(page.locator("#tab-check")).to_have_text("Check my working")
    page.click("#tab-check")
    expect(page.locator("#result-card")).to_be_hidden()  # the mode has its own results
    area, panel = page.locator("#check-text").bounding_box(), page.locator("#panel-check").bounding_box()
    assert area and panel and area["width"] > 0.9 * panel["width"], (area, panel)  # room for a line of working
    page.fill("#check-text", ISSUE_EXAMPLE)
    page.click("#check-btn")
    lines = page.locator("#check-lines li.check-line")
    expect(lines).to_have_count(3)
    expect(page.locator("#check-lines .check-math math")).to_have_count(3)  # each line a rendered formula
    assert [lines.nth(i).locator("input.check-edit").input_value() for i in range(3)] == ISSUE_EXAMPLE.split("\n")
    wrong = lines.nth(1)
    expect(wrong).to_have_class("check-line not_equivalent wrong")
    expect(page.locator("#check-lines li.wrong")).to_have_count(1)
    expect(wrong.locator(".check-mark")).to_have_text("✗")
    expect(lines.nth(2).locator(".check-mark")).to_have_text("✓")
    expect(lines.nth(0).locator(".check-mark")).to_have_text("")
    english = wrong.locator(".check-explanation").inner_text()
    assert "3x - 6" in english, english  # what 3(x - 2) really is
    math_box = wrong.locator(".check-math").bounding_box()
    text_box = wrong.locator(".check-explanation").bounding_box()
    assert math_box and text_box and text_box["x"] > math_box["x"] + math_box["width"] - 1  # beside it
    expect(page.locator("#check-summary")).to_have_text("Line 2 does not follow from the line before.")

    page.select_option("#lang", "nl")  # the same working, explained in Dutch
    expect(page.locator("#tab-check")).to_have_text("Controleer mijn uitwerking")
    expect(page.locator("#check-summary")).to_have_text("Regel 2 volgt niet uit de regel ervoor.")
    expect(wrong.locator(".check-explanation")).not_to_have_text(english)
    expect(wrong.locator(".check-explanation")).to_contain_text("3x - 6")

    # the pupil corrects line 2: now line 3 is the wrong one; then line 3 too: every step holds
    wrong.locator("input.check-edit").fill("3x-6=9")
    expect(page.locator("#check-summary")).to_have_text("Regel 3 volgt niet uit de regel ervoor.")
    expect(lines.nth(2)).to_have_class("check-line not_equivalent wrong")
    lines.nth(2).locator("input.check-edit").fill("x=5")
    expect(page.locator("#check-summary")).to_have_text("Elke stap klopt.")
    expect(page.locator("#check-lines li.wrong")).to_have_count(0)
    expect(page.locator("#check-lines .check-mark")).to_have_text(["", "✓", "✓"])

    page.fill("#check-text", "x=1")  # one line: nothing to check, said in the pupil's words
    page.click("#check-btn")
    expect(page.locator("#check-error")).to_have_text(
        "Schrijf minstens twee regels: de stap van de ene naar de volgende wordt gecontroleerd."
    )
    assert errors == [], errors
    page.close()


def test_a_drawing_is_sent_as_ink_of_several_lines(browser: Any, live_server: str) -> None:
    from playwright.sync_api import expect

    page, errors = _page(browser, live_server)
    page.click("#tab-check")
    page.click(".check-mode[data-mode=draw]")
    expect(page.locator("#check-canvas")).to_be_visible()
    expect(page.locator("#check-text")).to_be_hidden()
    box = page.locator("#check-canvas").bounding_box()
    assert box is not None
    for stroke in TWO_LINES_OF_X2:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=6)
        page.mouse.up()
    with page.expect_request(lambda r: "/check" in r.url) as sent:
        page.click("#check-btn")
    body = sent.value.post_data_json
    assert "lines" not in body and len(body["strokes"]) == len(TWO_LINES_OF_X2)
    lines = page.locator("#check-lines li.check-line")
    expect(lines).to_have_count(2)  # two lines of writing, each read and shown to correct
    for i in range(2):
        assert lines.nth(i).locator("input.check-edit").input_value().strip()
    assert errors == [], errors
    page.close()


def test_a_photo_of_one_line_asks_for_more(browser: Any, live_server: str, images_dir: Path) -> None:
    from playwright.sync_api import expect

    page, errors = _page(browser, live_server, locale="nl-NL")
    page.click("#tab-check")
    page.click(".check-mode[data-mode=photo]")
    expect(page.locator("#check-btn")).to_be_hidden()  # a photo is checked as soon as it is chosen
    with page.expect_response(lambda r: "/check" in r.url) as got:
        page.set_input_files("#check-file", str(images_dir / "x2_minus_4.png"))
    assert got.value.status == 422
    expect(page.locator("#check-error")).to_contain_text("minstens twee regels")
    expect(page.locator("#check-lines li")).to_have_count(0)
    assert errors == [], errors
    page.close()


def test_a_photo_of_working_shows_each_line_on_the_photo(
    browser: Any, live_server: str, tmp_path: Path
) -> None:
    """A photo of two lines: the photo is shown, each line read boxed on it (the second marked like the step
    into it), and the lines listed to correct."""
    import numpy as np
    from playwright.sync_api import expect

    from data.inkml import read_inkml
    from data.photo_render import PageConfig, page_photo
    from data.render import render_strokes

    inkml = Path(__file__).resolve().parents[1] / "fixtures" / "crohme" / "inkml"
    inks = [
        render_strokes(read_inkml(inkml / name).strokes, 200, 5.0)
        for name in ("train/expressmatch/70_Frank.inkml", "test2014/RIT_2014_97.inkml")
    ]
    cfg = PageConfig(desk="dark", p_pen=0.0, line_gap=(2.0, 2.5))
    photo = tmp_path / "working.jpg"
    page_photo(inks, np.random.default_rng([7, 0]), cfg).image.save(photo, quality=85)
    page, errors = _page(browser, live_server)
    page.click("#tab-check")
    page.click(".check-mode[data-mode=photo]")
    with page.expect_response(lambda r: "/check" in r.url) as got:
        page.set_input_files("#check-file", str(photo))
    assert got.value.status == 200
    expect(page.locator("#check-lines li")).to_have_count(2)
    expect(page.locator("#check-preview")).to_be_visible()
    boxes = page.locator("#check-overlay polygon")
    expect(boxes).to_have_count(2)
    body = got.value.json()
    verdict = body["steps"][0]["verdict"]
    assert boxes.nth(0).get_attribute("class") == "first" and boxes.nth(1).get_attribute("class") == verdict
    # the boxes are the lines' boxes from the answer, top to bottom on the photo
    tops = [min(float(p.split(",")[1]) for p in boxes.nth(i).get_attribute("points").split()) for i in (0, 1)]
    assert tops[0] < tops[1] and abs(tops[0] - min(y for _, y in body["lines"][0]["box"])) < 1e-6
    assert errors == [], errors
    page.close()
