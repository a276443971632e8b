"""Inside a solver worker: does a line of a pupil's working say the same as the line before?

Relations (equations, inequalities, systems, "x = 2 or x = 3") are compared by their real solution sets,
expressions as expressions. A step is "not_equivalent" only with a witness checked by substitution into both
lines as the pupil wrote them (a value of the unknowns for which one line holds and the other does not, or
for expressions a point where they differ); "equivalent" only when SymPy shows the sets (or expressions) equal;
everything else, and whatever runs out of time, is "unknown". Never a guess.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import sympy as sp

from seq2latex.solver.check_messages import explain, fmt_value
from seq2latex.solver.check_parse import CheckLine
from seq2latex.solver.convert import INEQ, Converter, OutOfTime, sorted_symbols, within
from seq2latex.solver.engine import set_to_latex
from seq2latex.solver.lexer import SolverInputError
from seq2latex.solver.parser import Node

Rel = tuple[str, sp.Expr, sp.Expr]  # (op, lhs, rhs), op one of = < > <= >= !=
_MIRROR = {"=": "=", "<": ">", ">": "<", "<=": ">=", ">=": "<=", "!=": "!="}
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
_GRID = [sp.Rational(n, 2) for n in range(-20, 21)] + [sp.Rational(p, 7) for p in (-13, -3, 5, 11)]
_SAMPLES = [sp.Rational(v) for v in ("2", "3", "-1", "1/3", "5", "-5/4", "7/2", "-2/9")]
# where trigonometric and other lines have solutions that no rational point hits
_SPECIAL = [k * sp.pi / d for d in (1, 2, 3, 4, 6) for k in (1, -1, 3)] + [sp.E, sp.sqrt(2), -sp.sqrt(2), sp.sqrt(3)]
MAX_WITNESS_TRIES = 400


class Undecided(Exception):
    """SymPy cannot settle the step (an unsupported construction, a set it cannot write down, time)."""


class _Clock:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0.01:
            raise Undecided("time")
        return left

    def run(self, fn: Any) -> Any:
        try:
            return within(self.left(), fn)
        except OutOfTime as exc:
            raise Undecided("time") from exc


# --- reading a line into SymPy --------------------------------------------------------------------------
class _Line:
    """A line in SymPy: `options` is a union of conjunctions of relations (several where "or" or \\pm);
    or an expression `expr`."""

    def __init__(self, line: CheckLine, conv: Converter) -> None:
        self.kind = line.kind
        self.written: str | None = None  # an expression as the pupil wrote it
        self.decimals = any(_has_decimals(n) for conj in line.disjuncts for n in conj) or (
            line.expr is not None and _has_decimals(line.expr)
        )
        self.options: list[list[Rel]] = []
        self.expr: sp.Expr | None = None
        self.shown: tuple[str | None, str | None] = (None, None)  # the two sides as the pupil wrote them
        try:
            if line.kind == "expression":
                assert line.expr is not None
                self.expr = conv.one(line.expr)
                self.written = _as_written(line.expr)
            else:
                for conj in line.disjuncts:
                    self.options.extend(_conjunctions(conj, conv))
                if len(line.disjuncts) == 1 and len(line.disjuncts[0]) == 1:
                    node = line.disjuncts[0][0]
                    if len(node.args) == 2:
                        self.shown = (_as_written(node.args[0]), _as_written(node.args[1]))
        except SolverInputError as exc:
            raise Undecided(exc.detail or exc.code) from exc

    def symbols(self) -> set[sp.Symbol]:
        if self.expr is not None:
            return set(self.expr.free_symbols)
        return {
            s for conj in self.options for _, lhs, rhs in conj for s in (lhs.free_symbols | rhs.free_symbols)
        }

    def holds(self, point: dict[sp.Symbol, sp.Expr]) -> bool | None:
        """Whether the line is true at `point` (undefined sides: false); None when it cannot be told."""
        answers = [_conj_holds(conj, point) for conj in self.options]
        if any(a is True for a in answers):
            return True
        if all(a is False for a in answers):
            return False
        return None


_LANG = ["en"]  # the language of the step being compared (one job at a time in a worker)


def _has_decimals(node: Node) -> bool:
    return (node.op == "num" and "." in node.text) or any(_has_decimals(a) for a in node.args)


def _as_written(node: Node) -> str | None:
    """A side as plain text without SymPy's own rewriting (`3(x - 2)` stays, not `3x - 6`)."""
    try:
        with sp.evaluate(False):
            return fmt_value(Converter(imag_unit=False).one(node), _LANG[0], decimals=_has_decimals(node))
    except Exception:  # noqa: BLE001 - only for display; the evaluated form is shown instead
        return None


