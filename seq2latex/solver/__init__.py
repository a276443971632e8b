"""Solver: LaTeX (typed or recognised) to SymPy; solves and evaluates school maths in a time-limited worker.

`solve(latex, lang="en")` returns a JSON-serializable dict and never raises on bad input.
"""

from __future__ import annotations

from seq2latex.solver.config import SolverConfig
from seq2latex.solver.core import solve
from seq2latex.solver.pool import get_pool, shutdown, stats
from seq2latex.solver.result import INPUT_ERROR_CODES


def warm_up(workers: int = 1) -> None:
    """Start the worker processes now (at least `workers`), so the first `solve` calls are fast (e.g. at
    service start)."""
    get_pool(workers).warm_up()


def set_workers(workers: int) -> None:
    """Let the process-wide pool hold at least `workers` processes (started when first needed)."""
    get_pool(workers)


def ping(timeout_s: float) -> str | None:
    """None when the worker pool answers (a trivial job's round trip, or, while every worker is busy, no job
    past `timeout_s`), else why not. Blocks up to `timeout_s` (more only while a first worker starts)."""
    from seq2latex.solver.lexer import tokenize
    from seq2latex.solver.parser import parse

    return get_pool().ping((parse(tokenize("1+1"), "en"), "en"), timeout_s)


__all__ = [
    "INPUT_ERROR_CODES",
    "SolverConfig",
    "ping",
    "set_workers",
    "shutdown",
    "solve",
    "stats",
    "warm_up",
]
