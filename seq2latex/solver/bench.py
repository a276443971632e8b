"""Solver timing over the case table and the hostile inputs (`seq2latex solve --bench` prints it)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from seq2latex.solver.cases import check_case, hostile_inputs, load_cases
from seq2latex.solver.config import SolverConfig
from seq2latex.solver.core import solve
from seq2latex.solver.pool import get_pool


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))
    return ordered[index]


def bench(cases_path: Path, timeout_s: float) -> dict[str, Any]:
    """Median/p99 solve time (ms, uncached, warm worker) over the case table and the hostile inputs."""
    cases = load_cases(cases_path)
    cfg = SolverConfig(timeout_s=timeout_s, use_cache=False)
    t0 = time.perf_counter()
    get_pool(cfg.workers).warm_up()
    startup_ms = (time.perf_counter() - t0) * 1000
    times: list[float] = []
    failed: list[str] = []
    for case in cases:
        t = time.perf_counter()
        result = solve(case["latex"], case.get("lang", "en"), config=cfg)
        times.append((time.perf_counter() - t) * 1000)
        if check_case(case, result):
            failed.append(case["latex"])
    hostile_ms: list[float] = []
    for text in hostile_inputs().values():
        t = time.perf_counter()
        result = solve(text, config=cfg)
        hostile_ms.append((time.perf_counter() - t) * 1000)
        if result["kind"] != "error":
            failed.append(text[:40])
    return {
        "cases": len(cases),
        "passed": len(cases) - len([f for f in failed if f in {c["latex"] for c in cases}]),
        "failed": failed,
        "worker_startup_ms": round(startup_ms, 1),
        "median_ms": round(statistics.median(times), 2),
        "p99_ms": round(_percentile(times, 0.99), 2),
        "max_ms": round(max(times), 2),
        "hostile_max_ms": round(max(hostile_ms), 2),
        "timeout_s": timeout_s,
    }
