"""POST /symbol: one handwritten symbol -> top-5 classes (the auxiliary symbol classifier head)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from api.deps import ApiKey, LimiterDep, RecognizerDep, SettingsDep
from api.inputs import read_input
from api.pipeline import classify_bytes, classify_ink
from api.routes.common import elapsed_ms, model_info
from api.schemas import SymbolPrediction, SymbolResponse, error_responses, request_body

router = APIRouter(tags=["recognition"])


@router.post(
    "/symbol",
    response_model=SymbolResponse,
    dependencies=[ApiKey],
    openapi_extra=request_body(allow_latex=False),
    responses=error_responses(401, 413, 415, 422, 501, 503, 504),
)
async def symbol(
    request: Request, settings: SettingsDep, recognizer: RecognizerDep, limiter: LimiterDep
) -> SymbolResponse:
    """Classify an image (or the ink, JSON `strokes` / `inkml`) of a single handwritten symbol: top-5 classes
    with calibrated probabilities.

    422 `several_symbols` when the ink lies in several parts side by side (a formula, not one symbol),
    422 `blank_image` when there is no ink.
    """
    start = time.perf_counter()
    inp = await read_input(request, settings, allow_latex=False)
    if inp.strokes is not None:
        top = await classify_ink(recognizer, limiter, inp.strokes, settings.request_timeout_s)
    else:
        assert inp.image is not None
        top = await classify_bytes(recognizer, limiter, inp.image, settings.max_pixels, settings.request_timeout_s)
    return SymbolResponse(
        predictions=[SymbolPrediction(label=label, probability=p) for label, p in top],
        temperature=recognizer.symbol_reader.symbol_temperature,
        model=model_info(recognizer),
        timings_ms={"total": elapsed_ms(start)},
    )