def _conjunctions(nodes: list[Node], conv: Converter) -> list[list[Rel]]:
    """The relations of a conjunction of chains; \\pm on a side gives one conjunction per sign."""
    per_node: list[list[list[Rel]]] = []
    for node in nodes:
        ops = node.text.split()
        sides = [conv.conv(a) for a in node.args]
        options: list[list[Rel]] = []
        for combo in itertools.product(*sides):
            options.append([(op, combo[i], combo[i + 1]) for i, op in enumerate(ops)])
        per_node.append(options)
    return [sum(choice, []) for choice in itertools.product(*per_node)]


def _value(e: sp.Expr, point: dict[sp.Symbol, sp.Expr]) -> sp.Expr | None:
    """The exact value of `e` at `point`; None where it is undefined or not real."""
    try:
        v = e.subs(point)
        if v.free_symbols:
            return None
        n = complex(sp.N(v, 40))
    except (TypeError, ValueError, ZeroDivisionError, AttributeError):
        return None
    if v.has(sp.zoo, sp.nan, sp.oo, -sp.oo) or abs(n.imag) > 1e-25 * max(1.0, abs(n.real)):
        return None
    return v


def _sign(d: sp.Expr) -> int | None:
    """-1, 0 or 1 for an exact real number (None when too close to zero to tell without proof)."""
    n = float(sp.re(sp.N(d, 60)))
    if abs(n) > 1e-30:
        return 1 if n > 0 else -1
    z = d.equals(0)
    return 0 if z else None


def _conj_holds(conj: list[Rel], point: dict[sp.Symbol, sp.Expr]) -> bool | None:
    unknown = False
    for op, lhs, rhs in conj:
        a, b = _value(lhs, point), _value(rhs, point)
        if a is None or b is None:
            return False
        s = _sign(a - b)
        if s is None:
            unknown = True
            continue
        ok = {"=": s == 0, "!=": s != 0, "<": s < 0, ">": s > 0, "<=": s <= 0, ">=": s >= 0}[op]
        if not ok:
            return False
    return None if unknown else True


# --- solution sets --------------------------------------------------------------------------------------
def _relation(op: str, lhs: sp.Expr, rhs: sp.Expr) -> sp.Basic:
    return sp.Eq(lhs, rhs) if op == "=" else INEQ[op](lhs, rhs)


def _solution_set(line: _Line, gens: list[sp.Symbol], clock: _Clock) -> sp.Set:
    total: sp.Set = sp.S.EmptySet
    for conj in line.options:
        total = sp.Union(total, _conj_set(conj, gens, clock))
    return total


