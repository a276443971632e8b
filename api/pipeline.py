"""The work behind the routes: decoding + recognition in the bounded pool, solving with a time limit."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from api.errors import ApiError
from api.images import load_image, open_image
from api.ink import Strokes, render_expression, render_one_symbol
from api.inputs import ImageOrLatex
from api.limits import InferenceLimiter, Overloaded
from api.settings import Settings
from api.telemetry import record_stage
from data.ink_parts import image_layout
from data.render import render_strokes
from seq2latex.recognizer import Recognizer

SYMBOL_TOP_K = 5
NO_INK = "no handwriting found in the image"
NO_INK_NL = "geen handschrift gevonden in de afbeelding"
# the solver answers "busy" rather than start a job that could not end this long before the API's solve limit
SOLVE_MARGIN_S = 0.5


@dataclass
class Recognition:
    latex: str
    confidence: float
    alternatives: list[tuple[str, float]]
    tokens: list[str]
    token_probs: list[float]
    timings_ms: dict[str, float] = field(default_factory=dict)
    beam: int = 1  # the beam width it was decoded with
    model_input: str | None = None  # what the model read: a data: URI PNG, dark ink on white
    # seconds per stage, for the metrics and the access log: decode apart from preprocess
    stages_s: dict[str, float] = field(default_factory=dict)
    page: dict[str, Any] | None = None  # a photo: the sheet, the writing's box, the lines (api.schemas.PageInfo)


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2)


def _is_blank(tensor: Any) -> bool:
    return float(tensor.max()) <= 0.0


def _unreadable(exc: Exception) -> ApiError:
    """422 `corrupt_image` for pixels that decoded but that preprocessing cannot read."""
    return ApiError(
        422, "corrupt_image", f"the image cannot be read: {exc}", nl="de afbeelding kan niet gelezen worden"
    )


def _page(info: dict) -> dict[str, Any] | None:
    """What the photo path found (`data.preprocess` info) as the response's `page`; None for a clean image."""
    if not info.get("photo"):
        return None
    return {
        "sheet": info.get("sheet"),
        "writing": info.get("writing"),
        "lines": info.get("line_boxes", []),
        "line": info.get("line"),
    }


def _blank_error(info: dict) -> ApiError:
    """The 422 for an image without anything to read: no paper in view, no such line, or no writing."""
    if info.get("reason") == "no_paper":
        return ApiError(
            422,
            "no_paper_found",
            "no sheet of paper found in the photo: photograph the page with the writing on it",
            nl="geen vel papier gevonden op de foto: fotografeer het blad met het handschrift",
        )
    if info.get("reason") == "no_such_line":
        n = int(info.get("line_count", 0))
        return ApiError(
            422,
            "invalid_parameter",
            f"line must be from 1 to {n}: the photo has {n} line(s) of writing",
            nl=f"line moet van 1 tot en met {n} zijn: de foto heeft {n} regel(s) handschrift",
        )
    return ApiError(422, "blank_image", NO_INK, nl=NO_INK_NL)


def recognize_sync(recognizer: Recognizer, im: Image.Image, beam: int, line: int | None = None) -> Recognition:
    """Decode pixels, preprocess and recognize one image (runs in a worker thread); `line` picks a line of
    writing of a photo (1 = the top one; default the heaviest)."""
    t0 = time.perf_counter()
    load_image(im)
    t_decoded = time.perf_counter()
    info: dict[str, Any] = {}
    try:
        tensor = recognizer.preprocess(im, info=info, line=line)  # (1, H, W)
    except ValueError as exc:  # data.preprocess.PreprocessError and friends
        raise _unreadable(exc) from exc
    if _is_blank(tensor):
        raise _blank_error(info)
    t1 = time.perf_counter()
    pred = recognizer.recognize_tensors([tensor], beam=beam)[0]
    t2 = time.perf_counter()
    return Recognition(
        latex=pred.latex,
        confidence=pred.confidence,
        alternatives=list(pred.alternatives),
        tokens=list(pred.tokens),
        token_probs=list(pred.token_probs),
        beam=pred.beam,
        timings_ms={"preprocess": _ms(t1 - t0), "recognize": _ms(t2 - t1)},
        stages_s={"decode": t_decoded - t0, "preprocess": t1 - t_decoded, "recognize": t2 - t1},
        model_input=model_input_png(tensor),
        page=_page(info),
    )


