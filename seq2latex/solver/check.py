"""`check_working`: a pupil's lines of working, one step a line; is each line right given the line before?

    >>> check_working(["3(x-2)=9", "3x-2=9", "x=11/3"])["first_wrong_line"]
    1

Each step (line i -> line i + 1) is compared by SymPy in a solver worker with the solver's own hard time
limit (`seq2latex.solver.check_engine`): "equivalent", "not_equivalent" (always with a checked witness) or
"unknown" (unreadable, undecidable, out of time). Never raises on bad maths; `CheckInputError` only for input
that is not a list of 2-30 non-empty strings.
"""

from __future__ import annotations

import time
from typing import Any

from seq2latex.solver.check_messages import explain
from seq2latex.solver.check_parse import CheckLine, read_line
from seq2latex.solver.config import DEFAULT_TIMEOUT_S, MAX_CHARS, MAX_CHECK_LINES, SolverConfig
from seq2latex.solver.messages import LANGS
from seq2latex.solver.pool import SolverBusy, WorkerError, get_pool

CHECK_MARGIN_S = 0.3  # the worker answers "out of time" itself this long before it would be killed


class CheckInputError(ValueError):
    """The lines are not a list of 2 to MAX_CHECK_LINES non-empty strings within the length limit.
    `code`: "not_a_list", "not_a_string", "too_few_lines", "too_many_lines", "empty_line", "line_too_long";
    `index`: the offending line (0-based) where there is one."""

    def __init__(self, code: str, index: int | None = None, limit: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.index = index
        self.limit = limit


def validate_lines(lines: Any, max_chars: int = MAX_CHARS) -> list[str]:
    """The lines, stripped; `CheckInputError` when they cannot be checked."""
    if not isinstance(lines, list | tuple):
        raise CheckInputError("not_a_list")
    for i, line in enumerate(lines):
        if not isinstance(line, str):
            raise CheckInputError("not_a_string", i)
    if len(lines) < 2:
        raise CheckInputError("too_few_lines", limit=2)
    if len(lines) > MAX_CHECK_LINES:
        raise CheckInputError("too_many_lines", limit=MAX_CHECK_LINES)
    out = [line.strip() for line in lines]
    for i, line in enumerate(out):
        if not line:
            raise CheckInputError("empty_line", i)
        if len(line) > max_chars:
            raise CheckInputError("line_too_long", i, max_chars)
    return out


def _step(
    before: CheckLine, after: CheckLine, lang: str, cfg: SolverConfig, deadline: float
) -> dict[str, Any]:
    left = deadline - time.monotonic()
    if left < 2 * CHECK_MARGIN_S:
        return {"verdict": "unknown", "explanation": explain("out_of_time", lang)}
    limit = min(cfg.timeout_s, left)
    job = {"task": "check", "before": before, "after": after, "lang": lang, "seconds": limit - CHECK_MARGIN_S}
    try:
        answer = get_pool(cfg.workers).run(job, limit, wait_s=max(0.0, left - limit))
    except SolverBusy:
        return {"verdict": "unknown", "explanation": explain("busy", lang)}
    except WorkerError:
        answer = {"verdict": "unknown", "explanation": explain("undecided", lang)}
    if answer is None:  # the worker ran past the hard limit and was killed
        return {"verdict": "unknown", "explanation": explain("out_of_time", lang)}
    if answer.get("verdict") not in ("equivalent", "not_equivalent", "unknown"):
        return {"verdict": "unknown", "explanation": explain("undecided", lang)}
    return answer


def check_working(
    lines: list[str],
    lang: str = "en",
    *,
    config: SolverConfig | None = None,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """{"lines": [{"latex", "readable", "error"}], "steps": [{"from", "to", "verdict", "explanation",
    ...}], "first_wrong_line": index of the first line that does not follow from the one before, or None}.

    Each step has the solver's time limit (`config.timeout_s`); `timeout_s` bounds the whole check (default:
    one limit per step): steps not reached by then are "unknown". Raises `CheckInputError` for bad input.
    """
    cfg = config or SolverConfig()
    lang = lang if lang in LANGS else "en"
    texts = validate_lines(lines, cfg.max_chars)
    budget = timeout_s if timeout_s is not None else cfg.timeout_s * (len(texts) - 1) + 1.0
    deadline = time.monotonic() + budget
    parsed = [read_line(t, lang) for t in texts]
    out_lines = [
        {
            "latex": t,
            "readable": p.kind != "error",
            "error": None if p.kind != "error" else (p.error_code or "parse"),
        }
        for t, p in zip(texts, parsed, strict=True)
    ]
    steps: list[dict[str, Any]] = []
    first_wrong: int | None = None
    for i in range(len(parsed) - 1):
        answer = _step(parsed[i], parsed[i + 1], lang, cfg, deadline)
        steps.append({"from": i, "to": i + 1, **answer})
        if first_wrong is None and answer["verdict"] == "not_equivalent":
            first_wrong = i + 1
    return {"lines": out_lines, "steps": steps, "first_wrong_line": first_wrong}


__all__ = ["DEFAULT_TIMEOUT_S", "CheckInputError", "check_working", "validate_lines"]
