"""Step-by-step solutions in English and Dutch, worked out inside the solver's time-limited worker.

Covered: linear equations (LCD, brackets, collect, divide; a surd coefficient such as √2 is divided by
and the denominator rationalised), quadratic equations (the short way for
`ax^2 = c` and a product equal to 0, `x` outside brackets when c = 0, product–sum factoring when the
roots are rational and the monic form has integer coefficients, otherwise the quadratic formula — the
Dutch "abc-formule" with the discriminant D), systems of two linear equations with one solution
(substitution when a coefficient is ±1, otherwise elimination) and linear inequalities (the sign flip
when dividing by a negative number is said explicitly).

Every step is a LaTeX equation/inequality/system (a `\\vee` of equations once factors split) with a
one-line explanation. Before the steps are returned, each step's LaTeX is read back through the
solver's own parser and SymPy checks that its solution set equals the previous step's (the first step
against the parsed input); if any check fails the steps are dropped with a reason. An `aside` step (the
discriminant computation) is an arithmetic identity, checked as such, and is skipped in the chain.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy as sp

from seq2latex.solver import step_format as sf
from seq2latex.solver.answer_form import is_surd, wrote_decimals
from seq2latex.solver.convert import INEQ, Converter, OutOfTime, sorted_symbols, within
from seq2latex.solver.lexer import SolverInputError, tokenize
from seq2latex.solver.parser import Node, parse
from seq2latex.solver.step_format import NoSteps, Terms
from seq2latex.solver.step_messages import step_text

STEPS_TIME_S = 1.0  # most time for working out and checking the steps, after the answer itself
MIN_STEPS_S = 0.05  # less time left than this: no steps
MAX_FACTORS = 4  # linear factors of a product equal to 0 solved the short way
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}


@dataclass
class Step:
    latex: str
    explanation: str
    aside: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"latex": self.latex, "explanation": self.explanation, "aside": self.aside}


# --- reading the input into terms -----------------------------------------------------------------
class _Reader:
    def __init__(self) -> None:
        self.conv = Converter(imag_unit=False)

    def expr(self, node: Node) -> sp.Expr:
        try:
            return self.conv.one(node)
        except SolverInputError as exc:
            raise NoSteps() from exc

    def terms(self, node: Node, gens: list[sp.Symbol], surds: bool = False) -> Terms:
        """The side's top-level terms, each expanded on its own (`3(x - 2) + 4` -> 3x, -6, 4); with `surds`
        coefficients may be surds (`\\sqrt{2}x`), else only rationals."""
        out: Terms = []
        for t in sf.top_terms(node):
            e = self.expr(t)
            if self.conv.denominators or e.free_symbols - set(gens):
                raise NoSteps()
            try:
                poly = sp.Poly(sp.expand(e), *gens)
            except sp.PolynomialError as exc:
                raise NoSteps() from exc
            if poly.domain.is_ZZ or poly.domain.is_QQ:
                out.extend((sp.Rational(c), tuple(int(k) for k in m)) for m, c in poly.terms() if c != 0)
            elif surds and all(is_surd(c) for _, c in poly.terms()):
                out.extend((sp.expand(c), tuple(int(k) for k in m)) for m, c in poly.terms() if c != 0)
            else:
                raise NoSteps()
        return out


# --- checking the steps ---------------------------------------------------------------------------
def _truth_set(rels: list[tuple[str, sp.Expr, sp.Expr]], gens: list[sp.Symbol]) -> sp.Set:
    """Solution set (real) of a conjunction of relations in the unknowns `gens`."""
    for _, lhs, rhs in rels:
        if (lhs.free_symbols | rhs.free_symbols) - set(gens):
            raise NoSteps("reason_unverified")
    if len(gens) == 1:
        x = gens[0]
        s: sp.Set = sp.S.Reals
        for op, lhs, rhs in rels:
            rel = sp.Eq(lhs, rhs) if op == "=" else INEQ[op](lhs, rhs)
            if isinstance(rel, sp.logic.boolalg.BooleanAtom):
                part = sp.S.Reals if bool(rel) else sp.S.EmptySet
            else:
                part = sp.solveset(rel, x, sp.S.Reals)
            s = sp.Intersection(s, part)
        return s
    if any(op != "=" for op, _, _ in rels):
        raise NoSteps("reason_unverified")
    return sp.linsolve([lhs - rhs for _, lhs, rhs in rels], *gens)


def _node_rels(nodes: list[Node], reader: _Reader) -> list[tuple[str, sp.Expr, sp.Expr]]:
    rels = []
    for n in nodes:
        if n.op != "chain" or len(n.args) != 2:
            raise NoSteps("reason_unverified")
        rels.append((n.text, reader.expr(n.args[0]), reader.expr(n.args[1])))
    return rels


def latex_solution_set(latex: str, gens: list[sp.Symbol]) -> sp.Set:
    """The real solution set of a step's LaTeX, read back through the solver's parser (a `\\vee` is a
    union, `\\begin{cases}` rows are a conjunction, `{,}` is a decimal comma)."""
    body = latex.replace("{,}", ".").replace("\\begin{cases}", " ").replace("\\end{cases}", " ")
    total: sp.Set = sp.S.EmptySet
    for part in body.split("\\vee"):
        try:
            nodes = parse(tokenize(part), "en")
        except SolverInputError as exc:
            raise NoSteps("reason_unverified") from exc
        total = sp.Union(total, _truth_set(_node_rels(nodes, _Reader()), gens))
    return total


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, sp.Tuple | tuple) or isinstance(b, sp.Tuple | tuple):
        return len(a) == len(b) and all(_close(p, q) for p, q in zip(a, b, strict=True))
    d = sp.nsimplify(a - b) if (a - b).is_Float else a - b
    if d.free_symbols:
        return sp.simplify(d) == 0
    return d == 0 or abs(complex(sp.N(d, 30))) < 1e-20


def same_set(a: sp.Set, b: sp.Set) -> bool:
    """Two real solution sets are equal (finite sets compared element by element, numerically exact)."""
    if a == b:
        return True
    if isinstance(a, sp.FiniteSet) and isinstance(b, sp.FiniteSet):
        rest = list(b)
        if len(rest) != len(a):
            return False
        for u in a:
            m = next((v for v in rest if _close(u, v)), None)
            if m is None:
                return False
            rest.remove(m)
        return True
    try:
        return sp.Complement(a, b) == sp.S.EmptySet and sp.Complement(b, a) == sp.S.EmptySet
    except (TypeError, ValueError):
        return False


def _check_aside(latex: str) -> bool:
    """`D = b^{2} - 4ac = (-2)^{2} - 4 \\cdot 1 \\cdot (-1) = 8`: every numeric part has the same value."""
    parts = latex.replace("{,}", ".").split("=")[2:]
    try:
        values = [_Reader().expr(parse(tokenize(p), "en")[0]) for p in parts]
    except (SolverInputError, NoSteps, IndexError):
        return False
    return len(values) >= 2 and all(not v.free_symbols and sp.simplify(v - values[-1]) == 0 for v in values)


def verify(steps: list[Step], start: sp.Set, gens: list[sp.Symbol]) -> None:
    """Raise NoSteps('reason_unverified') unless every step keeps the solution set `start`."""
    previous = start
    for step in steps:
        if step.aside:
            if not _check_aside(step.latex):
                raise NoSteps("reason_unverified")
            continue
        current = latex_solution_set(step.latex, gens)
        if not same_set(previous, current):
            raise NoSteps("reason_unverified")
        previous = current


# --- building the steps ---------------------------------------------------------------------------
class _Builder:
    def __init__(self, lang: str, fmt: sf.Fmt) -> None:
        self.lang = lang
        self.fmt = fmt
        self.steps: list[Step] = []

    def msg(self, key: str, **fields: object) -> str:
        return step_text(key, self.lang, **fields)

    def add(self, latex: str, key: str, aside: bool = False, **fields: object) -> None:
        if self.steps and not aside and _same_text(self.steps[-1].latex, latex):
            return
        self.steps.append(Step(latex, self.msg(key, **fields), aside))

    def note(self, key: str, **fields: object) -> None:
        """Append a conclusion to the last step's explanation."""
        last = self.steps[-1]
        last.explanation += " — " + self.msg(key, **fields)