def _conj_set(conj: list[Rel], gens: list[sp.Symbol], clock: _Clock) -> sp.Set:
    if not gens:  # numbers only: "3 + 4 = 7" is true or false
        truth = _conj_holds(conj, {})
        if truth is None:
            raise Undecided("numbers")
        return sp.S.UniversalSet if truth else sp.S.EmptySet
    if len(gens) == 1:
        x = gens[0]
        s: sp.Set = sp.S.Reals
        for op, lhs, rhs in conj:
            rel = _relation(op, lhs, rhs)
            if isinstance(rel, sp.logic.boolalg.BooleanAtom):
                part = sp.S.Reals if bool(rel) else sp.S.EmptySet
            else:
                part = clock.run(lambda rel=rel: sp.solveset(rel, x, sp.S.Reals))
            s = clock.run(lambda s=s, part=part: sp.Intersection(s, part))
        if s.has(sp.ConditionSet, sp.ImageSet, sp.Complement) and not isinstance(s, sp.FiniteSet):
            raise Undecided("set")
        return s
    if any(op != "=" for op, _, _ in conj):
        raise Undecided("inequalities in several unknowns")
    eqs = [lhs - rhs for _, lhs, rhs in conj]
    try:
        if all(sp.Poly(e, *gens).total_degree() <= 1 for e in eqs):
            return clock.run(lambda: sp.linsolve(eqs, *gens))
    except sp.PolynomialError:
        pass
    raise Undecided("a non-linear system")


def _same(a: sp.Set, b: sp.Set, clock: _Clock) -> bool:
    from seq2latex.solver.steps import same_set  # the step checker's own comparison (exact, element-wise)

    return bool(clock.run(lambda: same_set(a, b)))


# --- witnesses: a point where one line holds and the other does not ---------------------------------------
def _points(sets: list[sp.Set], gens: list[sp.Symbol]) -> list[dict[sp.Symbol, sp.Expr]]:
    """Candidate points: the elements of finite solution sets, interval ends and their neighbours, a grid."""
    if not gens:
        return [{}]
    out: list[dict[sp.Symbol, sp.Expr]] = []
    if len(gens) == 1:
        values: list[sp.Expr] = []
        for s in sets:
            for piece in s.args if isinstance(s, sp.Union) else (s,):
                if isinstance(piece, sp.FiniteSet):
                    values.extend(v for v in piece if v.is_real and not v.free_symbols)
                elif isinstance(piece, sp.Interval):
                    for end in (piece.start, piece.end):
                        if end.is_finite:
                            values.extend([end, end - sp.Rational(1, 2), end + sp.Rational(1, 2)])
        values.extend(_GRID)
        return [{gens[0]: v} for v in dict.fromkeys(values)]
    for s in sets:
        if isinstance(s, sp.FiniteSet):
            for tup in s:
                free = sorted(tup.free_symbols, key=str)
                for vals in itertools.product(_SAMPLES[:3], repeat=len(free)):
                    t = tup.subs(dict(zip(free, vals, strict=True)))
                    out.append(dict(zip(gens, t, strict=True)))
    for vals in itertools.islice(itertools.product(_SAMPLES, repeat=len(gens)), 64):
        out.append(dict(zip(gens, vals, strict=True)))
    return out


def _witness(
    a: _Line, b: _Line, points: list[dict[sp.Symbol, sp.Expr]], clock: _Clock
) -> tuple[dict[sp.Symbol, sp.Expr], bool] | None:
    """(point, True when the line before holds there and this one not / False the other way round)."""
    for point in points[:MAX_WITNESS_TRIES]:
        clock.left()
        ha = clock.run(lambda point=point: a.holds(point))
        hb = clock.run(lambda point=point: b.holds(point))
        if ha is not None and hb is not None and ha != hb:
            return point, ha
    return None


# --- the explanation of a wrong relation step -----------------------------------------------------------
def _eq(u: sp.Expr, v: sp.Expr, clock: _Clock) -> bool:
    d = clock.run(lambda: sp.expand(u - v))
    return d == 0 or clock.run(lambda: sp.simplify(d)) == 0


def _ratio(u: sp.Expr, v: sp.Expr, clock: _Clock) -> sp.Expr | None:
    """k with u = k·v (a non-zero number), else None."""
    if v == 0 or u == 0:
        return None
    k = clock.run(lambda: sp.cancel(sp.together(u / v)))
    return k if not k.free_symbols and k.is_number and k != 0 else None


