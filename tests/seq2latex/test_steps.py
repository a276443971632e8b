"""Step-by-step solutions: every step of every case is checked here, independently of the solver's own
run-time check, by solving each step's LaTeX again with the public `solve` and comparing solution sets."""

from __future__ import annotations

import json
import re

import pytest
import sympy as sp

from seq2latex import solve
from seq2latex.solver import SolverConfig, shutdown, warm_up
from seq2latex.solver.cases import read_value
from seq2latex.solver.lexer import tokenize
from seq2latex.solver.parser import parse
from seq2latex.solver.step_messages import STEP_MESSAGES
from seq2latex.solver.steps import NoSteps, Step, build_steps, steps_result, verify

NO_CACHE = SolverConfig(use_cache=False)

# (group, lang, latex, substrings that must appear in the explanations)
CASES: list[tuple[str, str, str, list[str]]] = [
    # linear equations
    ("linear", "en", "2x + 3 = 7", ["Divide both sides by 2"]),
    ("linear", "nl", "2x + 3 = 7", ["Deel beide kanten door 2"]),
    ("linear", "en", "3x + 2 = x - 4", ["to the left", "Combine"]),
    ("linear", "en", "2(x - 3) + 4 = 2x + 1 - x", ["Expand the brackets"]),
    ("linear", "nl", "2(x + 1) = 3(x - 2)", ["Werk de haakjes weg", "met −1"]),
    ("linear", "en", "5 = 2x - 3", ["Divide both sides by −2"]),
    ("linear", "nl", "5 = 2x - 3", ["Deel beide kanten door −2"]),
    ("linear", "en", "\\frac{x}{2} + \\frac{x}{3} = 5", ["least common denominator"]),
    ("linear", "nl", "\\frac{x}{2} + \\frac{x}{3} = 5", ["kgv van de noemers"]),
    ("linear", "nl", "\\frac{x + 1}{2} - \\frac{x - 2}{3} = 1", ["met 6"]),
    ("linear", "en", "\\frac{3}{4}x - 2 = \\frac{1}{2}", ["by 4"]),
    ("linear", "nl", "0,5x = 2", ["door 0,5"]),
    ("linear", "nl", "0,2x + 0,5 = 1,5", ["door 0,2"]),
    ("linear", "nl", "1,5x - 2 = 0,5x + 1", ["Tel gelijksoortige termen op"]),
    ("linear", "en", "0.25x - 1.5 = 0.5", ["by 0.25"]),
    ("linear", "en", "-x + 4 = 9", ["−1"]),
    ("linear", "nl", "-3x = 12", ["door −3"]),
    ("linear", "en", "7 - 2x = 3x + 22", ["by −5"]),
    ("linear", "en", "4(2x - 1) - 3(x + 2) = 0", ["Expand"]),
    ("linear", "nl", "x - (3 - x) = 5", ["haakjes"]),
    ("linear", "en", "2x + 1 = 2x + 5", ["never true"]),
    ("linear", "nl", "3(x + 1) = 3x + 3", ["klopt altijd"]),
    ("linear", "en", "x^2 + 2x = x^2 + 4", ["Combine"]),
    ("linear", "nl", "\\frac{2x}{5} = 4", ["met 5"]),
    ("linear", "en", "\\sqrt{2}x = 4", ["Divide both sides by √2", "numerator and denominator by √2"]),
    ("linear", "nl", "\\sqrt{2} \\cdot x = 4", ["Deel beide kanten door √2", "teller en noemer met √2"]),
    ("linear", "en", "\\sqrt{2}x + 1 = 3", ["to the left", "by √2"]),
    ("linear", "en", "2\\sqrt{3}x = 6", ["by 2√3", "by √3"]),
    ("linear", "nl", "(\\sqrt{2} - 1)x = 1", ["door √2 − 1", "met 1 + √2"]),
    ("linear", "en", "\\frac{\\sqrt{2}}{2}x = 1", ["least common denominator", "by √2"]),
    # quadratic equations
    ("quadratic", "en", "x^2 - 5x + 6 = 0", ["product–sum"]),
    ("quadratic", "nl", "x^2 - 5x + 6 = 0", ["som-productmethode", "product 6 en som −5"]),
    ("quadratic", "nl", "x^2 + x - 12 = 0", ["som-productmethode"]),
    ("quadratic", "en", "x^2 = 3x + 10", ["Bring all terms to the left", "product–sum"]),
    ("quadratic", "nl", "x^2 = 3x + 10", ["Herleid op 0", "som-productmethode"]),
    ("quadratic", "nl", "-x^2 + 5x - 6 = 0", ["door −1", "som-productmethode"]),
    ("quadratic", "en", "2x^2 - 10x + 12 = 0", ["Divide both sides by 2", "product–sum"]),
    ("quadratic", "nl", "x^2 + 6x + 9 = 0", ["3 · 3 = 9"]),
    ("quadratic", "en", "(x - 2)^2 = 9", ["Expand", "product–sum"]),
    ("quadratic", "en", "x(x - 3) = 0", ["one of its factors is 0"]),
    ("quadratic", "nl", "x(x - 3) = 0", ["een van de factoren 0"]),
    ("quadratic", "nl", "(x - 2)(x + 5) = 0", ["A · B = 0"]),
    ("quadratic", "en", "2x(x + 4) = 0", ["factors"]),
    ("quadratic", "en", "x^2 = 3x", ["Take x out"]),
    ("quadratic", "nl", "2x^2 + 6x = 0", ["Haal x buiten haakjes"]),
    ("quadratic", "nl", "2x^2 = 18", ["Worteltrekken"]),
    ("quadratic", "en", "x^2 = 2", ["square root"]),
    ("quadratic", "nl", "x^2 = 2,25", ["Worteltrekken"]),
    ("quadratic", "en", "3x^2 - 12 = 0", ["square root"]),
    ("quadratic", "nl", "x^2 + 4 = 0", ["nooit negatief"]),
    ("quadratic", "en", "5x^2 = 0", ["only when"]),
    ("quadratic", "nl", "x^2 - 2x - 1 = 0", ["abc-formule", "discriminant"]),
    ("quadratic", "en", "x^2 - 2x - 1 = 0", ["Quadratic formula", "discriminant"]),
    ("quadratic", "nl", "2x^2 + 3x - 2 = 0", ["abc-formule"]),
    ("quadratic", "nl", "-2x^2 + 4x + 1 = 0", ["abc-formule", "a = −2"]),
    ("quadratic", "nl", "x^2 + x + 1 = 0", ["negatief", "geen oplossing"]),
    ("quadratic", "en", "4x^2 - 4x + 1 = 0", ["D = 0"]),
    ("quadratic", "nl", "0,5x^2 - x - 1 = 0", ["abc-formule", "a = 0,5"]),
    ("quadratic", "en", "\\frac{x^2}{2} = 8", ["least common denominator", "square root"]),
    ("quadratic", "nl", "3x^2 + 2 = x^2 + 4x + 8", ["Herleid op 0"]),
    # systems of two linear equations
    ("system", "en", "2x + y = 7, x - y = 2", ["Substitution"]),
    ("system", "nl", "2x + y = 7, x - y = 2", ["Substitutie", "Maak x vrij"]),
    ("system", "nl", "y = 2x + 1, 3x + y = 11", ["Substitutie"]),
    ("system", "en", "3x + 2y = 12, 2x - 3y = -5", ["Elimination", "Add the two equations"]),
    ("system", "nl", "3x + 2y = 12, 2x - 3y = -5", ["Eliminatie", "Tel de twee vergelijkingen op"]),
    ("system", "nl", "2x + 3y = 7 \\\\ 3x + 2y = 8", ["Eliminatie", "Trek de eerste"]),
    ("system", "en", "\\begin{cases} 4x + 3y = 10 \\\\ 2x + 5y = 12 \\end{cases}", ["Elimination"]),
    ("system", "nl", "\\frac{x}{2} + y = 4, x - \\frac{y}{3} = 1", ["kgv"]),
    ("system", "nl", "0,5x + y = 3 ; x - y = 3", ["Substitutie"]),
    ("system", "en", "x + y = 10, x - y = 4", ["Substitution"]),
    ("system", "en", "2x = y + 1, 3x - 2y = 0", ["Substitution"]),
    ("system", "nl", "-x + 2y = 4, 3x - 5y = -9", ["Substitutie"]),
    # linear inequalities
    ("inequality", "en", "2x + 3 < 7", ["positive"]),
    ("inequality", "nl", "2x + 3 < 7", ["positief"]),
    ("inequality", "en", "-3x + 2 < 8", ["flips the inequality sign: < becomes >"]),
    ("inequality", "nl", "-3x + 2 < 8", ["klapt het ongelijkheidsteken om: < wordt >"]),
    ("inequality", "nl", "-2x + 4 \\leq 3(x - 2)", ["klapt", "≤ wordt ≥"]),
    ("inequality", "en", "5 - x \\geq 2", ["flips"]),
    ("inequality", "en", "\\frac{2x - 1}{3} \\geq \\frac{x}{2} + 1", ["least common denominator"]),
    ("inequality", "nl", "0,5x - 1 > 2", ["door 0,5"]),
    ("inequality", "nl", "-\\frac{x}{2} < 4", ["kgv", "klapt"]),
    ("inequality", "en", "4 > -\\frac{x}{2}", ["least common denominator"]),
    ("inequality", "en", "3(x - 1) > 3x", ["never true"]),
    ("inequality", "nl", "2x + 1 \\leq 2x + 4", ["klopt altijd"]),
    ("inequality", "en", "-\\sqrt{2}x < 4", ["by −√2", "flips", "by √2"]),
]


