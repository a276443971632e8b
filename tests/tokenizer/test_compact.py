"""`compact`: the model's spaced tokens as typed LaTeX, which `normalize` (and the solver) read back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seq2latex import solve
from tokenizer import compact, normalize

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "crohme" / "offline"
SHARED = Path(os.environ.get("SEQ2LATEX_CROHME", REPO.parent / "shared" / "crohme")) / "offline"


@pytest.mark.parametrize(
    ("tokens", "typed"),
    [
        ("z ^ { 3 } + 2 = z", "z^3+2=z"),
        ("x ^ { 1 2 } - 1", "x^{12}-1"),
        ("\\frac { 1 } { 2 } + \\sin x", "\\frac{1}{2}+\\sin x"),
        ("x _ { 1 } ^ { 2 } \\leq \\sqrt [ 3 ] { y }", "x_1^2\\leq\\sqrt[3]{y}"),
        ("\\lim _ { x \\rightarrow 0 } \\frac { \\sin x } { x }", "\\lim_{x\\rightarrow0}\\frac{\\sin x}{x}"),
        ("\\pi r ^ { 2 }", "\\pi r^2"),
    ],
)
def test_compact(tokens: str, typed: str) -> None:
    assert compact(tokens) == typed
    assert normalize(typed) == tokens


def _captions() -> list[str]:
    out = []
    for root in (SHARED, FIXTURES):
        for path in sorted(root.glob("*/caption.txt")):
            out += [line.split("\t", 1)[1] for line in path.read_text().splitlines() if "\t" in line]
        if out:
            return out
    return out


def test_every_caption_round_trips() -> None:
    captions = _captions()
    assert captions
    bad = [c for c in captions if normalize(compact(normalize(c))) != normalize(c)]
    assert not bad, bad[:5]


def test_the_solver_reads_the_compact_form_the_same_way() -> None:
    for tokens in ("z ^ { 3 } + 2 = z", "\\frac { x } { 2 } = 3", "x ^ { 2 } - 4 = 0", "\\sqrt { x } = 3"):
        assert solve(compact(tokens))["solutions"] == solve(tokens)["solutions"] != []
