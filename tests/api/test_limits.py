"""The bounded inference queue (503 when full), the request and solver time limits (504)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.limits import InferenceLimiter, Overloaded


def test_limiter_bounds_running_and_waiting_jobs() -> None:
    limiter = InferenceLimiter(max_concurrency=2, queue_size=1)
    gate = threading.Event()
    running = []
    lock = threading.Lock()
    peak = [0]

    def job() -> int:
        with lock:
            running.append(1)
            peak[0] = max(peak[0], len(running))
        gate.wait(5)
        with lock:
            running.pop()
        return 7

    try:
        futures = [limiter.submit(job) for _ in range(3)]  # 2 run, 1 waits
        with pytest.raises(Overloaded):
            limiter.submit(job)
        assert limiter.in_flight == 3
        gate.set()
        assert [f.result(5) for f in futures] == [7, 7, 7]
        assert peak[0] == 2
        deadline = time.monotonic() + 5
        while limiter.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        assert limiter.in_flight == 0
        assert limiter.submit(lambda: 1).result(5) == 1  # capacity is free again
    finally:
        gate.set()
        limiter.shutdown()


def test_limiter_timeout_drops_a_waiting_job() -> None:
    limiter = InferenceLimiter(max_concurrency=1, queue_size=1)
    gate = threading.Event()
    ran = []
    try:
        limiter.submit(gate.wait, 5)

        async def waiting() -> None:
            await limiter.run(0.05, ran.append, 1)

        with pytest.raises(asyncio.TimeoutError):
            asyncio.run(waiting())
        gate.set()
        time.sleep(0.1)
        assert ran == []  # the timed-out job never ran
        assert limiter.in_flight == 0
    finally:
        gate.set()
        limiter.shutdown()


def _block(client: TestClient, n: int) -> threading.Event:
    """Occupy `n` slots of the app's own limiter with jobs that wait for the returned event."""
    gate = threading.Event()
    limiter: InferenceLimiter = client.app.state.limiter  # type: ignore[attr-defined]
    for _ in range(n):
        limiter.submit(gate.wait, 10)
    return gate


def test_503_when_the_queue_is_full(make_client: Callable[..., TestClient], images_dir: Path) -> None:
    c = make_client(max_concurrency=1, queue_size=1)
    gate = _block(c, 2)  # one running, one waiting: full
    try:
        for path in ("/solve", "/recognize", "/symbol"):
            r = c.post(path, files={"file": ("x.png", (images_dir / "x2_minus_4.png").read_bytes())})
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "overloaded"
            assert r.headers["retry-after"] == "1"
        # typed LaTeX needs no model slot: still served
        assert c.post("/solve", json={"latex": "x+1=2"}).status_code == 200
    finally:
        gate.set()
    deadline = time.monotonic() + 5
    while c.app.state.limiter.in_flight and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.01)
    r = c.post("/recognize", files={"file": ("x.png", (images_dir / "x2_minus_4.png").read_bytes())})
    assert r.status_code == 200


def test_504_request_time_limit(make_client: Callable[..., TestClient], images_dir: Path) -> None:
    c = make_client(max_concurrency=1, queue_size=4, request_timeout_s=0.2)
    gate = _block(c, 1)  # the request has to wait for a slot longer than its time limit
    try:
        t = time.perf_counter()
        r = c.post("/solve", files={"file": ("x.png", (images_dir / "x2_minus_4.png").read_bytes())})
        assert r.status_code == 504, r.text
        assert r.json()["error"]["code"] == "timeout"
        assert time.perf_counter() - t < 5
    finally:
        gate.set()


def test_504_solver_time_limit(make_client: Callable[..., TestClient]) -> None:
    c = make_client(solve_timeout_s=1e-6)
    unique = f"x^3 - {time.time_ns() % 997 + 3}x + 1 = 0"  # never in the solver's result cache
    r = c.post("/solve", json={"latex": unique})
    assert r.status_code == 504, r.text
    assert r.json()["error"]["code"] == "solve_timeout"


