"""`seq2latex check FILE|-`: check a pupil's working, one step a line: a text file (or stdin) of LaTeX lines,
or a photo of the lines (read with the service's model, checks and beam: `api.local`); the checking is
`seq2latex.solver.check`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from api.local import IMAGE_SUFFIXES, recognize_photo_lines_file
from seq2latex.solver.config import DEFAULT_TIMEOUT_S

_MARKS = {"equivalent": "ok", "not_equivalent": "WRONG", "unknown": "?"}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "check",
        help="check a pupil's working, one step a line (LaTeX lines in a file or on stdin, or a photo)",
    )
    p.add_argument("source", help="a text file of LaTeX lines (one step a line), - for stdin, or a photo")
    p.add_argument(
        "--model", type=Path, default=None, help="model directory for a photo (default: the shipped one)"
    )
    p.add_argument("--lang", choices=["en", "nl"], default="en", help="language of the explanations")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="time limit per step (s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from seq2latex.solver.check import CheckInputError, check_working
    from seq2latex.solver.config import SolverConfig

    readings: list[dict[str, Any]] | None = None
    path = Path(args.source)
    try:
        if args.source == "-":
            text = sys.stdin.read()
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            readings = recognize_photo_lines_file(path, args.model)
            text = "\n".join(r["latex"] for r in readings)
        else:
            text = path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - api.errors.ApiError of a bad photo: its message, no traceback
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    try:
        result = check_working(lines, args.lang, config=SolverConfig(timeout_s=args.timeout))
    except CheckInputError as exc:
        print(f"error: {_input_message(exc, args.lang)}", file=sys.stderr)
        return 2
    if readings is not None:
        for line, reading in zip(result["lines"], readings, strict=True):
            line.update(confidence=reading["confidence"], needs_confirmation=reading["needs_confirmation"])
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(format_result(result, args.lang))
    return 1 if result["first_wrong_line"] is not None else 0


def _input_message(exc: Any, lang: str) -> str:
    from api.checking import input_error

    err = input_error(exc)
    return err.nl if lang == "nl" and err.nl else err.message


_SUMMARY = {
    "en": ("all steps hold", "first wrong line: {n}", "no wrong step found; some steps not checked"),
    "nl": (
        "alle stappen kloppen",
        "eerste foute regel: {n}",
        "geen foute stap gevonden; niet alles gecontroleerd",
    ),
}
_DOUBT = {"en": "read with doubt: check this line", "nl": "twijfelachtig gelezen: controleer deze regel"}


def format_result(result: dict[str, Any], lang: str = "en") -> str:
    """The lines with each step's verdict and explanation under the line it leads to; doubt marked."""
    out = []
    for i, line in enumerate(result["lines"]):
        doubt = f"  ({_DOUBT[lang]})" if line.get("needs_confirmation") else ""
        if i == 0:
            out.append(f"   {line['latex']}{doubt}")
            continue
        step = result["steps"][i - 1]
        out.append(f"{_MARKS[step['verdict']]:>5}  {line['latex']}{doubt}")
        if step["verdict"] != "equivalent":
            out.append(f"       {step['explanation']}")
    wrong = result["first_wrong_line"]
    held, first, unchecked = _SUMMARY[lang]
    if wrong is not None:
        out.append(first.format(n=wrong + 1))
    else:
        out.append(held if all(s["verdict"] == "equivalent" for s in result["steps"]) else unchecked)
    return "\n".join(out)