def _same_text(a: str, b: str) -> bool:
    return a.replace(" ", "") == b.replace(" ", "")


def _linear_tail(
    b: _Builder, lhs: Terms, rhs: Terms, op: str, names: list[str], wrap: Callable[[str], str]
) -> tuple[sp.Rational, sp.Rational] | None:
    """Collect, combine and divide `lhs op rhs` (degree ≤ 1 after combining; the unknown is exponent
    (1,) of one name). Returns (coefficient, value) of `x = value`, or None when the unknown cancelled."""
    fmt = b.fmt
    one = (1,)
    zero = (0,)
    moved_l = [t for t in lhs if sum(t[1]) > 0] + sf.neg([t for t in rhs if sum(t[1]) > 0])
    moved_r = [t for t in rhs if sum(t[1]) == 0] + sf.neg([t for t in lhs if sum(t[1]) == 0])
    x = names[0]
    if moved_l != lhs or moved_r != rhs:
        b.add(wrap(sf.rel(sf.side(moved_l, names, fmt), op, sf.side(moved_r, names, fmt))), "move", x=x)
    comb_l, comb_r = sf.combine(moved_l), sf.combine(moved_r)
    b.add(wrap(sf.rel(sf.side(comb_l, names, fmt), op, sf.side(comb_r, names, fmt))), "combine")
    a = sf.coef(comb_l, one)
    k = sf.coef(comb_r, zero)
    if a == 0:
        holds = bool(sp.Eq(0, k) if op == "=" else INEQ[op](0, k))
        b.note("always" if holds else "never")
        return None
    if not a.is_Rational:
        return a, _divide_by_surd(b, a, k, op, x)
    value = k / a
    new_op = _FLIP[op] if (a < 0 and op != "=") else op
    result = wrap(sf.rel(x, new_op, fmt.num(value)))
    if a == 1:
        return a, value
    if op == "=":
        if a == -1:
            b.add(result, "negate")
        else:
            b.add(result, "divide", n=fmt.text(a))
    elif a < 0:
        b.add(result, "divide_flip", n=fmt.text(a), op=sf.REL_TEXT[op], new=sf.REL_TEXT[new_op])
    else:
        b.add(result, "divide_keep", n=fmt.text(a), op=sf.REL_TEXT[op])
    return a, value


