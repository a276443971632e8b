"""`seq2latex tokenize`: print the normal form of LaTeX, or check a caption file / InkML folder.

It lives in `data` because checking a dataset means reading its formats (InkML, caption.txt); the
checks themselves are `tokenizer.check`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from data.inkml import InkmlError, read_inkml
from tokenizer.check import caption_lines, check
from tokenizer.latex_tokenizer import LatexTokenizer
from tokenizer.normalize import NormalizationError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tokenize", help="normalise LaTeX to CROHME tokens, or --check a dataset")
    p.add_argument("latex", nargs="?", help="LaTeX to normalise")
    p.add_argument(
        "--check",
        metavar="FILE_OR_DIR",
        help="a caption.txt (or a folder holding one) or a folder of InkML files: report unknown "
        "tokens and normalisation failures as JSON",
    )
    p.add_argument("--tokenizer", metavar="PATH", help="tokenizer.json (default: the shipped one)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    tok = LatexTokenizer.load(args.tokenizer)
    if args.check:
        report = check_path(Path(args.check), tok)
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0 if report["failures"] == 0 and report["unk_tokens"] == 0 else 1
    if args.latex is None:
        print("seq2latex tokenize: give LATEX or --check FILE_OR_DIR", file=sys.stderr)
        return 2
    try:
        print(tok.normalize(args.latex))
    except NormalizationError as exc:
        print(f"seq2latex tokenize: cannot normalise: {exc}", file=sys.stderr)
        return 1
    return 0


def inkml_truths(folder: Path) -> Iterator[tuple[str, str | Exception]]:
    """(name, truth LaTeX) of every InkML file under a folder; a broken file yields its error instead."""
    for path in sorted(folder.rglob("*.inkml")):
        name = str(path.relative_to(folder))
        try:
            yield name, read_inkml(path).truth
        except InkmlError as exc:
            yield name, exc


def check_path(path: Path, tok: LatexTokenizer) -> dict:
    """The `--check` report of a caption file (or a folder holding one) or of a folder of InkML files."""
    if path.is_dir() and (path / "caption.txt").is_file():
        path = path / "caption.txt"
    items = caption_lines(path) if path.is_file() else inkml_truths(path)
    return check(items, tok, path)
