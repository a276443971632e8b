"""`seq2latex solve`: solve typed LaTeX (`--latex`), or time the solver over the case table (`--bench`)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from seq2latex.solver.cases import DEFAULT_CASES, check_case, hostile_inputs, load_cases
from seq2latex.solver.config import DEFAULT_TIMEOUT_S, SolverConfig
from seq2latex.solver.core import solve
from seq2latex.solver.pool import get_pool


def recognize_image(path: Path, model: Path | None = None) -> str:
    """LaTeX of the handwritten maths in an image, through the same checks and `Recognizer` as the service."""
    from api.cli import recognize_image_latex

    return recognize_image_latex(path, model)


_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".heic", ".heif", ".avif"}


def looks_like_latex(arg: Path) -> bool:
    """An argument that is no file and reads as maths (`x^2=1`, `\\frac{1}{2}`), not as a photo's name."""
    if arg.exists() or arg.suffix.lower() in _IMAGE_SUFFIXES:
        return False
    text = str(arg)
    return any(ch in text for ch in "=^\\<>+{}") or text.replace(" ", "").isdigit()


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("solve", help="solve or evaluate maths given as LaTeX or as a photo")
    p.add_argument(
        "image", nargs="?", type=Path,
        help="photo of a handwritten formula to recognise and solve (typed LaTeX here is solved as --latex)",
    )  # fmt: skip
    p.add_argument("--model", type=Path, default=None, help="model directory (default: the shipped model)")
    p.add_argument("--latex", help='LaTeX to solve, e.g. "x^2=1"')
    p.add_argument(
        "--lang", choices=["en", "nl"], default="en", help="language of messages; nl: decimal comma"
    )
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="time limit per solve (s)")
    p.add_argument("--bench", action="store_true", help="time every case of the table; print JSON")
    p.add_argument("--cases", type=Path, default=DEFAULT_CASES, help="case table for --bench")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.bench:
        print(json.dumps(bench(args.cases, args.timeout), indent=2))
        return 0
    latex = args.latex
    if args.image is not None and latex is None and looks_like_latex(args.image):
        latex, args.image = str(args.image), None  # `seq2latex solve 'x^2=1'`: typed maths, not a file
    if args.image is not None:
        if latex is not None:
            print("error: give either IMAGE or --latex, not both", file=sys.stderr)
            return 2
        try:
            latex = recognize_image(args.image, args.model)
        except (ValueError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(latex)
    if latex is None:
        print("error: give an IMAGE to recognise and solve, --latex LATEX, or --bench", file=sys.stderr)
        print("usage: seq2latex solve IMAGE | seq2latex solve --latex 'x^2=1' | seq2latex solve --bench",
              file=sys.stderr)
        return 2
    result = solve(latex, args.lang, timeout_s=args.timeout)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        if result["result_latex"]:
            print(result["result_latex"])
        print(result["message"])
    return 1 if result["kind"] == "error" else 0


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
