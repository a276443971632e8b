"""Solver configuration and the limits that guard SymPy against hostile input."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TIMEOUT_S = 3.0  # hard limit per solve, measured in the caller
STARTUP_TIMEOUT_S = 60.0  # time a fresh worker process may take to become ready
QUEUE_TIMEOUT_S = 30.0  # longest wait for a free worker when all are busy
MAX_CHARS = 2000  # input length
MAX_TOKENS = 800  # lexer tokens
MAX_NESTING = 40  # brackets/braces nested inside each other
MAX_NODES = 1500  # parsed expression tree size
MAX_EXPONENT = 1000  # |literal exponent| on a non-constant base; also max polynomial degree
MAX_NUMBER_BITS = 20_000  # estimated size of an exact constant (2**20000 has ~6000 digits)
MAX_POWER_TOWER = 3  # exponents nested inside exponents
MAX_NUMBER_DIGITS = 60  # digits in one literal number
MAX_FACTORIAL = 1000  # largest literal n in n!
MAX_BRANCHES = 8  # \pm alternatives expanded
MAX_STATEMENTS = 10  # equations in a system
MAX_CHECK_LINES = 30  # lines of working checked at once (`check_working`)
WORKER_MEMORY_BYTES = 2 * 1024**3  # address-space limit of a worker process (POSIX only)
CACHE_SIZE = 256  # solved results remembered in the caller


@dataclass(frozen=True)
class SolverConfig:
    """Runtime settings of `solve`: time limit, worker count (fixed when the pool first starts), input
    length and result caching. The structural limits are the module constants above."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    workers: int = 1
    max_chars: int = MAX_CHARS
    use_cache: bool = True
