"""`seq2latex solve`: recognise a photo and solve it, solve typed LaTeX (`--latex`), or time the solver
over the case table (`--bench`).

The work: the image checks and `Recognizer` of the service (`api.local`, which imports torch and the model
only when a photo is read: `seq2latex solve 'x^2=1'` loads neither) and `seq2latex.solver`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from api.local import IMAGE_SUFFIXES, describe, model_problem, recognize_file
from seq2latex.solver.cases import DEFAULT_CASES
from seq2latex.solver.config import DEFAULT_TIMEOUT_S


def looks_like_latex(arg: Path) -> bool:
    """An argument that is no file and reads as maths (`x^2=1`, `\\frac{1}{2}`), not as a photo's name."""
    if arg.exists() or arg.suffix.lower() in IMAGE_SUFFIXES:
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
    p.add_argument("--steps", action="store_true", help="also print the step-by-step working (see the solver)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="time limit per solve (s)")
    p.add_argument("--bench", action="store_true", help="time every case of the table; print JSON")
    p.add_argument("--cases", type=Path, default=DEFAULT_CASES, help="case table for --bench")
    p.set_defaults(func=run)


def print_steps(result: dict[str, Any]) -> None:
    """One line per step, `LaTeX    explanation` (an aside indented), or why there are none."""
    steps = result.get("steps")
    if not steps:
        if result.get("steps_reason"):
            print(result["steps_reason"])
        return
    for step in steps:
        indent = "    " if step["aside"] else ""
        print(f"{indent}{step['latex']}    {step['explanation']}")


def run(args: argparse.Namespace) -> int:
    if args.bench:
        from seq2latex.solver.bench import bench

        print(json.dumps(bench(args.cases, args.timeout), indent=2))
        return 0
    latex = args.latex
    reading: dict[str, Any] | None = None
    if args.image is not None and latex is None and looks_like_latex(args.image):
        latex, args.image = str(args.image), None  # `seq2latex solve 'x^2=1'`: typed maths, not a file
    if args.image is not None:
        if latex is not None:
            print("error: give either IMAGE or --latex, not both", file=sys.stderr)
            return 2
        from api.errors import ApiError

        problem = model_problem(args.model)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        try:
            reading = recognize_file(args.image, args.model)  # the service's checks, model and beam (torch)
        except (ApiError, OSError) as exc:
            print(f"error: {exc.message if isinstance(exc, ApiError) else exc}", file=sys.stderr)
            return 2
        latex = reading["latex"]
        if not args.json:
            print(f"{latex}\t{describe(reading)}")
    if latex is None:
        print("error: give an IMAGE to recognise and solve, --latex LATEX, or --bench", file=sys.stderr)
        print(
            "usage: seq2latex solve IMAGE | seq2latex solve --latex 'x^2=1' | seq2latex solve --bench",
            file=sys.stderr,
        )
        return 2
    from seq2latex.solver.core import solve

    result = solve(latex, args.lang, timeout_s=args.timeout, steps=args.steps)
    if args.json:
        if reading is not None:  # what was read, as /solve answers it
            keys = ("confidence", "needs_confirmation", "beam", "alternatives")
            result = {"recognized": {"latex": latex, **{k: reading[k] for k in keys}}, **result}
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        if result["result_latex"]:
            print(result["result_latex"])
        print(result["message"])
        if args.steps:
            print_steps(result)
    return 1 if result["kind"] == "error" else 0
