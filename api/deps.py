"""FastAPI dependencies: the settings, the model and the limiter live on `app.state` (set in the lifespan)."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import Depends, Request

from api.errors import ApiError
from api.limits import InferenceLimiter
from api.metrics import Metrics
from api.settings import Settings
from seq2latex.recognizer import Recognizer

API_KEY_HEADER = "X-API-Key"


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_recognizer(request: Request) -> Recognizer:
    rec = getattr(request.app.state, "recognizer", None)
    if rec is None:
        raise ApiError(
            503, "model_not_loaded", "the model is not loaded yet", nl="het model is nog niet geladen"
        )
    return rec


def get_limiter(request: Request) -> InferenceLimiter:
    return request.app.state.limiter


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def get_solve_executor(request: Request) -> ThreadPoolExecutor:
    return request.app.state.solve_executor


def require_api_key(request: Request) -> None:
    """When an API key is configured, the request must carry it in `X-API-Key`."""
    expected = request.app.state.settings.api_key
    if not expected:
        return
    given = request.headers.get(API_KEY_HEADER, "")
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise ApiError(
            401,
            "unauthorized",
            f"a valid {API_KEY_HEADER} header is required",
            nl=f"een geldige {API_KEY_HEADER}-header is nodig",
        )


SettingsDep = Annotated[Settings, Depends(get_settings)]
RecognizerDep = Annotated[Recognizer, Depends(get_recognizer)]
LimiterDep = Annotated[InferenceLimiter, Depends(get_limiter)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SolveExecutorDep = Annotated[ThreadPoolExecutor, Depends(get_solve_executor)]
ApiKey = Depends(require_api_key)
