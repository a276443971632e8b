"""POST /recognize: image -> LaTeX, confidence and beam alternatives (no solving)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from api.deps import ApiKey, LimiterDep, RecognizerDep, SettingsDep
from api.inputs import read_input
from api.mathml import latex_to_mathml
from api.pipeline import recognize_input
from api.routes.common import alternatives, confirm_below, elapsed_ms, model_info, tokens
from api.schemas import RecognizeResponse, error_responses, request_body
from seq2latex.confirmation import needs_confirmation
from tokenizer import compact

router = APIRouter(tags=["recognition"])


@router.post(
    "/recognize",
    response_model=RecognizeResponse,
    dependencies=[ApiKey],
    openapi_extra=request_body(allow_latex=False),
    responses=error_responses(401, 413, 415, 422, 503, 504),
)
async def recognize(
    request: Request, settings: SettingsDep, recognizer: RecognizerDep, limiter: LimiterDep
) -> RecognizeResponse:
    """Recognize a photo/scan/drawing of a handwritten formula, or its ink (JSON `strokes` / `inkml`)."""
    start = time.perf_counter()
    inp = await read_input(request, settings, allow_latex=False)
    rec = await recognize_input(recognizer, limiter, inp, settings)
    return RecognizeResponse(
        latex=rec.latex,
        latex_typed=compact(rec.latex),
        confidence=rec.confidence,
        needs_confirmation=needs_confirmation(rec.confidence, confirm_below(recognizer, settings, rec.beam)),
        beam=rec.beam,
        alternatives=alternatives(rec),
        model_input=rec.model_input,
        page=rec.page,
        tokens=tokens(rec),
        mathml=latex_to_mathml(rec.latex),
        model=model_info(recognizer),
        timings_ms={**rec.timings_ms, "total": elapsed_ms(start)},
    )