_INTERVAL = re.compile(r"\\left([\[(])(.+?), (.+?)\\right([\])])")


def _read_set(text: str) -> sp.Set:
    """A real set as the solver writes it in the JSON (LaTeX: `\\left(-\\infty, 2\\right] \\cup ...`,
    `\\mathbb{R}`, `\\emptyset`), its endpoints read back with the solver's value reader."""
    total: sp.Set = sp.S.EmptySet
    for part in text.split("\\cup"):
        part = part.strip()
        if part == "\\mathbb{R}":
            total = sp.Union(total, sp.S.Reals)
        elif part != "\\emptyset":
            m = _INTERVAL.fullmatch(part)
            assert m, f"not a set the test can read: {text!r}"
            lo, hi = read_value(m[2]), read_value(m[3])
            total = sp.Union(total, sp.Interval(lo, hi, m[1] == "(", m[4] == ")"))
    return total


def _solution_set(latex: str, lang: str, variables: list[str]) -> sp.Set:
    """The solution set of a step's LaTeX according to the public `solve` (a `\\vee` is a union)."""
    text = latex.replace("{,}", "," if lang == "nl" else ".")
    total: sp.Set = sp.S.EmptySet
    syms = [sp.Symbol(v, real=True) for v in variables]
    for part in text.split("\\vee"):
        r = solve(part, "nl" if lang == "nl" else "en", config=NO_CACHE)
        assert r["kind"] != "error", (part, r["message"])
        if not r["variables"]:  # `0 = 5`, `0 < 3`
            true = r["message"] in ("The statement is true", "De bewering klopt")
            s = (
                (sp.S.Reals if len(syms) == 1 else sp.ProductSet(sp.S.Reals, sp.S.Reals))
                if true
                else sp.S.EmptySet
            )
        elif r["kind"] == "inequality":
            s = _read_set(r["solution_set"])
        elif r["kind"] == "system":
            assert r["variables"] == variables and r["message"] in (
                "The system has one solution",
                "Het stelsel heeft één oplossing",
            ), r
            s = sp.FiniteSet(*[sp.Tuple(*[read_value(sol[v]) for v in variables]) for sol in r["solutions"]])
        elif r["solutions"]:
            s = sp.FiniteSet(*[read_value(sol[variables[0]]) for sol in r["solutions"]])
        elif r["solution_set"] == "\\mathbb{R}":
            s = sp.S.Reals
        else:
            s = sp.S.EmptySet
        total = sp.Union(total, s)
    return total


