"""Scoring `check_working` on labelled chains: {"lines", "lang", "first_wrong_line", "topic", "id"}.

A chain's steps before its `first_wrong_line` are right, the step into it is wrong, and the steps after it are
right again (each line after the error follows from the wrong line before it), so every step has a label.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any


def step_labels(chain: dict[str, Any]) -> list[bool]:
    """True for a right step (i -> i + 1), False for the wrong one."""
    wrong = chain["first_wrong_line"]
    return [i + 1 != wrong for i in range(len(chain["lines"]) - 1)]


def score_chains(chains: list[dict[str, Any]], check: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """Counts over all chains and steps, and the chains the checker got wrong (with its verdicts)."""
    counts: Counter[str] = Counter()
    by_topic: dict[str, Counter[str]] = {}
    misses: list[dict[str, Any]] = []
    for chain in chains:
        result = check(chain["lines"], chain["lang"])
        topic = by_topic.setdefault(chain.get("topic", ""), Counter())
        right = result["first_wrong_line"] == chain["first_wrong_line"]
        counts["chains"] += 1
        counts["with_error"] += chain["first_wrong_line"] is not None
        counts["first_wrong_line_right"] += right
        topic["chains"] += 1
        topic["first_wrong_line_right"] += right
        for ok, step in zip(step_labels(chain), result["steps"], strict=True):
            verdict = step["verdict"]
            counts["steps"] += 1
            counts[verdict] += 1
            if not ok and verdict == "equivalent":
                counts["wrong_called_equivalent"] += 1
            if ok and verdict == "not_equivalent":
                counts["right_called_not_equivalent"] += 1
            if not ok and verdict == "not_equivalent":
                counts["wrong_found"] += 1
        if not right:
            misses.append(
                {
                    "id": chain.get("id"),
                    "lines": chain["lines"],
                    "expected": chain["first_wrong_line"],
                    "got": result["first_wrong_line"],
                    "verdicts": [s["verdict"] for s in result["steps"]],
                }
            )
    keys = ("chains", "with_error", "first_wrong_line_right", "steps", "equivalent", "not_equivalent", "unknown",
            "wrong_found", "wrong_called_equivalent", "right_called_not_equivalent")  # fmt: skip
    return {
        **{k: counts[k] for k in keys},
        "langs": dict(Counter(c["lang"] for c in chains)),
        "by_topic": {t: dict(c) for t, c in sorted(by_topic.items())},
        "misses": misses,
    }
