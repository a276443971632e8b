"""The form of an answer's numbers: decimals when the pupil wrote decimals (`1{,}5` in Dutch), fractions
otherwise. Only a value that is a rational number as a whole is written as a decimal (and only when it
has at most `MAX_DECIMALS` places); irrational values (`2 \\sqrt{2}`) and formulas keep SymPy's form."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.printing.latex import LatexPrinter

from seq2latex.solver.parser import Node

MAX_DECIMALS = 6  # a rational with more decimal places (or a repeating one) stays a fraction


@dataclass(frozen=True)
class AnswerForm:
    """`decimal`: write terminating rationals as decimals; `lang` "nl" writes the decimal comma `{,}`."""

    decimal: bool = False
    lang: str = "en"


FRACTIONS = AnswerForm()


def wrote_decimals(nodes: list[Node]) -> bool:
    """The input has a number with a decimal point (or a Dutch decimal comma, read as a point)."""
    return any(_has_decimal(n) for n in nodes)


def _has_decimal(node: Node) -> bool:
    return (node.op == "num" and "." in node.text) or any(_has_decimal(a) for a in node.args)


def decimal_digits(q: sp.Rational) -> str | None:
    """`|q|` as decimal digits with a point (`1.5`), or None for an integer, a repeating decimal or more
    than MAX_DECIMALS places."""
    q = sp.Rational(q)
    if q.is_Integer:
        return None
    den = int(q.q)
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    places = max(twos, fives)
    if den != 1 or places > MAX_DECIMALS:
        return None
    text = f"{abs(int(q.p)) * 10**places // int(q.q)}".rjust(places + 1, "0")
    return text[:-places] + "." + text[-places:]


def decimal_latex(v: sp.Expr, form: AnswerForm) -> str | None:
    """`-1.5` / `-1{,}5` for a rational value in decimal form; None where the value keeps its form."""
    if not form.decimal or not isinstance(v, sp.Expr) or not v.is_Rational:
        return None
    digits = decimal_digits(v)
    if digits is None:
        return None
    if form.lang == "nl":
        digits = digits.replace(".", "{,}")
    return ("-" if v < 0 else "") + digits


def is_surd(c: sp.Expr) -> bool:
    """A real number written with rationals and square roots of whole numbers only (`2 + 3\\sqrt{5}`)."""
    if c.free_symbols or c.has(sp.pi, sp.E, sp.I) or c.atoms(sp.Function, sp.Float):
        return False
    return all(p.exp == sp.S.Half and p.base.is_Integer and p.base > 0 for p in c.atoms(sp.Pow))


class AnswerPrinter(LatexPrinter):
    """SymPy's LaTeX printer, with the values of a set (interval ends, elements) in the answer's form."""

    def __init__(self, form: AnswerForm, **settings: object) -> None:
        super().__init__(settings)
        self.form = form

    def value(self, v: sp.Expr) -> str:
        text = decimal_latex(v, self.form)
        return text if text is not None else self.doprint(v)

    def _print_Interval(self, i: sp.Interval) -> str:
        if i.start == i.end:
            return "\\left\\{" + self.value(i.start) + "\\right\\}"
        left = "(" if i.left_open else "["
        right = ")" if i.right_open else "]"
        return f"\\left{left}{self.value(i.start)}, {self.value(i.end)}\\right{right}"

    def _print_set(self, s: object) -> str:
        items = sorted(s, key=sp.default_sort_key)  # type: ignore[call-overload]
        return "\\left\\{" + ", ".join(self.value(v) for v in items) + "\\right\\}"

    _print_frozenset = _print_set

    def _print_FiniteSet(self, s: sp.FiniteSet) -> str:
        return self._print_set(s.args)


def latex_of(v: sp.Basic, form: AnswerForm = FRACTIONS, **settings: object) -> str:
    """`sp.latex(v, **settings)`, with rational values (and the values of sets) in the answer's form."""
    if not form.decimal:
        return sp.latex(v, **settings)
    printer = AnswerPrinter(form, **settings)
    return printer.value(v) if isinstance(v, sp.Expr) else printer.doprint(v)
