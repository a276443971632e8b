"""The demo page for a pupil, in headless Chromium against `seq2latex serve` (fixture model): the
alternatives are rendered formulas (MathML from the server, no script from elsewhere), the edit box is
labelled "Formula (LaTeX)" / "Formule (LaTeX)", the timings sit in a closed "How long it took", and a
formula the pupil types does not stand beside the previous photo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx


def _page(browser: Any, url: str, locale: str = "en-GB") -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1200, "height": 820}, locale=locale)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url + "/")
    page.requests = requests  # every URL the page asked for
    return page, errors


def test_the_api_renders_every_alternative(live_server: str, images_dir: Path) -> None:
    files = {"file": ("x.png", (images_dir / "x2_minus_4.png").read_bytes())}
    alts = httpx.post(f"{live_server}/recognize?beam=3", files=files, timeout=60).json()["alternatives"]
    assert alts and all(a["mathml"] and a["mathml"].startswith("<math") for a in alts), alts


def test_alternatives_are_formulas_to_pick(browser: Any, live_server: str, images_dir: Path) -> None:
    from playwright.sync_api import expect

    page, errors = _page(browser, live_server)
    page.click("#tab-photo")
    page.set_input_files("#file-input", str(images_dir / "x2_minus_4.png"))
    chips = page.locator("#alternatives .chip")
    expect(chips.first).to_be_visible()
    n = chips.count()
    expect(page.locator("#alternatives .chip math")).to_have_count(n)  # each one rendered ...
    expect(page.locator("#alternatives .chip code")).to_have_count(0)  # ... none as raw LaTeX
    for i in range(n):
        text = chips.nth(i).inner_text()
        assert "\\" not in text and "^" not in text and "{" not in text, text
    latex = chips.first.get_attribute("data-latex")
    assert latex and latex in (chips.first.get_attribute("title") or "")  # the LaTeX as the tooltip
    chips.first.click()
    expect(page.locator("#latex-input")).to_have_value(latex)
    expect(page.locator("#status")).to_have_text("Solved.")
    expect(page.locator("#preview")).to_be_visible()  # an alternative of the photo: the photo stays
    assert all(u.startswith(live_server) or u.startswith(("data:", "blob:")) for u in page.requests), page.requests
    assert errors == [], errors
    page.close()


def test_the_edit_box_is_labelled_for_a_pupil(browser: Any, live_server: str) -> None:
    from playwright.sync_api import expect

    page, errors = _page(browser, live_server)
    label = page.locator("label[for=latex-input]")
    expect(label).to_contain_text("Formula (LaTeX)")
    page.select_option("#lang", "nl")
    expect(label).to_contain_text("Formule (LaTeX)")
    page.close()
    page, _ = _page(browser, live_server, locale="nl-NL")
    expect(page.locator("label[for=latex-input]")).to_contain_text("Formule (LaTeX)")
    assert errors == [], errors
    page.close()


def test_the_timings_are_out_of_the_way(browser: Any, live_server: str) -> None:
    from playwright.sync_api import expect

    page, errors = _page(browser, live_server)
    expect(page.locator("#timings-box")).to_be_hidden()  # nothing timed yet
    page.fill("#latex-input", "x^2 = 9")
    expect(page.locator("#solution-message")).to_have_text("Two real solutions")
    box = page.locator("#timings-box")
    expect(box.locator("summary")).to_have_text("How long it took")
    expect(page.locator("#timings")).to_be_hidden()  # closed until asked for
    box.locator("summary").click()
    expect(page.locator("#timings")).to_be_visible()
    expect(page.locator("#timings")).to_contain_text("total")
    page.select_option("#lang", "nl")
    expect(box.locator("summary")).to_have_text("Hoe lang het duurde")
    assert errors == [], errors
    page.close()


def test_a_typed_formula_does_not_stand_beside_the_previous_photo(
    browser: Any, live_server: str, images_dir: Path
) -> None:
    from playwright.sync_api import expect

    page, errors = _page(browser, live_server)
    page.click("#tab-photo")
    page.set_input_files("#file-input", str(images_dir / "x2_minus_4.png"))
    expect(page.locator("#solution-message")).not_to_be_empty()
    expect(page.locator("#preview")).to_be_visible()
    read = page.input_value("#latex-input")
    page.fill("#latex-input", "3x + 2 = x - 4")
    expect(page.locator("#solution-message")).to_have_text("One real solution")
    expect(page.locator("#preview")).to_be_hidden()
    expect(page.locator("#model-view")).to_be_hidden()
    expect(page.locator("#page-overlay")).to_be_hidden()
    # the same photo chosen again is read again, and shown again
    page.set_input_files("#file-input", str(images_dir / "x2_minus_4.png"))
    expect(page.locator("#preview")).to_be_visible()
    expect(page.locator("#latex-input")).to_have_value(read)
    assert errors == [], errors
    page.close()