def model_input_png(tensor: Any) -> str:
    """A model input (1, H, W), ink = 1, as a data: URI PNG with dark ink on white (the demo's thumbnail)."""
    import base64
    import io

    ink = np.clip(np.asarray(tensor[0], dtype=np.float32), 0.0, 1.0)  # (H, W): a tensor or an array
    arr = ((1.0 - ink) * 255.0 + 0.5).astype(np.uint8)  # (H, W)
    buf = io.BytesIO()
    Image.fromarray(arr, "L").save(buf, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def classify_sync(
    recognizer: Recognizer, im: Image.Image, k: int, layout_image: Image.Image | None = None
) -> list[tuple[str, float]]:
    """Top-k symbol classes of one handwritten symbol (runs in a worker thread); 422 `blank_image` without
    ink, 422 `several_symbols` when the ink (of `layout_image`, default `im`) lies in several parts side by
    side (`data.ink_parts`)."""
    load_image(im)
    recognizer = recognizer.symbol_reader
    if not recognizer.has_symbol_classifier:
        raise ApiError(
            501,
            "not_available",
            "this model has no symbol classifier",
            nl="dit model kan geen losse symbolen lezen",
        )
    try:
        layout = image_layout(im if layout_image is None else layout_image)
        if layout.reason == "no_ink" or _is_blank(recognizer.symbol_tensor(im)):
            raise ApiError(422, "blank_image", NO_INK, nl=NO_INK_NL)
        if layout.reason == "several_symbols":
            raise ApiError(
                422,
                "several_symbols",
                f"the image looks like {len(layout.parts)} symbols side by side, not one: "
                "send one symbol (POST /recognize reads a whole formula)",
                nl=f"de afbeelding lijkt {len(layout.parts)} symbolen naast elkaar, niet één: "
                "stuur één symbool (POST /recognize leest een hele formule)",
            )
        return recognizer.classify_symbol(im, k=k)
    except ValueError as exc:
        raise _unreadable(exc) from exc
    except RuntimeError as exc:  # the model has no symbol head
        raise ApiError(501, "not_available", str(exc), nl="dit model kan geen losse symbolen lezen") from exc


def recognize_ink_sync(recognizer: Recognizer, strokes: Strokes, beam: int) -> Recognition:
    """Draw the ink at the offline images' scale (`api.ink.render_expression`), then recognize it as any image
    (runs in a worker thread)."""
    t0 = time.perf_counter()
    im = render_expression(strokes)
    render_s = time.perf_counter() - t0
    rec = recognize_sync(recognizer, im, beam)
    rec.timings_ms = {"render": _ms(render_s), **rec.timings_ms}
    rec.stages_s = {"render": render_s, **rec.stages_s}
    rec.stages_s.pop("decode", None)  # the drawn image needs no decoding
    return rec


def classify_ink_sync(recognizer: Recognizer, strokes: Strokes, k: int) -> list[tuple[str, float]]:
    """Draw one symbol's ink as a training crop is drawn, then classify it as an image; whether it is one
    symbol is judged on the ink drawn as `data.ink_parts` was measured on (`render_strokes`, 72 px high)."""
    reader = recognizer.symbol_reader
    im = render_one_symbol(strokes, reader.config.symbol_size, reader.config.symbol_pen)
    return classify_sync(recognizer, im, k, layout_image=render_strokes(strokes))


async def in_pool(
    limiter: InferenceLimiter, timeout_s: float, fn: Any, *args: Any, stage: str | None = None
) -> Any:
    """Run `fn` in the inference pool, mapping a full queue to 503 and the time limit to 504. The wait for a
    slot is recorded as the request's `queue` stage, and the job's own time as `stage` when given."""
    submitted = time.perf_counter()
    started: list[float] = []
    queued = True

    def job() -> Any:
        started.append(time.perf_counter())
        return fn(*args)

    try:
        result = await limiter.run(timeout_s, job)
        if stage is not None:
            record_stage(stage, time.perf_counter() - started[0])
        return result
    except Overloaded as exc:
        queued = False  # refused at once
        raise ApiError(
            503,
            "overloaded",
            "the server is busy (inference queue full); retry shortly",
            headers={"Retry-After": str(exc.retry_after_s)},
            nl="de server is bezet (de wachtrij is vol); probeer het zo opnieuw",
        ) from exc
    except asyncio.TimeoutError as exc:
        raise ApiError(
            504,
            "timeout",
            f"recognition did not finish within {timeout_s:g} s",
            nl=f"het herkennen was niet binnen {timeout_s:g} s klaar",
        ) from exc
    finally:  # the wait for a slot (all of the time, for a job that timed out before it started)
        if queued:
            record_stage("queue", (started[0] if started else time.perf_counter()) - submitted)


def _recorded(rec: Recognition) -> Recognition:
    for name, seconds in rec.stages_s.items():
        record_stage(name, seconds)
    return rec


async def recognize_bytes(
    recognizer: Recognizer,
    limiter: InferenceLimiter,
    data: bytes,
    beam: int,
    max_pixels: int,
    timeout_s: float,
    line: int | None = None,
) -> Recognition:
    im = open_image(data, max_pixels)  # cheap header checks before queueing: 413 / 415 / 422 at once
    return _recorded(await in_pool(limiter, timeout_s, recognize_sync, recognizer, im, beam, line))


async def recognize_input(
    recognizer: Recognizer, limiter: InferenceLimiter, inp: ImageOrLatex, settings: Settings
) -> Recognition:
    """Recognize the request's image or ink (the one path of both into the Recognizer)."""
    if inp.strokes is not None:
        return await recognize_ink(recognizer, limiter, inp.strokes, inp.beam, settings.request_timeout_s)
    assert inp.image is not None
    return await recognize_bytes(
        recognizer, limiter, inp.image, inp.beam, settings.max_pixels, settings.request_timeout_s, inp.line
    )


async def recognize_ink(
    recognizer: Recognizer, limiter: InferenceLimiter, strokes: Strokes, beam: int, timeout_s: float
) -> Recognition:
    return _recorded(await in_pool(limiter, timeout_s, recognize_ink_sync, recognizer, strokes, beam))


async def classify_ink(
    recognizer: Recognizer, limiter: InferenceLimiter, strokes: Strokes, timeout_s: float
) -> list[tuple[str, float]]:
    return await in_pool(
        limiter, timeout_s, classify_ink_sync, recognizer, strokes, SYMBOL_TOP_K, stage="classify"
    )


async def classify_bytes(
    recognizer: Recognizer, limiter: InferenceLimiter, data: bytes, max_pixels: int, timeout_s: float
) -> list[tuple[str, float]]:
    im = open_image(data, max_pixels)
    return await in_pool(limiter, timeout_s, classify_sync, recognizer, im, SYMBOL_TOP_K, stage="classify")


def _solve(latex: str, lang: str, steps: bool, deadline: float) -> dict[str, Any]:
    """Solve in a worker, waiting for a free one only as long as the job can still finish by `deadline`
    (time.monotonic()); past that the solver answers "busy" at once instead of the API answering 504."""
    from seq2latex import solve
    from seq2latex.solver.config import DEFAULT_TIMEOUT_S

    wait_s = deadline - time.monotonic() - DEFAULT_TIMEOUT_S - SOLVE_MARGIN_S
    return solve(latex, lang=lang, steps=steps, wait_s=wait_s)


async def solve_latex(
    executor: ThreadPoolExecutor, latex: str, lang: str, timeout_s: float, steps: bool = False
) -> dict[str, Any]:
    """The solver's dict (with "steps" and "steps_reason" when `steps`); 504 if it has not answered within
    `timeout_s` (it has its own, shorter limit, which also bounds the steps, and answers error "busy"
    rather than start a job that could not finish within `timeout_s`)."""
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    fut = loop.run_in_executor(executor, _solve, latex, lang, steps, deadline)
    try:
        return await asyncio.wait_for(fut, timeout_s)
    except asyncio.TimeoutError as exc:
        raise ApiError(
            504,
            "solve_timeout",
            f"the solver did not answer within {timeout_s:g} s",
            nl=f"het oplossen was niet binnen {timeout_s:g} s klaar",
        ) from exc
    finally:
        record_stage("solve", time.perf_counter() - start)
