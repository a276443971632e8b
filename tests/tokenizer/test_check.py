"""tokenizer.check: the dataset report behind `seq2latex tokenize --check`."""

from __future__ import annotations

from pathlib import Path

from tokenizer import LatexTokenizer
from tokenizer.check import caption_lines, check


def test_report_counts_failures_unknown_tokens_and_unreadable_items(tmp_path: Path) -> None:
    tok = LatexTokenizer.load()
    items = [("a", "x ^ { 2 }"), ("b", "\\omega + \\omega"), ("c", "{ x"), ("d", ValueError("empty file"))]
    report = check(items, tok, tmp_path / "set")
    assert report["expressions"] == 4
    assert report["failures"] == 2
    assert [f["name"] for f in report["failure_examples"]] == ["c", "d"]
    assert report["failure_examples"][1]["reason"] == "empty file"
    assert report["unk_tokens"] == 2 and report["unknown"] == {"\\omega": 2}


def test_caption_lines_skip_blank_lines(tmp_path: Path) -> None:
    cap = tmp_path / "caption.txt"
    cap.write_text("a\tx + 1\r\n\n   \nb\t\\frac { 1 } { 2 }\n", encoding="utf-8")
    assert list(caption_lines(cap)) == [("a", "x + 1"), ("b", "\\frac { 1 } { 2 }")]