def test_hostile_latex_gets_a_kind_error_within_the_solver_limit(client: TestClient) -> None:
    t = time.perf_counter()
    r = client.post("/solve", json={"latex": "x^{999999999}=1"})
    assert r.status_code == 200, r.text
    assert r.json()["solution"]["kind"] == "error"
    assert time.perf_counter() - t < 10


def _busy_total(c: TestClient) -> float:
    (line,) = [x for x in c.get("/metrics").text.splitlines() if x.startswith("seq2latex_solver_busy_total ")]
    return float(line.split()[1])


def test_a_busy_solver_answers_busy_not_504(make_client: Callable[..., TestClient]) -> None:
    """Every SymPy worker hangs: a solve that could not start in time is answered at once (200, solution
    error "busy"), not after the service's solve limit with a 504."""
    from seq2latex import solve
    from seq2latex.solver import SolverConfig
    from seq2latex.solver.pool import get_pool

    c = make_client(
        solve_timeout_s=3.6
    )  # may wait 3.6 - 3 (solver limit) - 0.5 (margin) = 0.1 s for a worker
    pool = get_pool()
    slow = SolverConfig(timeout_s=2.5, use_cache=False)
    hang = "\\sum_{k=1}^{100000} \\frac{1}{k^3+k+%d}"
    threads = [
        threading.Thread(target=solve, args=(hang % (i + 50),), kwargs={"config": slow})
        for i in range(pool.size)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(pool._running) < pool.size and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        busy = _busy_total(c)
        r = c.post("/solve", json={"latex": f"x + {time.time_ns() % 997 + 3} = 1"})
        assert r.status_code == 200, r.text
        assert r.json()["solution"]["error_code"] == "busy"
        assert _busy_total(c) == busy + 1
    finally:
        for t in threads:
            t.join(30)
    r = c.post("/solve", json={"latex": "x + 2 = 5"})
    assert r.status_code == 200 and r.json()["solution"]["solutions"] == [{"x": "3"}]


def test_the_queue_is_sized_by_time() -> None:
    """Jobs wait while they can still end within the deadline at the measured time of a job; past that a
    new one is refused at once, told when to retry."""
    limiter = InferenceLimiter(max_concurrency=1, queue_size=100, deadline_s=1.0)
    gate = threading.Event()
    try:
        limiter.submit(time.sleep, 0.2).result(5)  # one job measured: ~0.2 s
        assert 0.15 < (limiter.job_seconds or 0) < 1.0
        limiter.submit(gate.wait, 5)  # holds the one slot
        waiting = []
        with pytest.raises(Overloaded) as refused:
            for _ in range(20):
                waiting.append(limiter.submit(lambda: None))
        assert 1 <= len(waiting) <= 4  # ~1 s / 0.2 s a job, minus the running one
        assert 1 <= refused.value.retry_after_s <= 30
    finally:
        gate.set()
        limiter.shutdown()


def test_a_class_pressing_the_button_together_is_served(
    make_client: Callable[..., TestClient], images_dir: Path
) -> None:
    """30 photos at once (one class) with the default settings: each is answered, none gets 503, since
    the burst ends well within the request time limit (it got 12 x 503 with a queue of 16)."""
    from concurrent.futures import ThreadPoolExecutor

    c = make_client()
    data = (images_dir / "x2_minus_4.png").read_bytes()
    c.post("/recognize", files={"file": ("x.png", data)})  # a job's time is measured

    def send(_: int) -> int:
        return c.post("/recognize", files={"file": ("x.png", data)}).status_code

    with ThreadPoolExecutor(30) as pool:
        codes = list(pool.map(send, range(30)))
    assert codes == [200] * 30, codes


def test_a_page_on_another_origin_can_read_retry_after(
    make_client: Callable[..., TestClient], images_dir: Path
) -> None:
    """The demo page retries a 503 after its Retry-After; embedded on the site's own domain it can only read
    that header when the service exposes it (it is not CORS-safelisted)."""
    c = make_client()
    origin = "https://www.wiskundewijs.nl"
    r = c.post("/solve", json={"latex": "x=1"}, headers={"Origin": origin})
    exposed = r.headers.get("access-control-expose-headers", "").lower()
    assert "retry-after" in exposed, r.headers