def _divide_by_surd(b: _Builder, a: sp.Expr, k: sp.Expr, op: str, x: str) -> sp.Expr:
    """`\\sqrt{2}x = 4`: divide both sides by √2 (x = 4/√2), then rationalise the denominator (multiply
    numerator and denominator by √2, or by the conjugate √2 − 1 of √2 + 1) and simplify: x = 2√2."""
    fmt = b.fmt
    new_op = _FLIP[op] if (a < 0 and op != "=") else op
    if op == "=":
        key, fields = "divide", {}
    elif a < 0:
        key, fields = "divide_flip", {"op": sf.REL_TEXT[op], "new": sf.REL_TEXT[new_op]}
    else:
        key, fields = "divide_keep", {"op": sf.REL_TEXT[op]}
    value = sp.radsimp(k / a)
    if k == 0:
        b.add(sf.rel(x, new_op, "0"), key, n=fmt.text(a), **fields)
        return value

    def frac(num: sp.Expr, den: sp.Expr) -> str:  # the sign in front: -\frac{4}{\sqrt{2}}
        sign = "-" if (num < 0) != (den < 0) else ""
        if abs(den) == 1:
            return sign + fmt.num(abs(num))
        return f"{sign}\\frac{{{fmt.num(abs(num))}}}{{{fmt.num(abs(den))}}}"

    b.add(sf.rel(x, new_op, frac(k, a)), key, n=fmt.text(a), **fields)
    terms = sp.Add.make_args(a)
    if len(terms) == 1:
        m = sp.Mul(*[f for f in sp.Mul.make_args(a) if f.is_Pow])  # 2√3: multiply by √3
    elif len(terms) == 2 and sum(1 for t in terms if not t.is_Rational) == 1:
        r, rest = a.as_coeff_Add()
        m = r - rest if (r - rest) * a > 0 else rest - r  # √2 + 1: multiply by √2 − 1
    else:
        raise NoSteps()
    num, den = sp.expand(k * m), sp.expand(a * m)
    if not den.is_Rational or den == 0:
        raise NoSteps()
    b.add(sf.rel(x, new_op, frac(num, den)), "rationalise", m=fmt.text(m))
    b.add(sf.rel(x, new_op, fmt.num(value) if is_surd(value) else sf.value_latex(value, fmt)), "simplify")
    return value


def _rational_part(c: sp.Expr) -> sp.Rational:
    """The denominator that matters for the LCD: of a rational, or the rational factors of a surd's terms."""
    if c.is_Rational:
        return sp.Rational(c)
    return sp.Rational(1, math.lcm(*[int(t.as_coeff_Mul()[0].q) for t in sp.Add.make_args(c)]))


