"""POST /check's work: the lines of a pupil's working (typed, or read from a photo or ink, one step a line)
checked step by step by `seq2latex.solver.check`, in the solver's thread pool, within the request's time."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PIL import Image

from api.errors import ApiError
from api.images import open_image
from api.ink import Strokes, split_ink_lines
from api.limits import InferenceLimiter
from api.pipeline import Recognition, in_pool, recognize_ink_sync, recognize_sync
from api.telemetry import record_stage
from seq2latex.recognizer import Recognizer
from seq2latex.solver.check import CheckInputError, check_working
from seq2latex.solver.config import MAX_CHECK_LINES

CHECK_MARGIN_S = 0.5  # the check's own time limit ends this long before the request's


def too_few_lines(found: int) -> ApiError:
    return ApiError(
        422,
        "too_few_lines",
        f"{found} line(s) of writing found: checking needs at least 2 lines, one step a line",
        nl=f"{found} regel(s) handschrift gevonden: voor een controle zijn minstens 2 regels nodig, één stap per regel",
    )


def too_many_lines(found: int) -> ApiError:
    return ApiError(
        422,
        "too_many_lines",
        f"{found} lines of writing found; at most {MAX_CHECK_LINES} can be checked at once",
        nl=f"{found} regels handschrift gevonden; hoogstens {MAX_CHECK_LINES} kunnen tegelijk",
    )


def input_error(exc: CheckInputError) -> ApiError:
    """The 422 for lines that cannot be checked, in English and Dutch."""
    n = None if exc.index is None else exc.index + 1
    texts = {
        "not_a_list": ("'lines' must be a list of strings", "'lines' moet een lijst met teksten zijn"),
        "not_a_string": (f"line {n} is not a string", f"regel {n} is geen tekst"),
        "too_few_lines": (
            "send at least 2 lines: a step goes from one line to the next",
            "stuur minstens 2 regels: een stap gaat van de ene regel naar de volgende",
        ),
        "too_many_lines": (
            f"at most {MAX_CHECK_LINES} lines can be checked at once",
            f"er kunnen hoogstens {MAX_CHECK_LINES} regels tegelijk gecontroleerd worden",
        ),
        "empty_line": (f"line {n} is empty", f"regel {n} is leeg"),
        "line_too_long": (
            f"line {n} is longer than the limit of {exc.limit} characters",
            f"regel {n} is langer dan de grens van {exc.limit} tekens",
        ),
    }
    en, nl = texts[exc.code]
    code = "too_few_lines" if exc.code == "too_few_lines" else "invalid_lines"
    return ApiError(422, code, en, nl=nl)


def recognize_photo_lines(recognizer: Recognizer, im: Image.Image, beam: int) -> list[Recognition]:
    """Every line of writing of a photo, top to bottom (the photo path's lines, `line` = 1, 2, ...); a clean
    image or a photo with one line gives one. A line the splitter found that holds no writing once the page
    is cleaned (a shadow's or a grid's remnant) is left out. The default reading is reused for its line on a
    sheet found on a desk (there it is that line alone). Runs in a worker thread."""
    heaviest = recognize_sync(recognizer, im, beam)  # the default reading; `page` lists every line
    page = heaviest.page or {}
    found = len(page.get("lines") or [])
    if found < 2:
        return [heaviest]
    if found > MAX_CHECK_LINES:
        raise too_many_lines(found)
    out = []
    for k in range(1, found + 1):
        # on a sheet the default reading is the heaviest line alone; a photo that is all paper reads its
        # heaviest cluster of ink, which need not be that line: there every line is read as asked
        if k == page.get("line") and page.get("sheet"):
            out.append(heaviest)
            continue
        try:
            out.append(recognize_sync(recognizer, im, beam, line=k))
        except ApiError as exc:
            if exc.code != "blank_image":
                raise
    return out


def line_box(rec: Recognition) -> list[list[float]] | None:
    """The box of the line a recognition read (four corners, fractions of the photo), or None."""
    page = rec.page or {}
    lines, k = page.get("lines") or [], page.get("line")
    return lines[k - 1] if isinstance(k, int) and 1 <= k <= len(lines) else None


def recognize_ink_lines(recognizer: Recognizer, strokes: Strokes, beam: int) -> list[Recognition]:
    """Each line of the ink (`api.ink.split_ink_lines`) drawn and read on its own. Runs in a worker thread."""
    lines = split_ink_lines(strokes)
    if len(lines) > MAX_CHECK_LINES:
        raise too_many_lines(len(lines))
    return [recognize_ink_sync(recognizer, line, beam) for line in lines]


async def read_lines(
    recognizer: Recognizer,
    limiter: InferenceLimiter,
    *,
    image: bytes | None,
    strokes: Strokes | None,
    beam: int,
    max_pixels: int,
    timeout_s: float,
) -> list[Recognition]:
    """The recognized lines of a photo or of ink (one inference job; 503/504 as /recognize)."""
    if strokes is not None:
        return await in_pool(limiter, timeout_s, recognize_ink_lines, recognizer, strokes, beam)
    assert image is not None
    im = open_image(image, max_pixels)
    return await in_pool(limiter, timeout_s, recognize_photo_lines, recognizer, im, beam)


async def check_lines(
    executor: ThreadPoolExecutor, lines: list[str], lang: str, timeout_s: float
) -> dict[str, Any]:
    """`check_working` in the solver's thread pool; the steps not reached within `timeout_s` are "unknown"
    (the check bounds itself), and a check that still has not answered is a 504."""
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    budget = max(0.5, timeout_s - CHECK_MARGIN_S)
    fut = loop.run_in_executor(executor, lambda: check_working(lines, lang, timeout_s=budget))
    try:
        return await asyncio.wait_for(fut, timeout_s)
    except CheckInputError as exc:
        raise input_error(exc) from exc
    except asyncio.TimeoutError as exc:
        raise ApiError(
            504,
            "check_timeout",
            f"the check did not finish within {timeout_s:g} s",
            nl=f"de controle was niet binnen {timeout_s:g} s klaar",
        ) from exc
    finally:
        record_stage("check", time.perf_counter() - start)