def _linear(line: _Line, gens: list[sp.Symbol]) -> bool:
    try:
        return all(
            sp.Poly(side, *gens).total_degree() <= 1 for _, lhs, rhs in line.options[0] for side in (lhs, rhs)
        )
    except (sp.PolynomialError, sp.GeneratorsNeeded):
        return False


def _step_hint(a: _Line, b: _Line, gens: list[sp.Symbol], lang: str, clock: _Clock) -> str | None:
    """For a linear step (one relation -> one relation): what was done to one side and not the other, or
    which side was rewritten wrongly; None where that cannot be said."""
    if len(a.options) != 1 or len(b.options) != 1 or len(a.options[0]) != 1 or len(b.options[0]) != 1:
        return None
    if not gens or not (_linear(a, gens) and _linear(b, gens)):
        return None
    op1, l1, r1 = a.options[0][0]
    op2, l2, r2 = b.options[0][0]
    shown = {"l1": a.shown[0], "r1": a.shown[1], "l2": b.shown[0], "r2": b.shown[1]}
    if op2 != op1 and _MIRROR[op2] == op1 and (_eq(l1, r2, clock) or _eq(r1, l2, clock)):
        op2, l2, r2 = _MIRROR[op2], r2, l2  # the pupil swapped the sides
        shown["l2"], shown["r2"] = shown["r2"], shown["l2"]
    k_l, k_r = _ratio(l2, l1, clock), _ratio(r2, r1, clock)
    if op1 in _FLIP and k_l is not None and k_l == k_r:
        if k_l < 0 and op2 == op1:
            return explain("flip_sign", lang, k=k_l, op=_FLIP[op1])
        if k_l > 0 and op2 == _FLIP[op1]:
            return explain("flip_needless", lang, k=k_l, op=op1)
    if op2 != op1:
        return None
    same_l, same_r = _eq(l1, l2, clock), _eq(r1, r2, clock)
    if same_l and same_r:
        return None
    sides = (("left", l1, l2, r1, same_r, k_l, k_r), ("right", r1, r2, l1, same_l, k_r, k_l))
    for side, old, new, other_old, _, k, k_other in sides:
        if k is not None and k != 1 and k_other != k and old.free_symbols:
            return explain(f"scaled_{side}", lang, k=k, fixed=_rel_text(op1, new, k * other_old, side))
    for side, old, new, other_old, same_other, _, _ in sides:
        if not same_other:
            continue
        removed = _removed_terms(old, new)
        if removed is not None:
            return explain(
                f"term_{side}_only", lang, term=removed, fixed=_rel_text(op1, new, other_old - removed, side)
            )
        key = "l" if side == "left" else "r"
        expanded = clock.run(lambda old=old: sp.expand(old))
        return explain(
            f"rewrote_{side}",
            lang,
            old=shown[key + "1"] or old,
            new=shown[key + "2"] or new,
            expanded=expanded,
        )
    d_l = clock.run(lambda: sp.expand(l2 - l1))
    d_r = clock.run(lambda: sp.expand(r2 - r1))
    if clock.run(lambda: sp.expand(d_l + d_r)) == 0:
        return explain("moved_sign", lang, d_l=d_l, d_r=d_r, fixed=_rel_text(op1, l2, r1 + d_l, "left"))
    return explain("changed_differently", lang, d_l=d_l, d_r=d_r)


def _removed_terms(old: sp.Expr, new: sp.Expr) -> sp.Expr | None:
    """The sum of the terms of `old` that `new` lacks, when `new`'s terms are some of `old`'s."""
    rest = list(sp.Add.make_args(old))
    for t in sp.Add.make_args(new):
        if new == 0:
            break
        if t not in rest:
            return None
        rest.remove(t)
    removed = sp.Add(*rest)
    return removed if rest and removed != 0 else None


