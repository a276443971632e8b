"""What one request did, for its access-log line and the metrics: its id, the seconds of each stage (decode,
preprocess, recognize, solve, ...) and its error code; and the access log's JSON / plain-text format.

`api.middleware` opens a `RequestRecord` per request (a context variable); the route code notes into it with
`record_stage` / `record_error`. Outside a request (the CLI, tests calling the pipeline directly) they do
nothing.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

REQUEST_ID_HEADER = "X-Request-ID"
# an incoming X-Request-ID (from a proxy) is kept when it looks like an id; anything else gets a fresh one
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
ACCESS_LOGGER = "seq2latex.access"
_HANDLER_NAME = "seq2latex-access"

LogFormat = Literal["json", "text"]


@dataclass
class RequestRecord:
    request_id: str
    method: str
    path: str
    start: float = field(default_factory=time.perf_counter)
    stages: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    error: str | None = None  # the error code of an error answer

    def stage_ms(self) -> dict[str, float]:
        return {name: round(seconds * 1000.0, 2) for name, seconds in self.stages.items()}


_CURRENT: ContextVar[RequestRecord | None] = ContextVar("seq2latex_request", default=None)


def request_id(incoming: str | None) -> str:
    """The request's id: the caller's `X-Request-ID` when it looks like one, else a new random one."""
    if incoming and _REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def begin(record: RequestRecord) -> object:
    return _CURRENT.set(record)


def end(token: object) -> None:
    _CURRENT.reset(token)  # type: ignore[arg-type]


def current() -> RequestRecord | None:
    return _CURRENT.get()


def record_stage(name: str, seconds: float) -> None:
    """Add `seconds` to stage `name` of the current request (nothing outside a request)."""
    rec = _CURRENT.get()
    if rec is not None:
        rec.stages[name] = rec.stages.get(name, 0.0) + max(0.0, seconds)


def record_error(code: str) -> None:
    rec = _CURRENT.get()
    if rec is not None:
        rec.error = code


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and the record's `access` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            line.update(access)
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """`time level request_id METHOD path status bytes_in>bytes_out total_ms [stage=ms ...] [error]`."""

    def format(self, record: logging.LogRecord) -> str:
        access = getattr(record, "access", None)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(record.created))
        if not isinstance(access, dict):
            return f"{when} {record.levelname} {record.getMessage()}"
        stages = " ".join(f"{k}={v:g}ms" for k, v in access.get("timings_ms", {}).items())
        parts = [
            when,
            record.levelname,
            access["request_id"],
            access["method"],
            json.dumps(access["path"]),  # quoted: a client's path cannot break the line
            str(access["status"]),
            f"{access['bytes_in']}B>{access['bytes_out']}B",
            f"{access['duration_ms']:g}ms",
            stages,
            access.get("error") or "",
        ]
        return " ".join(p for p in parts if p)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is now (not the stream of when it was made)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_access_log(fmt: LogFormat, enabled: bool = True) -> logging.Logger:
    """The access logger, writing one line per request to stderr in `fmt` (idempotent: one handler)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.propagate = False
    logger.setLevel(logging.INFO if enabled else logging.CRITICAL + 1)
    handler = next((h for h in logger.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = _StderrHandler()
        handler.set_name(_HANDLER_NAME)
        logger.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    return logger
