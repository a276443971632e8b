"""POST /check: a pupil's lines of working (typed, or a photo or ink of several lines) -> each step checked."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from api.check_inputs import read_check_input
from api.checking import check_lines, input_error, line_box, read_lines, too_few_lines
from api.deps import ApiKey, LimiterDep, RecognizerDep, SettingsDep, SolveExecutorDep
from api.mathml import latex_to_mathml
from api.routes.common import alternatives, confirm_below, elapsed_ms, model_info
from api.schemas import CheckLine, CheckResponse, CheckStep, check_request_body, error_responses
from seq2latex.confirmation import needs_confirmation
from seq2latex.solver.check import CheckInputError, validate_lines
from tokenizer import compact

router = APIRouter(tags=["checking"])


@router.post(
    "/check",
    response_model=CheckResponse,
    dependencies=[ApiKey],
    openapi_extra=check_request_body(),
    responses=error_responses(401, 413, 415, 422, 503, 504),
)
async def check(
    request: Request,
    settings: SettingsDep,
    recognizer: RecognizerDep,
    limiter: LimiterDep,
    executor: SolveExecutorDep,
) -> CheckResponse:
    """Check a pupil's working, one step a line: typed lines (`{"lines": ["3(x-2)=9", "3x-2=9"], "lang": "nl"}`),
    or a photo (`file`, JSON `image`) or ink (`strokes`, `inkml`) of the lines. Each step is "equivalent",
    "not_equivalent" (with an explanation of what went wrong) or "unknown"; `first_wrong_line` is the first line
    that does not follow from the one before. Lines read from a picture come back so the pupil can correct them
    and send them again as typed lines."""
    start = time.perf_counter()
    inp = await read_check_input(request, settings)
    timings: dict[str, float] = {}
    beam: int | None = None
    if inp.lines is not None:
        source = "typed"
        try:
            texts = validate_lines(inp.lines, settings.max_latex_chars)
        except CheckInputError as exc:
            raise input_error(exc) from exc
        lines = [
            CheckLine(
                latex=t, latex_typed=t, source=source, confidence=None, needs_confirmation=False, readable=True,
                error=None, alternatives=[], mathml=latex_to_mathml(t),
            )
            for t in texts
        ]  # fmt: skip
    else:
        source = "ink" if inp.strokes is not None else "photo"
        beam = inp.beam
        t_read = time.perf_counter()
        recs = await read_lines(
            recognizer, limiter, image=inp.image, strokes=inp.strokes, beam=inp.beam,
            max_pixels=settings.max_pixels, timeout_s=settings.request_timeout_s,
        )  # fmt: skip
        timings["recognize"] = elapsed_ms(t_read)
        if len(recs) < 2:
            raise too_few_lines(len(recs))
        threshold = confirm_below(recognizer, settings, inp.beam)
        lines = [
            CheckLine(
                latex=r.latex, latex_typed=compact(r.latex), source=source, confidence=r.confidence,
                needs_confirmation=needs_confirmation(r.confidence, threshold), readable=True, error=None,
                alternatives=alternatives(r), box=line_box(r), mathml=latex_to_mathml(r.latex),
            )
            for r in recs
        ]  # fmt: skip
    t_check = time.perf_counter()
    result = await check_lines(executor, [line.latex for line in lines], inp.lang, settings.request_timeout_s)
    timings["check"] = elapsed_ms(t_check)
    for line, found in zip(lines, result["lines"], strict=True):
        line.readable, line.error = found["readable"], found["error"]
    return CheckResponse(
        source=source,
        lines=lines,
        steps=[CheckStep.model_validate(step) for step in result["steps"]],
        first_wrong_line=result["first_wrong_line"],
        lang=inp.lang,
        beam=beam,
        model=model_info(recognizer),
        timings_ms={**timings, "total": elapsed_ms(start)},
    )