def _rel_text(op: str, changed: sp.Expr, other: sp.Expr, side: str) -> str:
    """The corrected line: the pupil's changed side, and the other side changed the same way."""
    sym = {"=": "=", "<": "<", ">": ">", "<=": "≤", ">=": "≥", "!=": "≠"}[op]
    lhs, rhs = (changed, other) if side == "left" else (other, changed)
    return f"{fmt_value(lhs, _LANG[0])} {sym} {fmt_value(rhs, _LANG[0])}"


# --- the comparison ---------------------------------------------------------------------------------------
def _point_text(point: dict[sp.Symbol, sp.Expr]) -> str:
    return ", ".join(f"{s} = {fmt_value(v, _LANG[0])}" for s, v in point.items())


def _set_latex(s: sp.Set, gens: list[sp.Symbol]) -> str:
    if len(gens) == 1:
        return set_to_latex(gens[0], s)
    if isinstance(s, sp.FiniteSet) and len(s) == 1:
        (tup,) = tuple(s)
        return ", ".join(f"{sp.latex(g)} = {sp.latex(v)}" for g, v in zip(gens, tup, strict=True))
    return sp.latex(s)


def _compare_expressions(a: _Line, b: _Line, lang: str, clock: _Clock) -> dict[str, Any]:
    assert a.expr is not None and b.expr is not None
    ea, eb = a.expr, b.expr
    d = clock.run(lambda: sp.expand(ea - eb))
    if d == 0 or clock.run(lambda: sp.simplify(sp.cancel(ea - eb))) == 0:
        return {"verdict": "equivalent", "explanation": explain("same_expression", lang)}
    gens = sorted_symbols([ea, eb])
    tries = [dict(zip(gens, vals, strict=True)) for vals in itertools.product(_SAMPLES, repeat=len(gens))]
    for point in tries[:64]:
        clock.left()
        va, vb = _value(ea, point), _value(eb, point)
        if va is None or vb is None:
            continue
        if _sign(clock.run(lambda va=va, vb=vb: va - vb)) not in (0, None):
            expanded = clock.run(lambda: sp.expand(ea))
            return {
                "verdict": "not_equivalent",
                "explanation": explain(
                    "different_expression",
                    lang,
                    old=a.written or ea,
                    new=b.written or eb,
                    point=_point_text(point) if point else "",
                    va=va,
                    vb=vb,
                    expanded=expanded if expanded not in (ea, eb) else None,
                ),
            }
    raise Undecided("expressions")


def _try_set(line: _Line, gens: list[sp.Symbol], clock: _Clock) -> sp.Set | None:
    """The line's solution set, or None where SymPy cannot write it down (a witness may still be found)."""
    try:
        return _solution_set(line, gens, clock)
    except Undecided as exc:
        if str(exc) == "time":
            raise
        return None


def _decimals(v: sp.Expr) -> int | None:
    """The decimals of a terminating decimal that is no integer (1.41 -> 2), else None."""
    if not isinstance(v, sp.Rational) or v.is_Integer:
        return None
    q = int(v.q)
    for d in range(1, 16):
        if (10**d) % q == 0:
            return d
    return None


def _rounded_values(
    a: _Line, b: _Line, sa: sp.Set | None, gens: list[sp.Symbol], clock: _Clock
) -> list[str] | None:
    """This line gives decimals (`x = 1.41 or x = -1.41`) and each is a solution of the equation before,
    rounded: a root lies within half a unit of its last decimal (a sign change of lhs - rhs there), and none is
    missing where the solutions before are known. The values as text, else None."""
    if len(gens) != 1 or len(a.options) != 1 or len(a.options[0]) != 1 or a.options[0][0][0] != "=":
        return None
    x = gens[0]
    _, lhs, rhs = a.options[0][0]
    f = lhs - rhs
    values = []
    for conj in b.options:
        if len(conj) != 1 or conj[0][0] != "=":
            return None
        _, u, w = conj[0]
        value = w if u == x else u if w == x else None
        if value is None or _decimals(value) is None:
            return None
        values.append(value)
    if isinstance(sa, sp.FiniteSet) and len(sa) != len(values):
        return None
    for v in values:
        half = sp.Rational(1, 2 * 10 ** _decimals(v))
        ends = [_value(f, {x: v - half}), _value(f, {x: v}), _value(f, {x: v + half})]
        if any(e is None for e in ends):
            return None
        signs = [_sign(clock.run(lambda e=e: e)) for e in ends]
        if None in signs or not (0 in signs or signs[0] != signs[2]):
            return None
    return [f"{x} = {fmt_value(v, _LANG[0], decimals=True)}" for v in values]


