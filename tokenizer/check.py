"""Check a dataset's LaTeX against the tokenizer: normalisation failures and unknown tokens."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizer.latex_tokenizer import LatexTokenizer
from tokenizer.normalize import NormalizationError
from tokenizer.vocab import UNK

MAX_EXAMPLES = 20  # failures listed in the report


def caption_lines(path: Path) -> Iterator[tuple[str, str]]:
    """(name, LaTeX) of every non-blank line of a `caption.txt` (name TAB tokens)."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if line.strip():
                name, _, latex = line.partition("\t")
                yield name, latex


def check(items: Iterable[tuple[str, str | Exception]], tok: LatexTokenizer, path: Path) -> dict:
    """Normalise every (name, LaTeX) of a dataset; count failures and unknown tokens.

    An item whose LaTeX could not even be read (a broken file) carries the reader's exception instead,
    and counts as a failure."""
    unknown: Counter[str] = Counter()
    failures: list[dict[str, str]] = []
    n = 0
    for name, latex in items:
        n += 1
        if isinstance(latex, Exception):
            failures.append({"name": name, "reason": str(latex)})
            continue
        try:
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
