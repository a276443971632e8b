"""A small pool of persistent SymPy worker processes with a hard per-job time limit.

Workers are plain subprocesses (`python -m seq2latex.solver.worker`) talking pickled messages over their
stdin/stdout, so callers need no `if __name__ == "__main__"` guard (unlike multiprocessing spawn/forkserver).
A job that runs past its limit gets its worker killed and a replacement started; the caller never waits
longer than the limit (plus worker start-up, ~0.5 s, on the very first call). A caller with a deadline of
its own says how long it may wait for a free worker (`run(..., wait_s=)`): past that the pool refuses the
job at once (`SolverBusy`) instead of starting it too late to answer in time. POSIX only.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from seq2latex.solver.config import QUEUE_TIMEOUT_S, STARTUP_TIMEOUT_S

_WORKER_MODULE = "seq2latex.solver.worker"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class WorkerError(RuntimeError):
    """A worker died or did not start."""


class SolverBusy(WorkerError):
    """Every worker stayed busy for as long as the caller could wait; the job was not started."""


# Process-wide counters for the service's metrics (`stats()`); they survive `shutdown()`.
_STATS = {"started": 0, "timeouts": 0, "replaced_timeout": 0, "replaced_died": 0, "busy": 0}
_STATS_LOCK = threading.Lock()


def _count(key: str) -> None:
    with _STATS_LOCK:
        _STATS[key] += 1


def stats() -> dict[str, int]:
    """Worker processes started, jobs killed at their time limit, workers replaced (after a time-out, or
    found dead), jobs refused because no worker came free in time ("busy"), since this process started."""
    with _STATS_LOCK:
        return dict(_STATS)


class _Worker:
    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
        env.setdefault("OMP_NUM_THREADS", "1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", _WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.writer = Connection(os.dup(self.proc.stdin.fileno()), readable=False)
        self.reader = Connection(os.dup(self.proc.stdout.fileno()), writable=False)
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.ready = False
        _count("started")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, timeout: float) -> None:
        if self.ready:
            return
        if not self.reader.poll(timeout) or self.reader.recv() != "ready":
            raise WorkerError("solver worker did not start")
        self.ready = True

    def stop(self) -> None:
        try:
            if self.alive():
                self.writer.send(None)
                self.proc.wait(0.5)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for conn in (self.reader, self.writer):
            try:
                conn.close()
            except OSError:
                pass


class WorkerPool:
    """Up to `size` workers; `run` sends one job to an idle worker and waits at most `timeout` seconds."""

    def __init__(self, size: int = 1) -> None:
        self.size = max(1, size)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(self.size)
        self._closed = False
        self._running: dict[int, float] = {}  # id of a job's thread -> time.monotonic() it was sent

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                w = self._idle.pop()
                if w.alive():
                    return w
                w.kill()
                _count("replaced_died")
        return _Worker()

    def _give(self, w: _Worker) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.size:
                self._idle.append(w)
                return
        w.stop()

    def grow(self, size: int) -> None:
        """At least `size` workers from now on (a pool never shrinks: running jobs hold their slots)."""
        with self._lock:
            extra = size - self.size
            if extra <= 0:
                return
            self.size = size
        self._slots.release(extra)

    def _replace(self, dead: _Worker) -> None:
        dead.kill()
        self._give(_Worker())  # starts now, ready for the next call

    def warm_up(self) -> None:
        """Start every worker the pool may hold now (together) and wait until they are ready."""
        with self._lock:
            missing = self.size - len(self._idle)
        fresh = [_Worker() for _ in range(max(0, missing))]
        for w in fresh:
            w.wait_ready(STARTUP_TIMEOUT_S)
            self._give(w)

    def run(self, job: Any, timeout: float, wait_s: float | None = None) -> dict | None:
        """The worker's answer, or None when the job ran past `timeout` (the worker is then replaced).

        `wait_s`: the longest wait for a free worker (default: the larger of QUEUE_TIMEOUT_S and twice
        `timeout`); when none comes free in that time the job is refused with `SolverBusy`."""
        wait = max(QUEUE_TIMEOUT_S, 2 * timeout) if wait_s is None else max(0.0, wait_s)
        if not self._slots.acquire(timeout=wait):
            _count("busy")
            raise SolverBusy(f"every solver worker stayed busy for {wait:.1f} s")
        try:
            return self._run(job, timeout)
        finally:
            self._slots.release()

    def ping(self, job: Any, timeout: float) -> str | None:
        """None when the pool answers, else why not (for a readiness probe). With a free slot, `job` (a
        trivial one) makes the round trip through a worker within `timeout`; when every worker is busy, the
        pool answers as long as no job has run longer than `timeout` (jobs are killed at their own limit,
        which should be shorter, so one running longer means the pool is stuck)."""
        if not self._slots.acquire(blocking=False):
            with self._lock:
                oldest = min(self._running.values(), default=None)
            if oldest is not None and time.monotonic() - oldest > timeout:
                return f"a solver job has run for {time.monotonic() - oldest:.0f} s"
            return None
        try:
            answer = self._run(job, timeout)
        except WorkerError as exc:
            return str(exc)
        finally:
            self._slots.release()
        return None if answer is not None else f"the solver did not answer within {timeout:g} s"

    def _run(self, job: Any, timeout: float) -> dict | None:
        """One attempt, retried once when an idle worker turns out to have died."""
        for attempt in range(2):
            w = self._take()
            sent = False
            me = threading.get_ident()
            try:
                w.wait_ready(STARTUP_TIMEOUT_S)
                w.writer.send(job)
                sent = True
                with self._lock:
                    self._running[me] = time.monotonic()
                if w.reader.poll(timeout):
                    answer = w.reader.recv()
                    self._give(w)
                    return answer
            except (EOFError, OSError, WorkerError) as exc:
                w.kill()
                _count("replaced_died")
                if attempt == 1 or sent or isinstance(exc, WorkerError):  # the job itself crashed it
                    raise WorkerError(f"solver worker failed: {exc}") from exc
                continue  # an idle worker had died: retry once with a fresh one
            finally:
                with self._lock:
                    self._running.pop(me, None)
            w.proc.kill()  # immediately; reaping and the replacement happen off the caller's clock
            _count("timeouts")
            _count("replaced_timeout")
            threading.Thread(target=self._replace, args=(w,), daemon=True).start()
            return None
        return None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for w in idle:
            w.stop()


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def get_pool(size: int = 1) -> WorkerPool:
    """The process-wide pool (created on first use with `size` workers; grown to `size` if smaller)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = WorkerPool(size)
            atexit.register(shutdown)
        else:
            _POOL.grow(size)
        return _POOL


def shutdown() -> None:
    """Stop all worker processes (also registered with atexit)."""
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.close()
