"""GET /redoc: ReDoc from the package's own files, its Redocly logo too.

fastapi-offline serves ReDoc's script locally, but that script still draws its footer logo from
cdn.redoc.ly. This page loads the same script through `/redoc.standalone.js`, with the logo pointed at the
favicon served beside it, and forbids any other host (Content-Security-Policy)."""

from __future__ import annotations

import functools
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse, Response

DOCS_STATIC = "/static-offline-docs"  # where fastapi-offline mounts its files
REDOC_JS = Path(fastapi_offline.__file__).resolve().parent / "static" / "redoc.standalone.js"
CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'"
)

router = APIRouter(include_in_schema=False)


@functools.lru_cache(maxsize=1)
def _script() -> bytes:
    return REDOC_JS.read_text(encoding="utf-8").replace(CDN_LOGO, f"{DOCS_STATIC}/favicon.png").encode()


@router.get("/redoc.standalone.js")
async def redoc_script() -> Response:
    return Response(_script(), media_type="application/javascript", headers={"Cache-Control": "max-age=3600"})


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = CSP
    return page
