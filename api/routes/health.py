"""The probes and the card: GET /health (liveness: 200 once the model is loaded), GET /ready (readiness: 200
while the model is loaded, the solver's workers answer and the inference queue has room; else 503 with the
reason as the error code) and GET /version (package and model card)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import ApiKey, LimiterDep, RecognizerDep, SettingsDep
from api.errors import ApiError
from api.images import ALLOWED_FORMATS
from api.limits import (
    MAX_BEAM,
    MAX_INK_COORDINATE,
    MAX_INK_POINTS,
    MAX_INK_STROKE_POINTS,
    MAX_INK_STROKES,
    READY_SOLVER_TIMEOUT_S,
    RETRY_AFTER_S,
)
from api.routes.common import confirm_below, model_info
from api.schemas import HealthResponse, QueueState, ReadyResponse, error_responses
from seq2latex import __version__

router = APIRouter(tags=["service"])


@router.get("/health", response_model=HealthResponse, responses=error_responses(503))
async def health(recognizer: RecognizerDep, settings: SettingsDep) -> HealthResponse:
    return HealthResponse(status="ok", model=model_info(recognizer), auth_required=bool(settings.api_key))


@router.get("/ready", response_model=ReadyResponse, responses=error_responses(503))
async def ready(recognizer: RecognizerDep, limiter: LimiterDep) -> ReadyResponse:
    """200 when this instance can take work; 503 `model_not_loaded`, `queue_saturated` (every inference
    slot busy and the queue full: the next image would be refused) or `solver_unavailable`."""
    running, waiting, _ = limiter.counts()
    if limiter.saturated:
        raise ApiError(
            503,
            "queue_saturated",
            f"the inference queue is full ({running + waiting} of {limiter.capacity} jobs)",
            headers={"Retry-After": str(RETRY_AFTER_S)},
            nl=f"de wachtrij is vol ({running + waiting} van {limiter.capacity} taken)",
        )
    from seq2latex.solver import ping

    reason = await run_in_threadpool(ping, READY_SOLVER_TIMEOUT_S)
    if reason is not None:
        raise ApiError(
            503,
            "solver_unavailable",
            f"the solver does not answer: {reason}",
            nl=f"de rekenmodule antwoordt niet: {reason}",
        )
    queue = QueueState(running=running, waiting=waiting, capacity=limiter.capacity)
    return ReadyResponse(status="ready", model=model_info(recognizer), queue=queue)


@router.get("/version", dependencies=[ApiKey], responses=error_responses(401, 503))
async def version(recognizer: RecognizerDep, settings: SettingsDep) -> dict[str, Any]:
    """Package version, the model card (training data, metrics) and the service limits."""
    return {
        "package": __version__,
        "model": {**model_info(recognizer).model_dump(), "card": recognizer.card},
        # readings below this confidence come with needs_confirmation: true (/recognize, /solve); one
        # threshold per beam width (`threshold`: the one of the default beam)
        "confirmation": {
            "threshold": confirm_below(recognizer, settings, settings.default_beam),
            "beam": settings.default_beam,
            "by_beam": {str(b): confirm_below(recognizer, settings, b) for b in range(1, MAX_BEAM + 1)},
        },
        "limits": {
            "max_upload_bytes": settings.max_upload_bytes,
            "max_pixels": settings.max_pixels,
            "max_beam": MAX_BEAM,
            "default_beam": settings.default_beam,
            "max_latex_chars": settings.max_latex_chars,
            "formats": sorted({f for f in ALLOWED_FORMATS if f not in ("MPO", "DIB")}),
            "ink": {
                "max_strokes": MAX_INK_STROKES,
                "max_stroke_points": MAX_INK_STROKE_POINTS,
                "max_points": MAX_INK_POINTS,
                "max_coordinate": MAX_INK_COORDINATE,
            },
        },
    }
