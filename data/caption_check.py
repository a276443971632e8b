"""A dataset's LaTeX checked against the tokenizer (`tokenizer.check`), read from its formats: a
`caption.txt` (or a folder holding one) or a folder of InkML files. The work of `seq2latex tokenize
--check` (`seq2latex.cli.tokenize`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from data.inkml import InkmlError, read_inkml
from tokenizer.check import caption_lines, check
from tokenizer.latex_tokenizer import LatexTokenizer


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
