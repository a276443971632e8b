"""Per-request observability (pure ASGI): a request id (returned as `X-Request-ID`), one access-log line
(route, status, bytes in and out, stage timings; never the body) and the request metrics.

An exception no handler turned into an answer is answered here (500 `internal_error`, with the request id),
so that it is counted and logged like any other request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import unexpected_response
from api.metrics import UNMATCHED_ROUTE, Metrics
from api.telemetry import ACCESS_LOGGER, REQUEST_ID_HEADER, RequestRecord, begin, end, request_id

log = logging.getLogger(ACCESS_LOGGER)
STATIC_PREFIX = "/static/"
CLIENT_CLOSED = 499  # the status logged and counted when the caller went away before the answer began


def route_label(scope: Scope) -> str:
    """The matched route's path template (`/solve`), `/static` for the demo's files, else `unmatched`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope.get("path", "").startswith(STATIC_PREFIX):
        return STATIC_PREFIX.rstrip("/")
    return UNMATCHED_ROUTE


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = request_id(headers.get(REQUEST_ID_HEADER.lower().encode(), b"").decode("latin-1"))
        record = RequestRecord(request_id=rid, method=scope.get("method", ""), path=scope.get("path", ""))
        counts = {"in": 0, "out": 0, "status": 0}

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                counts["in"] += len(message.get("body", b""))
            return message

        async def tagging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                counts["status"] = int(message["status"])
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode("latin-1"))]
            elif message["type"] == "http.response.body":
                counts["out"] += len(message.get("body", b""))
            await send(message)

        token = begin(record)
        try:
            await self.app(scope, counting_receive, tagging_send)
        except asyncio.CancelledError:
            if not counts["status"]:
                counts["status"], record.error = CLIENT_CLOSED, "client_closed"
            raise
        except Exception as exc:
            if counts["status"]:  # the answer had begun: nothing more can be sent
                raise
            record.error = "internal_error"
            response = unexpected_response(Request(scope), exc)
            await response(scope, receive, tagging_send)
        finally:
            end(token)
            self._finish(scope, record, counts)

    def _finish(self, scope: Scope, record: RequestRecord, counts: dict[str, int]) -> None:
        status = counts["status"] or 500
        seconds = time.perf_counter() - record.start
        route = route_label(scope)
        self.metrics.observe(route, record.method, status, seconds, record.stages)
        access: dict[str, Any] = {
            "request_id": record.request_id,
            "method": record.method,
            "route": route,
            "path": record.path,
            "status": status,
            "bytes_in": counts["in"],
            "bytes_out": counts["out"],
            "duration_ms": round(seconds * 1000.0, 2),
            "timings_ms": record.stage_ms(),
        }
        if record.error:
            access["error"] = record.error
        level = logging.WARNING if status >= 500 else logging.INFO
        log.log(level, "%s %s %s", record.method, record.path, status, extra={"access": access})
