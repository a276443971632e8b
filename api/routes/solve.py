"""POST /solve: image (or typed LaTeX) -> LaTeX + the solver's answer."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from api.deps import ApiKey, LimiterDep, RecognizerDep, SettingsDep, SolveExecutorDep
from api.errors import ApiError
from api.inputs import read_input
from api.mathml import latex_to_mathml
from api.pipeline import recognize_input, solve_latex
from api.routes.common import alternatives, confirm_below, elapsed_ms, model_info
from api.schemas import Alternative, SolveResponse, error_responses, request_body
from seq2latex.confirmation import needs_confirmation
from seq2latex.solver import INPUT_ERROR_CODES
from tokenizer import compact

router = APIRouter(tags=["solving"])


@router.post(
    "/solve",
    response_model=SolveResponse,
    dependencies=[ApiKey],
    openapi_extra=request_body(allow_latex=True),
    responses=error_responses(401, 413, 415, 422, 503, 504),
)
async def solve(
    request: Request,
    settings: SettingsDep,
    recognizer: RecognizerDep,
    limiter: LimiterDep,
    executor: SolveExecutorDep,
) -> SolveResponse:
    """Recognize and solve a handwritten formula (an image, or ink: JSON `strokes` / `inkml`), or solve typed
    LaTeX (`{"latex": ...}`)."""
    start = time.perf_counter()
    inp = await read_input(request, settings, allow_latex=True)
    timings: dict[str, float] = {"preprocess": 0.0, "recognize": 0.0}
    alts: list[Alternative] = []
    confidence: float | None = None
    model_input: str | None = None
    beam: int | None = None
    page = None
    if inp.latex is not None:
        source, latex = "latex", inp.latex
    else:
        rec = await recognize_input(recognizer, limiter, inp, settings)
        source = "ink" if inp.strokes is not None else "image"
        latex, confidence, alts = rec.latex, rec.confidence, alternatives(rec)
        model_input, beam, page = rec.model_input, rec.beam, rec.page
        timings.update(rec.timings_ms)
    t_solve = time.perf_counter()
    solution = await solve_latex(executor, latex, inp.lang, settings.solve_timeout_s, inp.steps)
    timings["solve"] = elapsed_ms(t_solve)
    code = solution.get("error_code")
    if source == "latex" and code in INPUT_ERROR_CODES:
        # typed LaTeX that cannot be read is the client's error; recognized LaTeX that cannot be solved
        # is an answer (200, solution.kind "error"): the picture was fine, the maths is not
        raise ApiError(
            422, "decimal_comma" if code == "decimal_comma" else "invalid_latex", solution["message"]
        )
    result_latex = solution.get("result_latex") if isinstance(solution, dict) else None
    mathml = latex_to_mathml(latex)
    solution_mathml = (
        latex_to_mathml(result_latex, display="inline") if isinstance(result_latex, str) else None
    )
    steps = solution.get("steps") if inp.steps else None
    steps_mathml = [latex_to_mathml(s.get("latex"), display="inline") for s in steps] if steps else None
    return SolveResponse(
        source=source,
        latex=latex,
        latex_typed=latex if source == "latex" else compact(latex),
        confidence=confidence,
        needs_confirmation=needs_confirmation(
            confidence, confirm_below(recognizer, settings, beam) if beam is not None else 0.0
        ),
        beam=beam,
        alternatives=alts,
        solution=solution,
        mathml=mathml,
        solution_mathml=solution_mathml,
        steps_mathml=steps_mathml,
        model_input=model_input,
        page=page,
        model=model_info(recognizer),
        timings_ms={**timings, "total": elapsed_ms(start)},
    )