def _same(a: sp.Set, b: sp.Set) -> bool:
    if isinstance(a, sp.FiniteSet) and isinstance(b, sp.FiniteSet):
        if len(a) != len(b):
            return False
        rest = list(b)
        for u in a:
            m = next((v for v in rest if sp.simplify(sp.Matrix([u]) - sp.Matrix([v])).is_zero_matrix), None)
            if m is None:
                return False
            rest.remove(m)
        return True
    return bool(a == b or (a.is_subset(b) and b.is_subset(a)))


def _aside_holds(latex: str, lang: str) -> bool:
    """`D = b^{2} - 4ac = ... = 8`: each numeric part evaluates to the same number."""
    values = []
    for part in latex.split("=")[2:]:
        r = solve(part.replace("{,}", "," if lang == "nl" else "."), lang, config=NO_CACHE)
        assert r["kind"] == "expression", r
        values.append(read_value(r["value"]))
    return len(values) >= 2 and all(sp.simplify(v - values[-1]) == 0 for v in values)


@pytest.fixture(scope="module", autouse=True)
def _workers():
    warm_up()
    yield
    shutdown()


def test_table_covers_the_four_kinds_in_both_languages() -> None:
    assert len(CASES) >= 60
    for group in ("linear", "quadratic", "system", "inequality"):
        langs = {lang for g, lang, _, _ in CASES if g == group}
        assert langs == {"en", "nl"}, group


