"""One access-log line per request (JSON, or plain text), with the request id also sent as X-Request-ID;
never the image."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.telemetry import ACCESS_LOGGER


class Lines(logging.Handler):
    """The access log's lines as its own handler formats them."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        formatter = logging.getLogger(ACCESS_LOGGER).handlers[0].formatter
        assert formatter is not None
        self.lines.append(formatter.format(record))


@pytest.fixture
def access_lines() -> Iterator[list[str]]:
    handler = Lines()
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


def test_one_json_line_per_request_with_its_id(
    client: TestClient, images_dir: Path, access_lines: list[str]
) -> None:
    image = (images_dir / "x2_minus_4.png").read_bytes()
    encoded = base64.b64encode(image).decode()
    r = client.post("/solve", json={"image": encoded})
    assert r.status_code == 200, r.text
    rid = r.headers["x-request-id"]
    assert len(access_lines) == 1
    line = access_lines[0]
    assert encoded[:40] not in line and encoded[-40:] not in line  # never the image
    entry = json.loads(line)
    assert entry["request_id"] == rid
    assert (entry["method"], entry["route"], entry["path"], entry["status"]) == (
        "POST",
        "/solve",
        "/solve",
        200,
    )
    assert entry["bytes_in"] == len(r.request.content)
    assert entry["bytes_out"] == len(r.content)
    assert {"queue", "decode", "preprocess", "recognize", "solve"} <= set(entry["timings_ms"])
    assert entry["duration_ms"] >= entry["timings_ms"]["solve"]
    # an error answer names its code
    r = client.post("/solve", json={"latex": "x = 2,5", "lang": "en"})
    assert r.status_code == 422
    entry = json.loads(access_lines[1])
    assert (entry["status"], entry["error"], entry["request_id"]) == (
        422,
        "decimal_comma",
        r.headers["x-request-id"],
    )


def test_request_ids_are_fresh_or_the_callers(client: TestClient, access_lines: list[str]) -> None:
    ids = {client.get("/health").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3
    assert client.get("/health", headers={"X-Request-ID": "lb-42.a:b"}).headers["x-request-id"] == "lb-42.a:b"
    hostile = client.get("/health", headers={"X-Request-ID": 'x" {"status": 500}'}).headers["x-request-id"]
    assert hostile != 'x" {"status": 500}' and hostile.isalnum()
    assert [json.loads(line)["request_id"] for line in access_lines[-2:]] == ["lb-42.a:b", hostile]


def test_plain_text_lines(make_client: Callable[..., TestClient], access_lines: list[str]) -> None:
    c = make_client(log_format="text")
    try:
        r = c.post("/solve", json={"latex": "x+1=2"})
        assert r.status_code == 200
        line = access_lines[-1]
        assert not line.startswith("{")
        assert r.headers["x-request-id"] in line and ' "/solve" 200 ' in line and "solve=" in line
    finally:
        make_client(log_format="json")  # the access log's format is process-wide


def test_an_unexpected_error_is_answered_logged_and_counted(
    make_client: Callable[..., TestClient], access_lines: list[str]
) -> None:
    c = make_client()

    def broken() -> None:
        raise RuntimeError("a bug")

    c.app.add_api_route("/broken", broken)  # type: ignore[attr-defined]
    r = c.get("/broken")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    entry = json.loads(access_lines[-1])
    assert (entry["status"], entry["route"], entry["request_id"]) == (
        500,
        "/broken",
        r.headers["x-request-id"],
    )
    metrics = c.get("/metrics").text
    assert 'seq2latex_requests_total{method="GET",route="/broken",status="500"} 1.0' in metrics
