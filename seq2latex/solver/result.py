"""The solver's result dict, with every key of the contract present."""

from __future__ import annotations

from typing import Any


def empty_result(kind: str = "error") -> dict[str, Any]:
    """The answer part of a result (all but `input`/`latex`, which `solve` adds): nothing found yet.
    `error_code` names the failure when kind is "error" (see `INPUT_ERROR_CODES`)."""
    return {
        "kind": kind,
        "variables": [],
        "solutions": [],
        "approx": [],
        "solution_set": None,
        "value": None,
        "result_latex": "",
        "message": "",
        "error_code": None,
    }


# error codes meaning "this LaTeX cannot be read" (a typed input is then the client's error: HTTP 422);
# the others (time limit, unsupported maths, ...) mean it was read but cannot be solved
INPUT_ERROR_CODES = frozenset(
    {"empty", "too_long", "unbalanced", "nesting", "parse", "normalize", "decimal_comma"}
)
