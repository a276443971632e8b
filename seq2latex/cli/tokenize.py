"""`seq2latex tokenize`: print the normal form of LaTeX, or check a caption file / InkML folder (the
checks: `tokenizer.check`, read from the dataset's formats by `data.caption_check`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from data.caption_check import check_path
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