def _compare_relations(a: _Line, b: _Line, lang: str, clock: _Clock) -> dict[str, Any]:
    gens = sorted_symbols(list(a.symbols() | b.symbols()))
    sa, sb = _try_set(a, gens, clock), _try_set(b, gens, clock)
    if sa is not None and sb is not None and _same(sa, sb, clock):
        return {"verdict": "equivalent", "explanation": explain("same_solutions", lang)}
    points = _points([s for s in (sa, sb) if s is not None], gens)
    if len(gens) == 1:
        points += [{gens[0]: v} for v in _SPECIAL]
    found = _witness(a, b, points, clock)
    if found is None:
        raise Undecided("no witness")
    point, before_holds = found
    rounded = _rounded_values(a, b, sa, gens, clock)
    if rounded:
        joiner = " of " if lang == "nl" else " or "
        return {"verdict": "unknown", "explanation": explain("rounded", lang, values=joiner.join(rounded))}
    hint = _step_hint(a, b, gens, lang, clock)
    sets = {
        "before": _set_latex(sa, gens) if sa is not None else None,
        "after": _set_latex(sb, gens) if sb is not None else None,
    }
    if hint:
        text = hint
    elif len(gens) == 1 and isinstance(sa, sp.FiniteSet) and isinstance(sb, sp.FiniteSet):
        lost = [v for v in sa if not any(clock.run(lambda v=v, w=w: sp.simplify(v - w) == 0) for w in sb)]
        gained = [v for v in sb if not any(clock.run(lambda v=v, w=w: sp.simplify(v - w) == 0) for w in sa)]
        x = gens[0]
        text = explain(
            "lost_and_gained",
            lang,
            lost=[f"{x} = {fmt_value(v, lang, a.decimals)}" for v in lost],
            gained=[f"{x} = {fmt_value(v, lang, b.decimals)}" for v in gained],
        )
    else:
        text = explain("witness_before" if before_holds else "witness_after", lang, point=_point_text(point))
    return {
        "verdict": "not_equivalent",
        "explanation": text,
        "solutions_before": sets["before"],
        "solutions_after": sets["after"],
    }


def compare(before: CheckLine, after: CheckLine, lang: str, seconds: float) -> dict[str, Any]:
    """{"verdict": "equivalent" | "not_equivalent" | "unknown", "explanation": ...} for one step."""
    clock = _Clock(seconds)
    _LANG[0] = lang if lang in ("en", "nl") else "en"
    if before.kind == "error" or after.kind == "error":
        return {"verdict": "unknown", "explanation": explain("unreadable", lang)}
    conv = Converter(imag_unit=False)
    try:
        a, b = _Line(before, conv), _Line(after, conv)
        if a.kind == "expression" and b.kind == "expression":
            return _compare_expressions(a, b, lang, clock)
        if a.kind == "relations" and b.kind == "relations":
            return _compare_relations(a, b, lang, clock)
        return {"verdict": "unknown", "explanation": explain("different_kinds", lang)}
    except Undecided as exc:
        code = "out_of_time" if str(exc) == "time" else "undecided"
        return {"verdict": "unknown", "explanation": explain(code, lang)}
    except (NotImplementedError, ValueError, TypeError, ZeroDivisionError, AttributeError, IndexError):
        return {"verdict": "unknown", "explanation": explain("undecided", lang)}