def _lcd(terms: Terms) -> int:
    return math.lcm(*[int(_rational_part(c).q) for c, _ in terms]) if terms else 1


def _prepare_sides(
    b: _Builder, node: Node, reader: _Reader, gens: list[sp.Symbol], names: list[str], op: str
) -> tuple[Terms, Terms]:
    """First step, then the LCD or the expanded brackets; the sides' terms after that."""
    fmt = b.fmt
    lhs_node, rhs_node = node.args
    lhs, rhs = reader.terms(lhs_node, gens, surds=True), reader.terms(rhs_node, gens, surds=True)
    if not all(c.is_Rational for c, _ in lhs + rhs) and any(sum(e) > 1 for _, e in lhs + rhs):
        raise NoSteps()  # surds only in linear equations and inequalities
    lcd = _lcd(lhs + rhs)
    if lcd > 1 and sf.has(node, "div"):
        lhs, rhs = sf.scale(lhs, sp.Integer(lcd)), sf.scale(rhs, sp.Integer(lcd))
        b.add(sf.rel(sf.side(lhs, names, fmt), op, sf.side(rhs, names, fmt)), "lcd", n=lcd)
    elif "(" in b.steps[-1].latex:
        b.add(sf.rel(sf.side(lhs, names, fmt), op, sf.side(rhs, names, fmt)), "expand")
    return lhs, rhs


def _zero_product(b: _Builder, node: Node, reader: _Reader, x: sp.Symbol, xl: str) -> bool:
    """`x(x - 3) = 0`, `(x - 2)(x + 5) = 0`: one factor is 0. False when the equation is not of that form."""
    lhs_node, rhs_node = node.args
    if _is_zero_node(rhs_node):
        side = lhs_node
    elif _is_zero_node(lhs_node):
        side = rhs_node
    else:
        return False
    factors: list[Node] = []
    stack = [side]
    while stack:
        n = stack.pop()
        if n.op == "mul":
            stack.extend(reversed(n.args))
        else:
            factors.append(n)
    var_factors = []
    for f in factors:
        e = reader.expr(f)
        if not e.has(x):
            if not e.is_number or e == 0:
                return False
            continue
        try:
            poly = sp.Poly(e, x)
        except sp.PolynomialError:
            return False
        if poly.degree() != 1 or not poly.domain.is_QQ and not poly.domain.is_ZZ:
            return False
        var_factors.append((f, poly))
    if not 2 <= len(var_factors) <= MAX_FACTORS:
        return False
    fmt = b.fmt
    b.add(" \\vee ".join(f"{sf.ungrouped_latex(f, fmt)} = 0" for f, _ in var_factors), "zero_product")
    roots = []
    for _, p in var_factors:
        c1, c0 = p.all_coeffs()
        r = sp.Rational(-c0, c1)
        if r not in roots:
            roots.append(r)
    b.add(" \\vee ".join(f"{xl} = {fmt.num(r)}" for r in roots), "solve_each")
    return True


def _is_zero_node(node: Node) -> bool:
    while node.op == "group":
        node = node.args[0]
    return node.op == "num" and float(node.text) == 0