@pytest.mark.parametrize(
    "case",
    [*CASES, ("linear", "nl", "0{,}5x = 2", ["door 0,5"])],
    ids=[*[f"{c[0]}:{c[1]}:{c[2][:40]}" for c in CASES], "linear:nl:braced-comma"],
)
def test_every_step_keeps_the_solution_set(case: tuple[str, str, str, list[str]]) -> None:
    group, lang, latex, expected = case
    r = solve(latex, lang, config=NO_CACHE, steps=True)
    json.dumps(r)
    assert r["kind"] == (
        "inequality" if group == "inequality" else "system" if group == "system" else "equation"
    )
    assert r["steps_reason"] is None and r["steps"], r["steps_reason"]
    steps = r["steps"]
    assert all(set(s) == {"latex", "explanation", "aside"} and s["explanation"] for s in steps)
    assert all("\n" not in s["explanation"] for s in steps)
    variables = r["variables"]
    previous = _solution_set(steps[0]["latex"], lang, variables)
    answer = _solution_set(latex, lang, variables)
    assert _same(previous, answer), (steps[0]["latex"], previous, answer)
    for step in steps[1:]:
        if step["aside"]:
            assert _aside_holds(step["latex"], lang), step
            continue
        current = _solution_set(step["latex"], lang, variables)
        assert _same(previous, current), f"{step['latex']!r}: {current} != {previous}"
        previous = current
    assert len(steps) == len({s["latex"] for s in steps}), "a step repeats the previous one"
    text = " | ".join(s["explanation"] for s in steps)
    for needle in expected:
        assert needle in text, (needle, text)
    if lang == "nl":
        assert all("." not in s["latex"] for s in steps), "Dutch steps use the decimal comma"


def test_final_step_is_the_answer_for_solved_cases() -> None:
    r = solve("3x + 2 = x - 4", steps=True)
    assert r["steps"][-1]["latex"] == "x = -3" and r["result_latex"] == "x = -3"
    r = solve("-3x + 2 < 8", "nl", steps=True)
    assert r["steps"][-1]["latex"] == "x > -2"
    r = solve("x^2 - 5x + 6 = 0", "nl", steps=True)
    assert r["steps"][-1]["latex"] == "x = 2 \\vee x = 3"
    assert r["steps"][1]["latex"] == "(x - 2)(x - 3) = 0"
    r = solve("x^2 - 2x - 1 = 0", "nl", steps=True)
    assert r["steps"][1] == {
        "latex": "D = b^{2} - 4ac = (-2)^{2} - 4 \\cdot 1 \\cdot (-1) = 8",
        "explanation": "abc-formule met a = 1, b = −2 en c = −1: eerst de discriminant D = b² − 4ac",
        "aside": True,
    }
    assert r["steps"][-1]["latex"] == "x = 1 - \\sqrt{2} \\vee x = 1 + \\sqrt{2}"
    r = solve("2x + y = 7, x - y = 2", steps=True)
    assert r["steps"][-1]["latex"] == "\\begin{cases} x = 3 \\\\ y = 1 \\end{cases}"


