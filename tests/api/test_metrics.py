"""GET /metrics counts the requests that were really made; GET /ready turns 503 when the queue is saturated."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.limits import InferenceLimiter
from seq2latex.recognizer import Recognizer

HANGS = r"\sum_{{k=1}}^{{100000}} \frac{{1}}{{k^3+k+{n}}}"  # SymPy works on it far past the solver's limit


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the condition did not come about"
        time.sleep(0.01)


def test_metrics_count_the_requests_made(
    client: TestClient, images_dir: Path, recognizer: Recognizer
) -> None:
    before = samples(client)
    for latex in ("x+1=2", "2x=4", "x^2=9"):
        assert client.post("/solve", json={"latex": latex}).status_code == 200
    image = (images_dir / "x2_minus_4.png").read_bytes()
    assert client.post("/recognize", files={"file": ("x.png", image)}).status_code == 200
    assert client.post("/recognize", files={"file": ("x.txt", b"not an image")}).status_code == 415
    assert client.get("/no/such/page").status_code == 404
    after = samples(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("seq2latex_requests_total", route="/solve", method="POST", status="200") == 3
    assert delta("seq2latex_requests_total", route="/recognize", method="POST", status="200") == 1
    assert delta("seq2latex_requests_total", route="/recognize", method="POST", status="415") == 1
    assert delta("seq2latex_requests_total", route="unmatched", method="GET", status="404") == 1
    assert delta("seq2latex_request_duration_seconds_count", route="/solve") == 3
    # stages: three solves, one recognition (decode, preprocess, recognize, and its wait for a slot)
    assert delta("seq2latex_stage_duration_seconds_count", stage="solve") == 3
    for stage in ("queue", "decode", "preprocess", "recognize"):
        assert delta("seq2latex_stage_duration_seconds_count", stage=stage) == 1, stage
    assert delta("seq2latex_stage_duration_seconds_sum", stage="recognize") > 0
    info = [dict(labels) for (name, labels), v in after.items() if name == "seq2latex_model_info" and v == 1]
    assert len(info) == 1
    assert (info[0]["name"], info[0]["version"]) == (recognizer.card["name"], recognizer.card["version"])
    assert value(after, "seq2latex_inference_capacity") == 2 + 48  # the default settings (the hard cap; the time rule refuses earlier)
    assert value(after, "process_resident_memory_bytes") > 0


def test_ready_turns_503_when_the_queue_is_saturated(
    make_client: Callable[..., TestClient], images_dir: Path
) -> None:
    c = make_client(max_concurrency=1, queue_size=1)
    r = c.get("/ready")
    assert r.status_code == 200, r.text
    assert r.json()["queue"] == {"running": 0, "waiting": 0, "capacity": 2}
    limiter: InferenceLimiter = c.app.state.limiter  # type: ignore[attr-defined]
    gate = threading.Event()
    try:
        for _ in range(limiter.capacity):  # one runs, one waits: full
            limiter.submit(gate.wait, 30)
        wait_until(lambda: limiter.counts()[0] == 1)
        r = c.get("/ready")
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "queue_saturated"
        assert c.get("/health").status_code == 200  # liveness is not readiness
        image = (images_dir / "x2_minus_4.png").read_bytes()
        assert c.post("/recognize", files={"file": ("x.png", image)}).status_code == 503
        found = samples(c)
        assert value(found, "seq2latex_inference_running") == 1
        assert value(found, "seq2latex_inference_queue_depth") == 1
        assert value(found, "seq2latex_inference_rejections_total") == 1
        assert value(found, "seq2latex_requests_total", route="/ready", method="GET", status="503") == 1
    finally:
        gate.set()
    wait_until(lambda: limiter.in_flight == 0)
    assert c.get("/ready").status_code == 200


def test_a_hung_solve_is_counted_as_a_timeout_and_a_worker_restart(client: TestClient) -> None:
    before = samples(client)
    r = client.post("/solve", json={"latex": HANGS.format(n=time.time_ns() % 9973 + 2)})
    assert r.status_code == 200, r.text
    assert r.json()["solution"]["error_code"] == "timeout"
    restarts = "seq2latex_solver_worker_restarts_total"
    timeouts = "seq2latex_solver_timeouts_total"
    wait_until(
        lambda: value(samples(client), restarts, reason="timeout") > value(before, restarts, reason="timeout")
    )
    after = samples(client)
    assert value(after, timeouts) - value(before, timeouts) == 1
    assert value(after, restarts, reason="timeout") - value(before, restarts, reason="timeout") == 1
    assert client.get("/ready").status_code == 200  # the replacement answers
    assert client.post("/solve", json={"latex": "2x=6"}).json()["solution"]["solutions"] == [{"x": "3"}]


def test_metrics_can_be_switched_off(make_client: Callable[..., TestClient]) -> None:
    c = make_client(metrics=False)
    assert c.get("/metrics").status_code == 404