def _quadratic(b: _Builder, lhs: Terms, rhs: Terms, names: list[str]) -> None:
    fmt = b.fmt
    x = names[0]
    p = sf.combine(lhs + sf.neg(rhs))
    a2, a1, a0 = (sf.coef(p, (d,)) for d in (2, 1, 0))
    if a1 == 0:  # a x^2 = c, the short way
        moved_l = [t for t in lhs if t[1][0] == 2] + sf.neg([t for t in rhs if t[1][0] == 2])
        moved_r = [t for t in rhs if t[1][0] == 0] + sf.neg([t for t in lhs if t[1][0] == 0])
        if moved_l != lhs or moved_r != rhs:
            b.add(sf.rel(sf.side(moved_l, names, fmt), "=", sf.side(moved_r, names, fmt)), "move_square", x=x)
        comb_l, comb_r = sf.combine(moved_l), sf.combine(moved_r)
        b.add(sf.rel(sf.side(comb_l, names, fmt), "=", sf.side(comb_r, names, fmt)), "combine")
        a, k = sf.coef(comb_l, (2,)), sf.coef(comb_r, (0,))
        q = k / a
        if a != 1:
            b.add(sf.rel(f"{x}^{{2}}", "=", fmt.num(q)), "divide", n=fmt.text(a))
        if q < 0:
            b.note("square_negative")
        elif q == 0:
            b.add(f"{x} = 0", "square_zero", x=x)
        else:
            r = sp.sqrt(q)
            b.add(f"{x} = {sf.value_latex(r, fmt)} \\vee {x} = {sf.value_latex(-r, fmt)}", "square_root", x=x)
        return
    std = [(a2, (2,)), (a1, (1,)), (a0, (0,))]
    std = [t for t in std if t[0] != 0]
    b.add(sf.rel(sf.side(std, names, fmt), "=", "0"), "standard_form")
    if a0 == 0:  # a x^2 + b x = 0: x outside brackets
        inner = sf.side([(a2, (1,)), (a1, (0,))], names, fmt)
        b.add(f"{x}({inner}) = 0", "factor_out", x=x)
        b.add(f"{x} = 0 \\vee {inner} = 0", "zero_product")
        b.add(f"{x} = 0 \\vee {x} = {fmt.num(-a1 / a2)}", "solve_each")
        return
    disc = a1**2 - 4 * a2 * a0
    root = sp.sqrt(disc) if disc >= 0 else None
    monic_p, monic_q = a1 / a2, a0 / a2
    if root is not None and root.is_Rational and monic_p.is_Integer and monic_q.is_Integer:
        _product_sum(b, a2, monic_p, monic_q, names)
        return
    _abc(b, a2, a1, a0, disc, names)


def _product_sum(b: _Builder, a2: sp.Rational, p: sp.Rational, q: sp.Rational, names: list[str]) -> None:
    fmt = b.fmt
    x = names[0]
    if a2 != 1:
        monic = [(sp.Integer(1), (2,)), (p, (1,)), (q, (0,))]
        b.add(
            sf.rel(sf.side([t for t in monic if t[0] != 0], names, fmt), "=", "0"),
            "monic",
            n=fmt.text(a2),
            x=x,
        )
    disc = p**2 - 4 * q
    r1, r2 = sorted([(-p - sp.sqrt(disc)) / 2, (-p + sp.sqrt(disc)) / 2])
    s1, s2 = -r1, -r2  # x^2 + p x + q = (x + s1)(x + s2); the smaller solution first
    f1 = sf.side([(sp.Integer(1), (1,)), (s1, (0,))], names, fmt)
    f2 = sf.side([(sp.Integer(1), (1,)), (s2, (0,))], names, fmt)
    if s1 == s2:
        b.add(f"({f1})^{{2}} = 0", "product_sum_double", r=fmt.text(s1), q=fmt.text(q), p=fmt.text(p))
        b.add(f"{f1} = 0", "square_base_zero")
        b.add(f"{x} = {fmt.num(-s1)}", "solve_for", v=x)
        return
    b.add(f"({f1})({f2}) = 0", "product_sum", q=fmt.text(q), p=fmt.text(p), r=fmt.text(s1), s=fmt.text(s2))
    b.add(f"{f1} = 0 \\vee {f2} = 0", "zero_product")
    b.add(f"{x} = {fmt.num(-s1)} \\vee {x} = {fmt.num(-s2)}", "solve_each")


def _abc(
    b: _Builder, a: sp.Rational, bb: sp.Rational, c: sp.Rational, disc: sp.Rational, names: list[str]
) -> None:
    fmt = b.fmt
    x = names[0]
    calc = f"({fmt.num(bb)})^{{2}}" if bb < 0 else f"{fmt.num(bb)}^{{2}}"
    calc += f" - 4 \\cdot {fmt.paren(a)} \\cdot {fmt.paren(c)}"
    fields = {"a": fmt.text(a), "b": fmt.text(bb), "c": fmt.text(c)}
    aside = f"D = b^{{2}} - 4ac = {calc} = {fmt.num(disc)}"
    if disc < 0:
        b.add(aside, "discriminant_negative", aside=True, **fields)
        return
    b.add(aside, "discriminant", aside=True, **fields)
    two_a = fmt.num(2 * a)
    minus_b = fmt.num(-bb)
    if disc == 0:
        b.add(f"{x} = \\frac{{{minus_b}}}{{{two_a}}}", "formula_zero", x=x)
        b.add(f"{x} = {fmt.num(-bb / (2 * a))}", "simplify")
        return
    d = fmt.num(disc)
    b.add(
        f"{x} = \\frac{{{minus_b} - \\sqrt{{{d}}}}}{{{two_a}}} \\vee {x} = \\frac{{{minus_b} + \\sqrt{{{d}}}}}{{{two_a}}}",
        "formula",
        x=x,
    )
    values = sorted(
        [sp.radsimp((-bb - sp.sqrt(disc)) / (2 * a)), sp.radsimp((-bb + sp.sqrt(disc)) / (2 * a))],
        key=lambda v: float(v),
    )
    b.add(" \\vee ".join(f"{x} = {sf.value_latex(v, fmt)}" for v in values), "simplify")