@pytest.mark.parametrize(
    "latex",
    ["\\sin x = 0", "x^3 = 8", "\\frac{1}{x} = 2", "x^2 < 4", "2 + 3", "1 < 2x < 5", "x + y = 3, 2x + 2y = 6",
     "x + y + z = 1, x - y = 2", "\\sqrt{x} = 3", "|x| = 2", "x = \\pm 3", "x^2 + y = 1, x = 2"],
)  # fmt: skip
def test_other_input_gets_null_steps_with_a_reason(latex: str) -> None:
    plain = solve(latex, config=NO_CACHE)
    r = solve(latex, config=NO_CACHE, steps=True)
    assert r["steps"] is None and isinstance(r["steps_reason"], str) and r["steps_reason"]
    assert {k: v for k, v in r.items() if k not in ("steps", "steps_reason")} == plain  # the answer as today


def test_errors_get_null_steps_and_plain_calls_are_unchanged() -> None:
    r = solve("\\frac{x}{", "nl", steps=True)
    assert r["kind"] == "error" and r["steps"] is None and "Geen stappen" in r["steps_reason"]
    assert "steps" not in solve("2x = 4") and "steps_reason" not in solve("2x = 4")


def test_the_runtime_check_rejects_a_wrong_step() -> None:
    """The run-time verification must be able to fail: a step with another solution set is caught."""
    nodes = parse(tokenize("2x + 3 = 7"), "en")
    good = build_steps(nodes, "en")
    x = sp.Symbol("x", real=True)
    verify(good, sp.FiniteSet(2), [x])
    bad = [*good[:-1], Step("x = 3", "Divide both sides by 2")]
    with pytest.raises(NoSteps) as exc:
        verify(bad, sp.FiniteSet(2), [x])
    assert exc.value.key == "reason_unverified"
    flipped = build_steps(parse(tokenize("-3x < 6"), "en"), "en")
    unflipped = [*flipped[:-1], Step("x < -2", "Divide both sides by −3")]
    with pytest.raises(NoSteps):
        verify(unflipped, sp.Interval.open(-2, sp.oo), [x])
    wrong_d = [Step("x^{2} - 2x - 1 = 0", ""), Step("D = b^{2} - 4ac = (-2)^{2} - 4 = 9", "", aside=True)]
    with pytest.raises(NoSteps):
        verify(wrong_d, sp.FiniteSet(1 - sp.sqrt(2), 1 + sp.sqrt(2)), [x])


def test_no_time_left_means_no_steps() -> None:
    nodes = parse(tokenize("2x + 3 = 7"), "en")
    r = steps_result(nodes, "nl", {"kind": "equation"}, 0.0)
    assert r == {"steps": None, "steps_reason": "Het uitwerken van de stappen duurde te lang"}


def test_every_step_text_has_english_and_dutch() -> None:
    for key, texts in STEP_MESSAGES.items():
        assert set(texts) == {"en", "nl"} and all(texts.values()), key
        assert texts["en"] != texts["nl"] or key in ("start_system",), key


STEP_KEYS = {"input", "latex", "kind", "variables", "solutions", "approx", "solution_set", "value",
             "result_latex", "message", "error_code", "steps", "steps_reason"}  # fmt: skip


