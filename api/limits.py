"""Bounded inference: at most `max_concurrency` jobs run (in worker threads, off the event loop) and jobs
wait only while they can still finish within the request's time limit: the queue is sized by time (the
jobs ahead of a new one, at the measured time of a job, must end before its deadline), with `queue_size`
as a hard cap on what waits (memory). Anything more is refused at once (503, with the seconds after
which to retry) instead of piling up or timing out."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

MAX_BEAM = 10  # beam width accepted by the API
MAX_LINE = 50  # the highest line of writing of a photo a request may ask for (`line`)
# the beam width of /recognize, /solve, the demo page and the CLI unless told otherwise: 32.1 % of CROHME 2014
# read exactly against 26.8 % greedy, for ~2.5x the decoding time (README: Results; SEQ2LATEX_DEFAULT_BEAM)
DEFAULT_BEAM = 3
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # multipart headers and small fields on top of the file
JSON_OVERHEAD_BYTES = 64 * 1024  # JSON keys and small fields on top of the base64 image
RETRY_AFTER_S = 1  # Retry-After of a 503 at least (more when the queue ahead will take longer)
MAX_RETRY_AFTER_S = 30
JOB_TIME_EMA = 0.2  # weight of the newest job in the running estimate of a job's time
READY_SOLVER_TIMEOUT_S = 5.0  # /ready: the solver pool's round trip (above its 3 s job limit)


class Overloaded(Exception):
    """Every slot is busy and a new job would not finish in time (or the queue is at its cap)."""

    def __init__(self, message: str, retry_after_s: int = RETRY_AFTER_S) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InferenceLimiter:
    """A thread pool of `max_concurrency` workers in front of a queue of at most `queue_size` jobs, which
    admits a job only while the jobs ahead of it, at the measured time of a job, leave it time to finish
    within `deadline_s` (None: no time rule)."""

    def __init__(self, max_concurrency: int, queue_size: int, deadline_s: float | None = None) -> None:
        self.max_concurrency = max_concurrency
        self.queue_size = queue_size
        self.deadline_s = deadline_s
        self._job_s: float | None = None  # running estimate of one job's time (None until one has run)
        self._executor = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="seq2latex-infer")
        self._lock = threading.Lock()
        self._in_flight = 0  # running + waiting
        self._running = 0
        self._rejected = 0  # jobs refused because the queue was full, since start

    @property
    def capacity(self) -> int:
        return self.max_concurrency + self.queue_size

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def counts(self) -> tuple[int, int, int]:
        """(running, waiting, rejected so far), read together."""
        with self._lock:
            return self._running, max(0, self._in_flight - self._running), self._rejected

    @property
    def saturated(self) -> bool:
        """True when the next job would be refused."""
        with self._lock:
            return self._refusal() is not None

    @property
    def job_seconds(self) -> float | None:
        """The running estimate of one job's time (None before the first has finished)."""
        with self._lock:
            return self._job_s

    def _finish_s(self, jobs: int) -> float:
        """When the last of `jobs` (the new one included) would end, at the estimated job time."""
        return math.ceil(jobs / self.max_concurrency) * (self._job_s or 0.0)

    def _refusal(self) -> Overloaded | None:
        """Why a new job would be refused now (call with the lock held), or None."""
        if self._in_flight >= self.capacity:
            wait = self._finish_s(self._in_flight) if self._job_s else RETRY_AFTER_S
            return Overloaded(
                f"{self._in_flight} inference jobs in flight (limit {self.capacity})", _retry_after(wait)
            )
        if (
            self.deadline_s is not None
            and self._job_s is not None
            and self._in_flight >= self.max_concurrency
        ):
            finish = self._finish_s(self._in_flight + 1)
            if finish > self.deadline_s:
                return Overloaded(
                    f"{self._in_flight} inference jobs in flight would end in {finish:.1f} s, "
                    f"past the {self.deadline_s:g} s limit",
                    _retry_after(finish - self.deadline_s),
                )
        return None

    def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        with self._lock:
            self._running += 1
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            took = time.perf_counter() - start
            with self._lock:
                self._running -= 1
                self._job_s = (
                    took if self._job_s is None else (1 - JOB_TIME_EMA) * self._job_s + JOB_TIME_EMA * took
                )

    def _done(self, _: Future[object]) -> None:
        with self._lock:
            self._in_flight -= 1

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue `fn(*args)` or raise `Overloaded`; the slot is freed when the job ends or is cancelled."""
        with self._lock:
            refused = self._refusal()
            if refused is not None:
                self._rejected += 1
                raise refused
            self._in_flight += 1
        try:
            fut = self._executor.submit(self._call, fn, *args, **kwargs)
        except BaseException:
            with self._lock:
                self._in_flight -= 1
            raise
        fut.add_done_callback(self._done)
        return fut

    async def run(self, timeout_s: float, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn` in the pool; `asyncio.TimeoutError` after `timeout_s` (a job still waiting is dropped)."""
        fut = self.submit(fn, *args, **kwargs)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(fut), timeout_s)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            fut.cancel()  # only succeeds while it waits; a running job finishes and then frees its slot
            raise

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _retry_after(seconds: float) -> int:
    return int(min(MAX_RETRY_AFTER_S, max(RETRY_AFTER_S, math.ceil(seconds))))


# Ink (JSON `strokes` or `inkml`): what one request may hold. A CROHME expression has at most a few
# hundred strokes of a few hundred points; these leave room for a slow, careful writer and refuse more.
MAX_INK_STROKES = 1000  # strokes in one request
MAX_INK_STROKE_POINTS = 10_000  # points in one stroke
MAX_INK_POINTS = 100_000  # points in all strokes together
MAX_INK_COORDINATE = 1e6  # |x| and |y| at most this (pixels, or InkML's own units)
MAX_INK_POINT_VALUES = 8  # values per point: x, y and a few more (timestamp, pressure, ...), ignored
