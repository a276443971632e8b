"""Bounded inference: at most `max_concurrency` jobs run (in worker threads, off the event loop) and at
most `queue_size` wait; anything more is refused at once (503) instead of piling up."""

from __future__ import annotations

import asyncio
import threading
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
RETRY_AFTER_S = 1  # Retry-After of a 503
READY_SOLVER_TIMEOUT_S = 5.0  # /ready: the solver pool's round trip (above its 3 s job limit)


class Overloaded(Exception):
    """Every slot is busy and the queue is full."""


class InferenceLimiter:
    """A thread pool of `max_concurrency` workers in front of a queue of at most `queue_size` jobs."""

    def __init__(self, max_concurrency: int, queue_size: int) -> None:
        self.max_concurrency = max_concurrency
        self.queue_size = queue_size
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
        return self.in_flight >= self.capacity

    def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        with self._lock:
            self._running += 1
        try:
            return fn(*args, **kwargs)
        finally:
            with self._lock:
                self._running -= 1

    def _done(self, _: Future[object]) -> None:
        with self._lock:
            self._in_flight -= 1

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue `fn(*args)` or raise `Overloaded`; the slot is freed when the job ends or is cancelled."""
        with self._lock:
            if self._in_flight >= self.capacity:
                self._rejected += 1
                raise Overloaded(f"{self._in_flight} inference jobs in flight (limit {self.capacity})")
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


# Ink (JSON `strokes` or `inkml`): what one request may hold. A CROHME expression has at most a few
# hundred strokes of a few hundred points; these leave room for a slow, careful writer and refuse more.
MAX_INK_STROKES = 1000  # strokes in one request
MAX_INK_STROKE_POINTS = 10_000  # points in one stroke
MAX_INK_POINTS = 100_000  # points in all strokes together
MAX_INK_COORDINATE = 1e6  # |x| and |y| at most this (pixels, or InkML's own units)
MAX_INK_POINT_VALUES = 8  # values per point: x, y and a few more (timestamp, pressure, ...), ignored
