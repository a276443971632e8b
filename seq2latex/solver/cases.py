"""Test/benchmark table support: load cases and compare a result with a case semantically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEFAULT_CASES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "solver_cases.json"
_NUM_TOL = 1e-9


def load_cases(path: Path = DEFAULT_CASES) -> list[dict[str, Any]]:
    """The case table: dicts with latex, kind and optional lang, solutions, approx, solution_set, value,
    message (a substring, case-insensitive)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def hostile_inputs() -> dict[str, str]:
    """Generated hostile inputs that must give kind 'error' within the time limit."""
    nested = "1"
    for _ in range(300):
        nested = "\\frac{1}{1+" + nested + "}"
    return {
        "huge_exponent": "x^{999999999}=1",
        "power_tower": "2^{2^{2^{2^{2^{2^{2}}}}}}",
        "nested_fractions_300": nested,
        "chars_20000": "x+" * 10_000,
        "empty": "",
        "unbalanced": "\\frac{x}{2",
        "unbalanced_close": "x^{2}}=1",
        "deep_parens": "(" * 500 + "x" + ")" * 500,
    }


def read_value(text: str) -> Any:
    """A value the solver wrote (LaTeX, or a plain number) back as SymPy, through the solver's own parser."""
    from seq2latex.solver.convert import Converter
    from seq2latex.solver.lexer import tokenize
    from seq2latex.solver.parser import parse

    nodes = parse(tokenize(text.replace("{,}", ".")), "en")  # `1{,}5`: the solver's Dutch decimal comma
    if len(nodes) != 1:
        raise ValueError(f"not one value: {text!r}")
    return Converter(imag_unit=True).one(nodes[0])


def _same_value(a: str, b: str) -> bool:
    """Expected value `a` (SymPy syntax, as in the case table) equals the solver's LaTeX value `b`."""
    import sympy as sp

    x = sp.sympify(a, locals={"I": sp.I})
    try:
        y = read_value(b)
    except ValueError:
        return False
    x = x.subs({s: sp.Symbol(s.name, real=True) for s in x.free_symbols})
    y = y.subs({s: sp.Symbol(s.name, real=True) for s in y.free_symbols})
    if x == y:
        return True
    try:
        if not (x - y).free_symbols:
            return abs(complex(sp.N(x - y, 30))) < _NUM_TOL
        return sp.simplify(x - y) == 0
    except (TypeError, ValueError):
        return False


def _same_solution_list(expected: list[dict[str, str]], got: list[dict[str, str]]) -> bool:
    if len(expected) != len(got):
        return False
    remaining = list(got)
    for exp in expected:
        match = next(
            (g for g in remaining if set(g) == set(exp) and all(_same_value(exp[k], g[k]) for k in exp)),
            None,
        )
        if match is None:
            return False
        remaining.remove(match)
    return True


def _same_set(a: str, b: str) -> bool:
    """Expected set `a` (SymPy syntax) is the solver's LaTeX set `b` (both written by SymPy's printer)."""
    import sympy as sp

    from seq2latex.solver.engine import set_text

    expected = sp.sympify(a)
    expected = expected.subs({s: sp.Symbol(s.name, real=True) for s in expected.free_symbols})
    return set_text(expected) == b


def check_case(case: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """Mismatches between the expected `case` and a `solve` result (empty list: it passes)."""
    problems: list[str] = []
    if result.get("kind") != case["kind"]:
        problems.append(f"kind {result.get('kind')!r} != {case['kind']!r} ({result.get('message')})")
        return problems
    if "solutions" in case and not _same_solution_list(case["solutions"], result["solutions"]):
        problems.append(f"solutions {result['solutions']} != {case['solutions']}")
    if "approx" in case and not _same_solution_list(case["approx"], result["approx"]):
        problems.append(f"approx {result['approx']} != {case['approx']}")
    if "solution_set" in case and not (
        result["solution_set"] and _same_set(case["solution_set"], result["solution_set"])
    ):
        problems.append(f"solution_set {result['solution_set']} != {case['solution_set']}")
    if "value" in case and not (result["value"] and _same_value(case["value"], result["value"])):
        problems.append(f"value {result['value']} != {case['value']}")
    if "message" in case and case["message"].lower() not in result["message"].lower():
        problems.append(f"message {result['message']!r} lacks {case['message']!r}")
    return problems
