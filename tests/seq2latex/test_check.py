"""Check my working (`seq2latex.solver.check`): each step of a pupil's lines compared by SymPy in a worker.

The kept chains (benchmarks/check_chains.jsonl: linear, brackets, fractions, quadratics, inequalities, systems,
expressions; en and nl; about half with one wrong step) must all have the right `first_wrong_line`, and no
wrong step may ever be called "equivalent"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seq2latex.solver import SolverConfig
from seq2latex.solver.check import CheckInputError, check_working, validate_lines
from seq2latex.solver.check_eval import score_chains, step_labels
from seq2latex.solver.check_parse import read_line

CHAINS = Path(__file__).resolve().parents[2] / "benchmarks" / "check_chains.jsonl"


def _chains() -> list[dict]:
    return [json.loads(line) for line in CHAINS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_kept_chains_are_a_fair_set() -> None:
    chains = _chains()
    topics = {c["topic"] for c in chains}
    assert len(chains) >= 40
    assert {
        "linear",
        "brackets",
        "fractions",
        "quadratics",
        "inequalities",
        "systems",
        "expressions",
    } <= topics
    wrong = sum(c["first_wrong_line"] is not None for c in chains)
    assert 0.4 <= wrong / len(chains) <= 0.6
    assert {c["lang"] for c in chains} == {"en", "nl"}
    for c in chains:  # one wrong step at most, inside the chain
        assert c["first_wrong_line"] is None or 1 <= c["first_wrong_line"] < len(c["lines"])
        assert len(step_labels(c)) == len(c["lines"]) - 1


def test_every_kept_chain_gets_its_first_wrong_line_and_no_wrong_step_is_called_right() -> None:
    report = score_chains(_chains(), check_working)
    assert report["misses"] == []
    assert report["first_wrong_line_right"] == report["chains"]
    assert report["wrong_called_equivalent"] == 0
    assert report["wrong_found"] == report["with_error"]


@pytest.mark.parametrize(
    ("lang", "lines", "wrong", "words"),
    [
        ("nl", ["3(x-2)=9", "3x-2=9", "x=11/3"], 1, ["3(x - 2)", "3x - 6", "linkerkant"]),
        ("en", ["x^2=9", "x=3"], 1, ["x = -3", "lost"]),
        ("nl", ["x^2=9", "x=3"], 1, ["x = -3", "kwijt"]),
        ("en", ["-2x<6", "x<-3"], 1, ["negative", ">"]),
        ("nl", ["-2x<6", "x<-3"], 1, ["negatief", ">"]),
        ("en", ["2x+3=7", "2x=7"], 1, ["term 3", "2x = 4"]),
        ("en", ["2x+3=7", "2x=10"], 1, ["changes its sign", "2x = 4"]),
        ("en", ["2x=8", "x=6"], 1, ["divided by 2", "x = 4"]),
        ("nl", ["(a+b)^2", "a^2+b^2"], 1, ["(a + b)^2", "a^2 + 2ab + b^2"]),
        ("en", ["\\sin(x)=0", "x=0"], 1, ["π"]),
    ],
)
def test_a_wrong_step_is_explained_specifically(
    lang: str, lines: list[str], wrong: int, words: list[str]
) -> None:
    result = check_working(lines, lang)
    assert result["first_wrong_line"] == wrong
    step = result["steps"][wrong - 1]
    assert step["verdict"] == "not_equivalent"
    for word in words:
        assert word in step["explanation"], step["explanation"]


@pytest.mark.parametrize(
    "answer",
    [
        "x=2 \\vee x=3",
        "x = 2 of x = 3",
        "x=2 \\text{ or } x=3",
        "x=2, x=3",
        "x=2 \\lor x=3",
        "x=3 ; x=2",
        "x = 2 o f x = 3",  # the model's reading of a handwritten "of": two letter tokens
    ],
)
def test_a_final_line_of_solutions_is_a_solution_set(answer: str) -> None:
    result = check_working(["x^2-5x+6=0", answer], "nl" if " of " in answer else "en")
    assert [s["verdict"] for s in result["steps"]] == ["equivalent"]
    wrong = check_working(["x^2-5x+6=0", answer.replace("3", "4")], "en")
    assert wrong["first_wrong_line"] == 1


def test_dutch_decimal_commas_and_systems() -> None:
    assert check_working(["x^2=2,25", "x=1,5 \\vee x=-1,5"], "nl")["first_wrong_line"] is None
    assert check_working(["x^2=2,25", "x=1,5"], "nl")["first_wrong_line"] == 1
    system = "\\begin{cases}x+y=5\\\\x-y=1\\end{cases}"
    assert check_working([system, "x=3, y=2"], "en")["first_wrong_line"] is None
    assert check_working([system, "x=2, y=3"], "en")["first_wrong_line"] == 1


def test_rounded_solutions_are_not_called_wrong_nor_equivalent() -> None:
    for lines in (["x=\\cos x", "x=0{,}739"], ["x^2=2", "x=1,41 \\vee x=-1,41"]):
        result = check_working(lines, "nl")
        assert [s["verdict"] for s in result["steps"]] == ["unknown"], result
        assert (
            "Afgerond" in result["steps"][0]["explanation"]
            and "1,41" in result["steps"][0]["explanation"]
            or ("0,739" in result["steps"][0]["explanation"])
        )
    for lines in (["x^2=2", "x=1,41"], ["x^2=2", "x=1,42 \\vee x=-1,42"]):  # a lost root; a wrong rounding
        assert check_working(lines, "nl")["first_wrong_line"] == 1


def test_what_cannot_be_decided_is_unknown_never_equivalent() -> None:
    for lines in (["ax=b", "x=\\frac{b}{a}"], ["x^2+y^2=1", "y=\\sqrt{1-x^2}"], ["2x=8", "4"]):
        result = check_working(lines, "nl")
        assert [s["verdict"] for s in result["steps"]] == ["unknown"], (lines, result)
        assert result["first_wrong_line"] is None
        assert result["steps"][0]["explanation"].startswith("Niet gecontroleerd")


def test_an_unreadable_line_is_reported_and_its_steps_are_unknown() -> None:
    result = check_working(["2x=8", "x=", "x=4"], "en")
    assert [line["readable"] for line in result["lines"]] == [True, False, True]
    assert result["lines"][1]["error"] == "parse"
    assert [s["verdict"] for s in result["steps"]] == ["unknown", "unknown"]


def test_a_step_that_runs_too_long_is_cut_off_and_unknown() -> None:
    cfg = SolverConfig(timeout_s=1.0, use_cache=False)
    hard = ["(x+1)^{60}-(x-1)^{60}=0", "x=0", "x+1=1"]
    result = check_working(hard, "en", config=cfg)
    assert result["steps"][0]["verdict"] == "unknown"
    assert "time" in result["steps"][0]["explanation"]
    assert result["steps"][1]["verdict"] == "equivalent"  # the worker answers the next step


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ([], "too_few_lines"),
        (["x=1"], "too_few_lines"),
        (["x=1"] * 31, "too_many_lines"),
        (["x=1", 2], "not_a_string"),
        (["x=1", "  "], "empty_line"),
        (["x=1", "x" * 2001], "line_too_long"),
        ("x=1\nx=2", "not_a_list"),
    ],
)
def test_lines_that_cannot_be_checked_are_refused(lines: object, code: str) -> None:
    with pytest.raises(CheckInputError) as exc:
        validate_lines(lines)
    assert exc.value.code == code


def test_lines_are_read_as_relations_or_expressions() -> None:
    assert read_line("=a^2+2ab+b^2").kind == "expression"
    assert read_line("=a^2+2ab+b^2").continued
    assert len(read_line("x=2 \\vee x=3").disjuncts) == 2
    assert len(read_line("\\begin{cases}x+y=5\\\\x-y=1\\end{cases}").disjuncts) == 1
    assert len(read_line("\\frac{of}{2}=x").disjuncts) == 1  # never cut inside braces
    assert read_line("x+1=").kind == "error"