def _one_unknown(b: _Builder, node: Node, reader: _Reader, x: sp.Symbol) -> None:
    op = node.text
    xl = sp.latex(x)
    names = [xl]
    if op == "=" and _zero_product(b, node, reader, x, xl):
        return
    lhs, rhs = _prepare_sides(b, node, reader, [x], names, op)
    degree = max((e[0] for c, e in sf.combine(lhs + sf.neg(rhs))), default=0)
    if degree <= 1:
        _linear_tail(b, lhs, rhs, op, names, lambda s: s)
    elif degree == 2 and op == "=":
        _quadratic(b, lhs, rhs, names)
    else:
        raise NoSteps()


def _system(b: _Builder, nodes: list[Node], reader: _Reader, gens: list[sp.Symbol]) -> None:
    fmt = b.fmt
    names = [sp.latex(g) for g in gens]
    rows = []
    for n in nodes:
        lhs, rhs = reader.terms(n.args[0], gens), reader.terms(n.args[1], gens)
        if any(sum(e) > 1 for _, e in lhs + rhs):
            raise NoSteps()
        rows.append((lhs, rhs))
    if any(_lcd(lhs + rhs) > 1 for lhs, rhs in rows) and any(sf.has(n, "div") for n in nodes):
        rows = [
            (sf.scale(lhs, sp.Integer(_lcd(lhs + rhs))), sf.scale(rhs, sp.Integer(_lcd(lhs + rhs))))
            for lhs, rhs in rows
        ]
        b.add(
            sf.cases([sf.rel(sf.side(lhs, names, fmt), "=", sf.side(rhs, names, fmt)) for lhs, rhs in rows]),
            "system_lcd",
        )
    ex, ey = (1, 0), (0, 1)
    coefs = []
    for lhs, rhs in rows:
        p = sf.combine(lhs + sf.neg(rhs))
        coefs.append((sf.coef(p, ex), sf.coef(p, ey), -sf.coef(p, (0, 0))))
    (a1, b1, c1), (a2, b2, c2) = coefs
    if a1 * b2 - a2 * b1 == 0:
        raise NoSteps("reason_system")

    def std(a: sp.Rational, bq: sp.Rational, c: sp.Rational) -> str:
        return sf.rel(sf.side([t for t in [(a, ex), (bq, ey)] if t[0] != 0], names, fmt), "=", fmt.num(c))

    unit = [(i, v) for i in range(2) for v in range(2) if abs(coefs[i][v]) == 1]
    if unit:  # substitution: the variable whose expression and substitution give the fewest minus signs
        unit.sort(key=lambda iv: (_substitution_signs(coefs, *iv), iv))
        i = unit[0][0]
        kept = b.steps[-1].latex.split("\\\\")
        if len(kept) == 2:  # the row used for substitution stays as written; the other in standard form
            row_i = kept[i].replace("\\begin{cases}", "").replace("\\end{cases}", "").strip()
            rows2 = [row_i, std(*coefs[1])] if i == 0 else [std(*coefs[0]), row_i]
            b.add(sf.cases(rows2), "system_form", x=names[0], y=names[1])
        _substitution(b, coefs, i, unit[0][1], names)
    else:
        b.add(sf.cases([std(*coefs[0]), std(*coefs[1])]), "system_form", x=names[0], y=names[1])
        _elimination(b, coefs, names)


def _substitution_signs(coefs: list[tuple[sp.Rational, ...]], i: int, v: int) -> int:
    av, aw, c = coefs[i][v], coefs[i][1 - v], coefs[i][2]
    return sum(1 for q in (av, -aw / av, c / av, coefs[1 - i][v]) if q < 0)