@pytest.mark.parametrize(
    ("latex", "lang", "code"),
    [("2x + 3 = 7", "en", None), ("\\sin x = 0", "en", None), ("", "en", "empty"), ("\\frac{1}{2", "nl", "unbalanced"),
     ("x^2 = 2{,}25", "en", "decimal_comma"), ("\\sin x > x^5 + x", "en", "cannot_solve"), ("x" * 5000, "en", "too_long")],
)  # fmt: skip
def test_steps_sit_next_to_the_error_code(latex: str, lang: str, code: str | None) -> None:
    """With steps=True every result has the full contract (error_code included) plus the two steps keys;
    an error has null steps and a reason, and its error_code is the one the plain call gives."""
    r = solve(latex, lang, config=NO_CACHE, steps=True)
    assert set(r) == STEP_KEYS
    assert r["error_code"] == code == solve(latex, lang, config=NO_CACHE)["error_code"]
    if code is not None:
        assert r["kind"] == "error" and r["steps"] is None and r["steps_reason"]


def test_step_latex_is_read_by_the_solver_and_values_are_latex() -> None:
    """The steps' LaTeX is valid input for the solver (no error), and the answer's values are LaTeX
    (issue 14), read back to the same numbers the last step states."""
    r = solve("2x + 3 = 0", "nl", config=NO_CACHE, steps=True)
    assert r["solutions"] == [{"x": "- \\frac{3}{2}"}]
    assert r["steps"][-1]["latex"] == "x = -\\frac{3}{2}"
    for step in r["steps"]:
        assert solve(step["latex"], "nl", config=NO_CACHE)["kind"] != "error", step
    assert read_value(r["solutions"][0]["x"]) == sp.Rational(-3, 2)


@pytest.mark.parametrize(
    ("latex", "lang", "reason"),
    [
        ("x=\\frac{1}{4}", "en", "Already solved"),
        ("x=\\frac{1}{4}", "nl", "Al opgelost"),
        ("x = -3", "en", "Already solved"),
        ("y = 0{,}5", "nl", "Al opgelost"),
        ("x < 3", "nl", "Al opgelost"),
    ],
)
def test_an_equation_already_solved_gets_no_steps(latex: str, lang: str, reason: str) -> None:
    """`x = 1/4` once went round in a circle (x = 1/4, 4x = 1, x = 1/4): no steps, and the reason says so."""
    plain = solve(latex, lang, config=NO_CACHE)
    r = solve(latex, lang, config=NO_CACHE, steps=True)
    assert r["steps"] is None and r["steps_reason"].startswith(reason), r["steps_reason"]
    assert {k: v for k, v in r.items() if k not in ("steps", "steps_reason")} == plain


def test_a_number_not_yet_in_its_simplest_form_still_gets_steps() -> None:
    assert [s["latex"] for s in solve("x = 2 + 3", config=NO_CACHE, steps=True)["steps"]] == ["x = 2 + 3", "x = 5"]
    steps = solve("x = \\frac{2}{4}", config=NO_CACHE, steps=True)["steps"]
    assert steps[-1]["latex"] == "x = \\frac{1}{2}"


@pytest.mark.parametrize("latex", ["\\sqrt{2}x=4", "\\sqrt{2}\\cdot x=4", "x\\sqrt{2} = 4"])
def test_a_root_as_coefficient_is_a_linear_equation_with_steps(latex: str) -> None:
    """√2·x = 4 once got no steps and the reason "steps are for linear equations": divide by √2, then
    rationalise the denominator; the last step is the answer."""
    for lang in ("en", "nl"):
        r = solve(latex, lang, config=NO_CACHE, steps=True)
        assert r["steps_reason"] is None and r["result_latex"] == "x = 2 \\sqrt{2}", r
        assert [s["latex"] for s in r["steps"][-3:]] == [
            "x = \\frac{4}{\\sqrt{2}}",
            "x = \\frac{4 \\sqrt{2}}{2}",
            "x = 2 \\sqrt{2}",
        ]
    assert solve("x = 2\\sqrt{2}", config=NO_CACHE, steps=True)["steps_reason"].startswith("Already solved")
    assert solve("\\sqrt{2}x^2 = 4", config=NO_CACHE, steps=True)["steps"] is None  # not linear: no steps
