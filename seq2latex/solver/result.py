"""The solver's result dict, with every key of the contract present."""

from __future__ import annotations

from typing import Any


def empty_result(kind: str = "error") -> dict[str, Any]:
    """The answer part of a result (all but `input`/`latex`, which `solve` adds): nothing found yet."""
    return {
        "kind": kind,
        "variables": [],
        "solutions": [],
        "approx": [],
        "solution_set": None,
        "value": None,
        "result_latex": "",
        "message": "",
    }