def _substitution(
    b: _Builder, coefs: list[tuple[sp.Rational, ...]], i: int, v: int, names: list[str]
) -> None:
    fmt = b.fmt
    w = 1 - v
    j = 1 - i
    av, aw, c = coefs[i][v], coefs[i][w], coefs[i][2]
    wn, vn = names[w], names[v]
    expr: Terms = [t for t in [(-aw / av, (1,)), (c / av, (0,))] if t[0] != 0]
    expr_l = sf.side(expr, [wn], fmt)
    iso = f"{vn} = {expr_l}"

    def rows(other: str) -> str:
        return sf.cases([iso, other] if i == 0 else [other, iso])

    b.add(
        rows(
            sf.rel(
                sf.side([t for t in [(coefs[j][0], (1, 0)), (coefs[j][1], (0, 1))] if t[0] != 0], names, fmt),
                "=",
                fmt.num(coefs[j][2]),
            )
        ),
        "isolate",
        v=vn,
        w=wn,
        i=i + 1,
    )
    bv, bw, cj = coefs[j][v], coefs[j][w], coefs[j][2]
    lhs: Terms
    if bv != 0:
        lead = "-" if bv == -1 else "" if bv == 1 else fmt.num(bv)
        sub = f"{lead}({expr_l})"
        if bw != 0:
            sub += (" - " if bw < 0 else " + ") + sf.side([(abs(bw), (1,))], [wn], fmt)
        b.add(rows(sf.rel(sub, "=", fmt.num(cj))), "substitute", v=vn)
        lhs = sf.scale(expr, bv) + ([(bw, (1,))] if bw != 0 else [])
        b.add(rows(sf.rel(sf.side(lhs, [wn], fmt), "=", fmt.num(cj))), "expand")
    else:
        lhs = [(bw, (1,))]
    result = _linear_tail(b, lhs, [(cj, (0,))] if cj != 0 else [], "=", [wn], rows)
    assert result is not None  # the determinant is not 0
    value = result[1]
    vval = sum((cc * (value if e == (1,) else 1) for cc, e in expr), sp.Integer(0))
    final = {v: f"{vn} = {fmt.num(vval)}", w: f"{wn} = {fmt.num(value)}"}
    b.add(
        sf.cases([final[0], final[1]]),
        "back_substitute",
        w=wn,
        value=fmt.text(value),
        v=vn,
        expr=sf.side(expr, [wn], fmt, text=True),
    )


def _elimination(b: _Builder, coefs: list[tuple[sp.Rational, ...]], names: list[str]) -> None:
    fmt = b.fmt
    best = None
    for k in (1, 0):  # eliminate y first on a tie
        p, q = abs(coefs[0][k]), abs(coefs[1][k])
        lcm = (
            sp.ilcm(int(p.p * q.q), int(q.p * p.q)) / (p.q * q.q)
            if (p.q != 1 or q.q != 1)
            else sp.ilcm(int(p), int(q))
        )
        lcm = sp.Rational(lcm)
        m1, m2 = lcm / p, lcm / q
        cost = m1 + m2
        if best is None or cost < best[0]:
            best = (cost, k, m1, m2)
    assert best is not None
    _, k, m1, m2 = best
    u = 1 - k
    e1 = tuple(c * m1 for c in coefs[0])
    e2 = tuple(c * m2 for c in coefs[1])

    def std(e: tuple[sp.Rational, ...]) -> str:
        return sf.rel(
            sf.side([t for t in [(e[0], (1, 0)), (e[1], (0, 1))] if t[0] != 0], names, fmt),
            "=",
            fmt.num(e[2]),
        )

    if m1 != 1 or m2 != 1:
        b.add(sf.cases([std(e1), std(e2)]), "multiply_equations", m1=fmt.text(m1), m2=fmt.text(m2))
    add = e1[k] == -e2[k]
    new = tuple(e2[t] + e1[t] if add else e2[t] - e1[t] for t in range(3))
    un = names[u]
    b.add(
        sf.cases([std(e1), sf.rel(sf.side([(new[u], (1,))], [un], fmt), "=", fmt.num(new[2]))]),
        "add_equations" if add else "subtract_equations",
        v=names[k],
    )
    value = new[2] / new[u]
    b.add(sf.cases([std(e1), f"{un} = {fmt.num(value)}"]), "divide", n=fmt.text(new[u])) if new[
        u
    ] != 1 else None
    a_u, a_k, c = coefs[0][u], coefs[0][k], coefs[0][2]
    kn = names[k]

    def rows(row: str) -> str:
        pair = {u: f"{un} = {fmt.num(value)}", k: row}
        return sf.cases([pair[0], pair[1]])

    if a_u == 0:
        lhs: Terms = [(a_k, (1,))]
        shown = sf.side(lhs, [kn], fmt)
    else:
        prod = fmt.paren(value) if a_u == 1 else f"{fmt.num(a_u)} \\cdot {fmt.paren(value)}"
        shown = prod + (" - " if a_k < 0 else " + ") + sf.side([(abs(a_k), (1,))], [kn], fmt)
        lhs = [(a_u * value, (0,)), (a_k, (1,))]
    b.add(rows(sf.rel(shown, "=", fmt.num(c))), "put_in_first", w=un, value=fmt.text(value))
    _linear_tail(b, lhs, [(c, (0,))] if c != 0 else [], "=", [kn], rows)


