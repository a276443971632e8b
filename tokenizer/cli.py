"""`seq2latex tokenize`: print the normal form of LaTeX, or check a caption file / InkML folder."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from tokenizer.latex_tokenizer import LatexTokenizer
from tokenizer.normalize import NormalizationError
from tokenizer.vocab import UNK

MAX_EXAMPLES = 20  # failures listed in the --check report


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
        report = check(Path(args.check), tok)
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


def _caption_lines(path: Path) -> Iterator[tuple[str, str]]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if line.strip():
                name, _, latex = line.partition("\t")
                yield name, latex


def _inkml_truths(folder: Path) -> Iterator[tuple[str, str | Exception]]:
    from data.inkml import InkmlError, read_inkml

    for path in sorted(folder.rglob("*.inkml")):
        name = str(path.relative_to(folder))
        try:
            yield name, read_inkml(path).truth
        except InkmlError as exc:
            yield name, exc


def check(path: Path, tok: LatexTokenizer) -> dict:
    """Normalise every expression of a caption file or InkML folder; count failures and unknown tokens."""
    if path.is_dir() and (path / "caption.txt").is_file():
        path = path / "caption.txt"
    items: Iterator[tuple[str, str | Exception]]
    items = _caption_lines(path) if path.is_file() else _inkml_truths(path)
    unknown: Counter[str] = Counter()
    failures: list[dict[str, str]] = []
    n = 0
    for name, latex in items:
        n += 1
        try:
            if isinstance(latex, Exception):
                raise latex
            tokens = tok.tokenize(latex)
        except (NormalizationError, ValueError) as exc:
            failures.append({"name": name, "reason": str(exc)})
            continue
        unknown.update(t for t in tokens if tok.token_to_id(t) == tok.unk_id and t != UNK)
    return {
        "path": str(path),
        "expressions": n,
        "failures": len(failures),
        "failure_examples": failures[:MAX_EXAMPLES],
        "unk_tokens": sum(unknown.values()),
        "unknown": dict(unknown.most_common()),
    }
