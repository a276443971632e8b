"""One error shape for every failure: `{"error": {"code": str, "message": str}}`, the message in the
request's language (`lang` of the body once read, else of the query string, else `Accept-Language`)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.telemetry import record_error

log = logging.getLogger("seq2latex.api")

# HTTP status -> default error code for errors raised by the framework itself
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    503: "overloaded",
    504: "timeout",
}
LANGS = ("en", "nl")
# Dutch messages of the errors raised by the framework itself, by HTTP status
_STATUS_MESSAGES_NL = {
    400: "ongeldig verzoek",
    401: "niet aangemeld",
    404: "niet gevonden",
    405: "deze methode is hier niet toegestaan",
    413: "het verzoek is te groot",
    415: "dit soort inhoud wordt niet ondersteund",
    422: "ongeldige invoer",
    503: "de server is bezet; probeer het zo opnieuw",
    504: "het antwoord duurde te lang",
}


class ApiError(Exception):
    """An error with its HTTP status, a stable machine-readable code and a human message in English and
    (`nl`) Dutch; without `nl` the message is sent as it is (the solver's own messages are already in the
    request's language)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        nl: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.nl = nl

    def message_in(self, lang: str) -> str:
        return self.nl if lang == "nl" and self.nl else self.message


def request_lang(request: Request) -> str:
    """The language of a request's messages: `lang` of the body (set by `api.inputs.read_input` once it
    is read), else of the query string, else the first language of `Accept-Language`, else English."""
    lang = getattr(request.state, "lang", None)
    if lang in LANGS:
        return str(lang)
    query = request.query_params.get("lang", "").strip().lower()
    if query in LANGS:
        return query
    first = request.headers.get("accept-language", "").split(",")[0].strip().lower()
    return "nl" if first[:2] == "nl" else "en"


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    record_error(code)  # for the request's access-log line
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message_in(request_lang(request)), exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    message = str(exc.detail)
    if request_lang(request) == "nl":
        message = _STATUS_MESSAGES_NL.get(exc.status_code, f"fout {exc.status_code}")
    return error_response(exc.status_code, code, message, getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(x) for x in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    message = "; ".join(parts) or "invalid request"
    if request_lang(request) == "nl":
        message = "ongeldig verzoek" + (f" ({message})" if parts else "")
    return error_response(422, "invalid_input", message)


def unexpected_response(request: Request, exc: Exception) -> JSONResponse:
    """The 500 answer to an exception no handler knows (logged with its traceback)."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    nl = request_lang(request) == "nl"
    return error_response(500, "internal_error", "interne serverfout" if nl else "internal server error")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return unexpected_response(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