def _already_solved(node: Node, reader: _Reader, x: sp.Symbol, fmt: sf.Fmt) -> bool:
    """`x = c` (or `x < c`, ...): the unknown alone on the left, a number written in its simplest form on
    the right (`x = \\frac{2}{4}` and `x = 2 + 3` still have a step to go)."""
    lhs_node, rhs_node = node.args
    if sf.node_latex(lhs_node, fmt) != sp.latex(x) or reader.expr(lhs_node) != x:
        return False
    value = reader.expr(rhs_node)
    simplest = fmt.num(value) if value.is_Rational or is_surd(value) else None
    return simplest is not None and _same_text(sf.node_latex(rhs_node, fmt), simplest)


def build_steps(nodes: list[Node], lang: str) -> list[Step]:
    """The checked steps for parsed statements; raises NoSteps (with the reason) for anything else."""
    if not nodes or any(n.op != "chain" or len(n.args) != 2 for n in nodes):
        raise NoSteps()
    ops = [n.text for n in nodes]
    reader = _Reader()
    sides = [reader.expr(a) for n in nodes for a in n.args]
    if reader.conv.denominators:
        raise NoSteps()
    gens = sorted_symbols(sides)
    fmt = sf.Fmt(lang, decimal=wrote_decimals(nodes))
    b = _Builder(lang, fmt)
    first = [
        sf.node_latex(n.args[0], fmt) + f" {sf.REL_LATEX.get(n.text, '?')} " + sf.node_latex(n.args[1], fmt)
        for n in nodes
    ]
    if "?" in " ".join(first):
        raise NoSteps()
    if len(nodes) == 1 and len(gens) == 1 and ops[0] in sf.REL_LATEX:
        if _already_solved(nodes[0], reader, gens[0], fmt):
            raise NoSteps("reason_solved")  # `x = 1/4`: steps would only go round in a circle
        b.add(first[0], "start_equation" if ops[0] == "=" else "start_inequality")
        _one_unknown(b, nodes[0], reader, gens[0])
    elif len(nodes) == 2 and len(gens) == 2 and ops == ["=", "="]:
        b.add(sf.cases(first), "start_system")
        _system(b, nodes, reader, gens)
    elif len(nodes) == 2 and ops == ["=", "="]:
        raise NoSteps("reason_system")
    else:
        raise NoSteps()
    start = _truth_set(_node_rels(nodes, _Reader()), gens)
    verify(b.steps, start, gens)
    return b.steps


def steps_result(nodes: list[Node], lang: str, answer: dict[str, Any], seconds: float) -> dict[str, Any]:
    """{"steps": [...] or None, "steps_reason": None or a text}, within `seconds` (at most
    `STEPS_TIME_S`); never raises."""
    if "error" in answer or answer.get("kind") == "error":
        return {"steps": None, "steps_reason": step_text("reason_error", lang)}
    seconds = min(seconds, STEPS_TIME_S)
    if seconds < MIN_STEPS_S:
        return {"steps": None, "steps_reason": step_text("reason_time", lang)}
    try:
        steps = within(seconds, lambda: build_steps(nodes, lang))
    except OutOfTime:
        return {"steps": None, "steps_reason": step_text("reason_time", lang)}
    except NoSteps as exc:
        return {"steps": None, "steps_reason": step_text(exc.key, lang)}
    except (SolverInputError, ValueError, TypeError, ZeroDivisionError, AttributeError, IndexError,
            NotImplementedError, RecursionError, AssertionError):  # fmt: skip
        return {"steps": None, "steps_reason": step_text("reason_unsupported", lang)}
    return {"steps": [s.as_dict() for s in steps], "steps_reason": None}
