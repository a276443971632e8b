"""GET /health (200 once the model is loaded) and GET /version (package and model card)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ApiKey, RecognizerDep, SettingsDep
from api.images import ALLOWED_FORMATS
from api.limits import MAX_BEAM, MAX_INK_COORDINATE, MAX_INK_POINTS, MAX_INK_STROKE_POINTS, MAX_INK_STROKES
from api.routes.common import confirm_below, model_info
from api.schemas import HealthResponse, error_responses
from seq2latex import __version__

router = APIRouter(tags=["service"])


@router.get("/health", response_model=HealthResponse, responses=error_responses(503))
async def health(recognizer: RecognizerDep, settings: SettingsDep) -> HealthResponse:
    return HealthResponse(status="ok", model=model_info(recognizer), auth_required=bool(settings.api_key))


@router.get("/version", dependencies=[ApiKey], responses=error_responses(401, 503))
async def version(recognizer: RecognizerDep, settings: SettingsDep) -> dict[str, Any]:
    """Package version, the model card (training data, metrics) and the service limits."""
    return {
        "package": __version__,
        "model": {**model_info(recognizer).model_dump(), "card": recognizer.card},
        # readings below this confidence come with needs_confirmation: true (/recognize, /solve)
        "confirmation": {"threshold": confirm_below(recognizer, settings)},
        "limits": {
            "max_upload_bytes": settings.max_upload_bytes,
            "max_pixels": settings.max_pixels,
            "max_beam": MAX_BEAM,
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
