"""Solver: LaTeX (typed or recognised) to SymPy; solves and evaluates school maths in a time-limited worker.

`solve(latex, lang="en")` returns a JSON-serializable dict and never raises on bad input.
"""

from __future__ import annotations

from seq2latex.solver.config import SolverConfig
from seq2latex.solver.core import solve
from seq2latex.solver.pool import get_pool, shutdown
from seq2latex.solver.result import INPUT_ERROR_CODES


def warm_up(workers: int = 1) -> None:
    """Start the worker process(es) now, so the first `solve` call is fast (e.g. at service start)."""
    get_pool(workers).warm_up()


__all__ = ["INPUT_ERROR_CODES", "SolverConfig", "shutdown", "solve", "warm_up"]
