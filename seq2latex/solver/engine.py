"""SymPy side of the solver: parsed trees to SymPy, then solve/evaluate. Runs inside a worker process."""

from __future__ import annotations

import itertools
import math

import sympy as sp

from seq2latex.solver.answer_form import FRACTIONS, AnswerForm, is_surd, latex_of, wrote_decimals
from seq2latex.solver.config import MAX_BRANCHES
from seq2latex.solver.convert import INEQ, Converter, OutOfTime, pref_key, sorted_symbols, within
from seq2latex.solver.lexer import SolverInputError
from seq2latex.solver.messages import message
from seq2latex.solver.parser import Node
from seq2latex.solver.result import empty_result

_NUMERIC_GRID = sorted({round(-10 + i * 0.05, 4) for i in range(401)} | {float(i) for i in range(-100, 101)})
_TOL = 1e-9
TIDY_S = 0.2  # per solution value, for simplify to find a shorter form
SOLVE_FALLBACK_S = 0.8  # share of the time limit for sympy.solve before the numerical root search
MAX_FORMULA_CHARS = 120  # a solution formula longer than this (as LaTeX) is no answer a student can use
MAX_EXPAND_DEGREE = 60  # above this, polynomial equations go to solveset (inversion) instead of expansion


# --- formatting -------------------------------------------------------------------------------
def _approx(v: sp.Expr) -> str:
    try:
        c = complex(sp.N(v, 17))
    except (TypeError, ValueError):
        return str(sp.N(v, 15))
    if abs(c.imag) <= 1e-12 * max(1.0, abs(c.real)):
        return repr(float(c.real))
    return str(sp.N(v, 15))


def _is_real_number(v: sp.Expr) -> bool:
    try:
        c = complex(sp.N(v, 30))
    except (TypeError, ValueError):
        return False
    return math.isfinite(c.real) and abs(c.imag) <= 1e-12 * max(1.0, abs(c.real))


def _value_latex(v: sp.Expr, form: AnswerForm = FRACTIONS) -> str:
    if v.has(sp.CRootOf) or isinstance(v, sp.Float) or len(sp.latex(v)) > MAX_FORMULA_CHARS:
        return f"\\approx {_short(v)}"
    return latex_of(v, form)


def _short(v: sp.Expr) -> str:
    try:
        return f"{float(sp.re(sp.N(v))):.6g}"
    except (TypeError, ValueError):
        return sp.latex(sp.N(v, 6))


def _eq_latex(var: sp.Symbol, v: sp.Expr, form: AnswerForm = FRACTIONS) -> str:
    text = _value_latex(v, form)
    return f"{sp.latex(var)} {text}" if text.startswith("\\approx") else f"{sp.latex(var)} = {text}"


def _no_closed_form(v: sp.Expr) -> bool:
    """A value that SymPy can only write as a root object: the JSON gets its decimal value instead."""
    return bool(v.has(sp.CRootOf, sp.RootSum))


def value_text(v: sp.Expr, form: AnswerForm = FRACTIONS) -> str:
    """A value for the JSON: LaTeX in the user's symbols (a rational as a decimal where the pupil wrote
    decimals), or a plain number where no closed form exists."""
    if _no_closed_form(v) or isinstance(v, sp.Float):
        return _approx(v)
    return latex_of(v, form, ln_notation=True)  # \\ln: a bare \\log reads as base 10 at school


def _approx_entries(x: sp.Symbol, values: list[sp.Expr]) -> list[dict[str, str]]:
    """Decimal values (plain number strings) of the numerical solutions; none for formulas in parameters."""
    return [{str(x): _approx(v)} for v in values if not v.free_symbols and _is_real_number(v)]


def _usable(v: sp.Expr) -> bool:
    """A formula a student can use: exact, real-looking (no i of Cardano's casus) and not huge."""
    return not (
        _no_closed_form(v) or v.has(sp.I) or v.atoms(sp.Float) or len(sp.latex(v)) > MAX_FORMULA_CHARS
    )


def set_to_latex(x: sp.Symbol, s: sp.Set, form: AnswerForm = FRACTIONS) -> str:
    """`x < -1 \\vee x > 1` style LaTeX of a real set."""
    xl = sp.latex(x)
    if s is sp.S.EmptySet:
        return "\\emptyset"
    if s == sp.S.Reals:
        return f"{xl} \\in \\mathbb{{R}}"
    if isinstance(s, sp.FiniteSet):
        return " \\vee ".join(_eq_latex(x, v, form) for v in _sort_values(list(s)))
    if isinstance(s, sp.Interval):
        lo_op = "<" if s.left_open else "\\leq"
        hi_op = "<" if s.right_open else "\\leq"
        if s.start == -sp.oo and s.end == sp.oo:
            return f"{xl} \\in \\mathbb{{R}}"
        if s.start == -sp.oo:
            return f"{xl} {hi_op} {latex_of(s.end, form)}"
        if s.end == sp.oo:
            lo_rel = ">" if s.left_open else "\\geq"
            return f"{xl} {lo_rel} {latex_of(s.start, form)}"
        return f"{latex_of(s.start, form)} {lo_op} {xl} {hi_op} {latex_of(s.end, form)}"
    if isinstance(s, sp.Union):
        parts = list(s.args)
        # Reals minus points: x != a
        ivals = [p for p in parts if isinstance(p, sp.Interval)]
        if len(ivals) == len(parts) and ivals[0].start == -sp.oo and ivals[-1].end == sp.oo:
            gaps = [
                a.end
                for a, b in zip(ivals, ivals[1:], strict=False)
                if a.end == b.start and a.right_open and b.left_open
            ]
            if len(gaps) == len(ivals) - 1:
                return " \\wedge ".join(f"{xl} \\neq {latex_of(g, form)}" for g in gaps)
        return " \\vee ".join(set_to_latex(x, p, form) for p in parts)
    if isinstance(s, sp.Complement) and isinstance(s.args[1], sp.FiniteSet):
        base = set_to_latex(x, s.args[0], form)
        excl = " \\wedge ".join(f"{xl} \\neq {latex_of(v, form)}" for v in s.args[1])
        return excl if s.args[0] == sp.S.Reals else f"{base} \\wedge {excl}"
    return f"{xl} \\in {latex_of(s, form)}"


def _tidy(v: sp.Expr) -> sp.Expr:
    """A shorter equivalent form of a solution value, if simplify finds one quickly."""
    if v.is_Rational or v.is_Float or not v.has(sp.log, sp.sqrt, sp.Pow):
        return v
    den = sp.fraction(v)[1]
    if not den.is_Rational and is_surd(den) and is_surd(sp.fraction(v)[0]):
        return sp.radsimp(v)  # 3 / (1 + √2) -> 3√2 - 3: no root left in the denominator, as at school
    try:
        w = within(TIDY_S, lambda: sp.simplify(v))
    except OutOfTime:
        return v
    return w if sp.count_ops(w) < sp.count_ops(v) else v


def _value_key(v: sp.Expr) -> tuple[float, str]:
    try:
        return (float(sp.re(sp.N(v))), str(v))
    except (TypeError, ValueError):
        return (math.inf, str(v))


def _sort_values(values: list[sp.Expr]) -> list[sp.Expr]:
    return sorted(values, key=_value_key)


# --- equations ------------------------------------------------------------------------------
def _doit(e: sp.Expr) -> sp.Expr:
    if e.has(sp.Integral, sp.Derivative, sp.Limit, sp.Sum, sp.Product):
        return e.doit()
    return e


def _valid_at(sides: list[sp.Expr], x: sp.Symbol, c: sp.Expr, dens: list[sp.Expr]) -> bool:
    """c lies in the domain of every side and of every denominator."""
    for d in dens:
        if d.has(x):
            try:
                if abs(complex(sp.N(d.subs(x, c), 30))) < _TOL:
                    return False
            except (TypeError, ValueError):
                return False
    return all(_is_real_number(s.subs(x, c)) for s in sides if s.has(x))


def _zero_factors(e: sp.Expr) -> list[sp.Expr]:
    """Factors whose zeros are the zeros of e, without expanding: a*b -> a, b; a**n -> a."""
    if isinstance(e, sp.Mul):
        return [f for a in e.args for f in _zero_factors(a)]
    if isinstance(e, sp.Pow) and e.exp.is_Integer and e.exp > 0:
        return _zero_factors(e.base)
    return [e]


def _max_exponent(e: sp.Expr) -> int:
    exps = [int(abs(p.exp)) for p in e.atoms(sp.Pow) if p.exp.is_Integer]
    return max(exps, default=1)


def _poly_real_roots(e: sp.Expr, x: sp.Symbol) -> sp.Set | None:
    """Exact real roots when the equation is rational in x (CRootOf for irreducible cubics and up);
    None when another method should be used."""
    num, den = sp.fraction(sp.together(e))
    factors = [f for f in _zero_factors(num) if f.has(x)]
    if not factors or any(_max_exponent(f) > MAX_EXPAND_DEGREE for f in [*factors, den]):
        return None  # constant, or a high power that solveset inverts without expanding
    try:
        polys = [sp.Poly(f, x) for f in factors]
        pd = sp.Poly(den, x)
    except sp.PolynomialError:
        return None
    if not all(p.domain.is_ZZ or p.domain.is_QQ for p in [*polys, pd]):
        return None  # irrational or complex coefficients: solveset copes better
    roots: list[sp.Expr] = []
    for factor, _ in [fl for p in polys for fl in sp.factor_list(p.as_expr(), x)[1]]:
        pf = sp.Poly(factor, x)
        if pf.degree() <= 0:
            continue
        if pf.degree() <= 2 or len(pf.terms()) == 2:
            sol = sp.solveset(factor, x, sp.S.Reals)
            if isinstance(sol, sp.FiniteSet) and not any(v.has(sp.I) for v in sol):
                roots.extend(sol)
                continue
        roots.extend(sp.real_roots(pf))
    bad = set(sp.real_roots(pd)) if pd.degree() > 0 else set()
    return sp.FiniteSet(*[r for r in roots if r not in bad])


def _numeric_roots(e: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    """Real roots found on a grid by sign changes, refined by bisection (approximate)."""
    import mpmath

    f = sp.lambdify(x, e, modules="mpmath")

    def real(t: float) -> float | None:
        try:
            v = complex(f(mpmath.mpf(t)))
        except (ValueError, ZeroDivisionError, TypeError, OverflowError):
            return None
        return v.real if abs(v.imag) < 1e-12 and math.isfinite(v.real) else None

    roots: list[float] = []
    prev_t, prev_v = None, None
    for t in _NUMERIC_GRID:
        v = real(t)
        if v is not None and v == 0:
            roots.append(t)
        elif v is not None and prev_v is not None and prev_t is not None and (v > 0) != (prev_v > 0):
            try:
                r = float(mpmath.findroot(lambda s: f(s), (prev_t, t), solver="anderson"))
            except (ValueError, ZeroDivisionError, TypeError):
                r = None
            if r is not None and prev_t <= r <= t:
                rv = real(r)
                if rv is not None and abs(rv) < 1e-7:
                    roots.append(r)
        prev_t, prev_v = t, v
    unique: list[float] = []
    for r in sorted(roots):
        if not unique or abs(r - unique[-1]) > 1e-7:
            unique.append(r)
    return [_exact_if_rational(e, x, r) for r in unique]


def _exact_if_rational(e: sp.Expr, x: sp.Symbol, r: float) -> sp.Expr:
    """A numerical root that is exactly a small rational (2.0000000001 -> 2) becomes exact."""
    q = sp.nsimplify(r, rational=True, tolerance=1e-9)
    if q.is_Rational and q.q <= 1000 and e.subs(x, q) == 0:
        return q
    return sp.Float(r, 15)


def _real_solve(e: sp.Expr, x: sp.Symbol, sides: list[sp.Expr], dens: list[sp.Expr]) -> tuple[sp.Set, bool]:
    """Real solution set of e = 0 and whether it was found numerically."""
    s = _poly_real_roots(e, x)
    if s is None:
        s = sp.solveset(e, x, sp.S.Reals)
        if isinstance(s, sp.Intersection) and any(isinstance(a, sp.FiniteSet) for a in s.args):
            fin = next(a for a in s.args if isinstance(a, sp.FiniteSet))
            s = sp.FiniteSet(
                *[sp.re(sp.nsimplify(v)) if v.has(sp.I) else v for v in fin if _is_real_number(v)]
            )
    if isinstance(s, sp.ConditionSet) or (s.has(sp.ConditionSet)):
        try:
            cands = within(SOLVE_FALLBACK_S, lambda: sp.solve(e, x))
        except (NotImplementedError, ValueError, TypeError, OutOfTime):
            cands = []
        cands = [c for c in cands if _is_real_number(c)]
        if cands:
            return sp.FiniteSet(*cands), False
        return sp.FiniteSet(*_numeric_roots(e, x)), True
    if isinstance(s, sp.FiniteSet):
        s = sp.FiniteSet(*[c for c in s if _is_real_number(c) and _valid_at(sides, x, c, dens)])
    elif dens:
        for d in dens:
            zeros = sp.solveset(d, x, sp.S.Reals)
            if isinstance(zeros, sp.FiniteSet) and zeros:
                s = sp.Complement(s, zeros)
    return s, False


def _solve_equation(
    statements: list[tuple[list[sp.Expr], list[sp.Expr]]],
    conv: Converter,
    lang: str,
    form: AnswerForm = FRACTIONS,
) -> dict:
    """statements: (branches of lhs - rhs, original sides)."""
    exprs = [_doit(e) for branches, _ in statements for e in branches]
    sides = [_doit(s) for _, ss in statements for s in ss]
    res = empty_result("equation")
    syms = sorted_symbols(sides + [d for d in conv.denominators])
    if not syms:  # `0x = 5`: the unknown cancelled while building the expression
        syms = sorted((s for n, s in conv.symbols.items() if n not in conv.bound), key=pref_key)
    res["variables"] = [str(s) for s in syms]
    if not syms:
        ok = all(_is_zero(e) for e in exprs)
        res["message"] = message("true" if ok else "false", lang)
        res["result_latex"] = (
            "\\text{"
            + ({"en": "true", "nl": "waar"} if ok else {"en": "false", "nl": "onwaar"}).get(
                lang, "true" if ok else "false"
            )
            + "}"
        )
        return res
    x = syms[0]
    if len(syms) > 1 and all(_is_identity(e, syms) for e in exprs):
        res["message"] = message("identity_all", lang)
        res["result_latex"] = "\\text{" + ("identiteit" if lang == "nl" else "identity") + "}"
        return res
    if len(syms) > 1:
        return _solve_for(res, exprs, x, syms[1:], lang)
    total: sp.Set = sp.S.EmptySet
    numeric = False
    for e in exprs:
        s, num = _real_solve(e, x, sides, conv.denominators)
        total = sp.Union(total, s)
        numeric = numeric or num
    res["solution_set"] = set_text(total, form)
    if isinstance(total, sp.FiniteSet) or total is sp.S.EmptySet:
        values = _sort_values([_tidy(v) for v in total])
        total = sp.FiniteSet(*values)  # the set and the LaTeX in the tidy form too
        res["solution_set"] = set_text(total, form)
        res["solutions"] = [{str(x): value_text(v, form)} for v in values]
        res["approx"] = _approx_entries(x, values)
        if not values:
            const = all(not sp.simplify(e).has(x) for e in exprs)
            res["message"] = message("contradiction" if const else "no_real_solution", lang)
            res["result_latex"] = "\\emptyset"
        else:
            res["message"] = message("real_solutions", lang, n=len(values))
            if numeric:
                res["message"] += message("numerically", lang)
            res["result_latex"] = set_to_latex(x, total, form)
        return res
    if total.has(sp.ImageSet):
        return _periodic(res, x, total, lang)
    res["result_latex"] = set_to_latex(x, total, form)
    if total == sp.S.Reals:
        res["message"] = message("identity", lang)
    elif isinstance(total, sp.Complement) and total.args[0] == sp.S.Reals:
        pts = ", ".join(f"{x} = {v}" for v in total.args[1])
        res["message"] = message("identity_except", lang, points=pts)
    else:
        res["message"] = message("infinite", lang)
    return res


def set_text(s: sp.Set, form: AnswerForm = FRACTIONS) -> str:
    """A solution set for the JSON, as LaTeX (`\\left(-2, 2\\right)`, `\\mathbb{R}`)."""
    if isinstance(s, sp.FiniteSet):
        return "\\left\\{" + ", ".join(value_text(v, form) for v in _sort_values(list(s))) + "\\right\\}"
    return latex_of(s, form, ln_notation=True)


def _solve_for(res: dict, exprs: list[sp.Expr], x: sp.Symbol, params: list[sp.Symbol], lang: str) -> dict:
    """x in terms of the other letters. "No solution" only when it is proved (the set is empty); a
    formula nobody can use (root objects, Cardano with i, floats, huge) is reported as such."""
    sols: list[sp.Expr] = []
    unsolved = False
    for e in exprs:
        try:
            found = within(SOLVE_FALLBACK_S, lambda e=e: sp.solve(e, x))
        except (NotImplementedError, ValueError, TypeError, OutOfTime):
            found, unsolved = [], True
        if not found and not unsolved:
            unsolved = not _proved_empty(e, x)
        for v in found:
            if v not in sols and (v.free_symbols or _is_real_number(v)):
                sols.append(v)
    names = ", ".join(str(p) for p in params)
    if unsolved or not all(_usable(v) for v in sols):
        res["message"] = message("no_closed_form", lang, var=str(x), params=names)
        return res
    res["solutions"] = [{str(x): value_text(v)} for v in sols]
    res["approx"] = _approx_entries(x, sols)
    res["result_latex"] = " \\vee ".join(_eq_latex(x, v) for v in sols) or "\\emptyset"
    res["message"] = message("solved_for" if sols else "solved_for_none", lang, var=str(x))
    return res


def _proved_empty(e: sp.Expr, x: sp.Symbol) -> bool:
    """e = 0 has no real solution x for any value of the parameters: e no longer depends on x and is a
    nonzero constant, or solveset proves the set empty."""
    if not sp.expand(e).has(x):
        return bool(sp.expand(e).is_nonzero)
    try:
        s = within(SOLVE_FALLBACK_S, lambda: sp.solveset(e, x, sp.S.Reals))
    except (NotImplementedError, ValueError, TypeError, OutOfTime):
        return False
    return s is sp.S.EmptySet


_PROBES = ((0.3, 0.71, 0.53, 0.37), (0.61, 0.27, 0.83, 0.19), (0.45, 0.58, 0.12, 0.77))


def _is_identity(e: sp.Expr, syms: list[sp.Symbol]) -> bool:
    """e == 0 for all values of several unknowns, judged at three probe points (20 digits)."""
    for probe in _PROBES:
        point = {s: sp.Float(probe[i % len(probe)] + 0.01 * (i // len(probe))) for i, s in enumerate(syms)}
        try:
            v = complex(sp.N(e.subs(point), 20))
        except (TypeError, ValueError):
            return False
        if not (math.isfinite(v.real) and math.isfinite(v.imag)) or abs(v) > 1e-12:
            return False
    return True


def _periodic(res: dict, x: sp.Symbol, total: sp.Set, lang: str) -> dict:
    k = sp.Symbol("k", integer=True)
    parts = total.args if isinstance(total, sp.Union) else (total,)
    values: list[sp.Expr] = []
    for p in parts:
        if isinstance(p, sp.ImageSet) and p.base_sets == (sp.S.Integers,):
            lam = p.lamda
            values.append(lam.expr.subs(lam.variables[0], k))
        elif isinstance(p, sp.FiniteSet):
            values.extend(p)
        else:
            res["message"] = message("infinite", lang)
            res["result_latex"] = f"{sp.latex(x)} \\in {sp.latex(total)}"
            return res
    values.sort(key=lambda v: _value_key(v.subs(k, 0)))
    res["solutions"] = [{str(x): value_text(v)} for v in values]
    res["approx"] = _approx_entries(x, values)
    res["result_latex"] = " \\vee ".join(f"{sp.latex(x)} = {sp.latex(v)}" for v in values)
    res["message"] = message("periodic", lang)
    return res


def _is_zero(e: sp.Expr) -> bool:
    e = _doit(e)
    try:
        if sp.simplify(e) == 0:
            return True
        return abs(complex(sp.N(e, 30))) < 1e-20
    except (TypeError, ValueError):
        return False


# --- inequalities ---------------------------------------------------------------------------
def _solve_inequality(
    rels: list[list[sp.Basic]], sides: list[sp.Expr], lang: str, form: AnswerForm = FRACTIONS
) -> dict:
    """rels: one list of branch relations per relation of the input (intersected)."""
    res = empty_result("inequality")
    flat = [r for group in rels for r in group]
    syms = sorted_symbols(sides)
    res["variables"] = [str(s) for s in syms]
    if not syms:
        ok = all(bool(r) if isinstance(r, sp.logic.boolalg.BooleanAtom) else bool(_truth(r)) for r in flat)
        res["message"] = message("true" if ok else "false", lang)
        res["result_latex"] = (
            "\\text{" + (("true" if ok else "false") if lang != "nl" else ("waar" if ok else "onwaar")) + "}"
        )
        return res
    x = syms[0]  # with more unknowns the others are parameters (`x > a`)
    total: sp.Set = sp.S.Reals
    for group in rels:
        part: sp.Set = sp.S.EmptySet
        for r in group:
            if isinstance(r, sp.logic.boolalg.BooleanAtom):
                part = sp.Union(part, sp.S.Reals if bool(r) else sp.S.EmptySet)
            else:
                part = sp.Union(part, sp.solveset(r, x, sp.S.Reals))
        total = sp.Intersection(total, part)
    if total.has(sp.ConditionSet) or (len(syms) > 1 and not isinstance(total, (sp.Interval, sp.Union))):
        raise SolverInputError("ineq_vars" if len(syms) > 1 else "cannot_solve", "inequality")
    res["solution_set"] = set_text(total, form)
    res["result_latex"] = set_to_latex(x, total, form)
    key = "ineq_none" if total is sp.S.EmptySet else "ineq_all" if total == sp.S.Reals else "ineq_set"
    res["message"] = message(key, lang)
    if key == "ineq_set" and any(r.has(sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc) for r in flat):
        res["message"] += message("one_period", lang)
    return res


def _truth(r: sp.Basic) -> bool:
    lhs, rhs = (complex(sp.N(_doit(s), 30)) for s in (r.lhs, r.rhs))
    return bool(type(r)(sp.Float(lhs.real, 30), sp.Float(rhs.real, 30)))


# --- systems --------------------------------------------------------------------------------
def _solve_system(branch_sets: list[list[sp.Expr]], lang: str, form: AnswerForm = FRACTIONS) -> dict:
    res = empty_result("system")
    all_exprs = [_doit(e) for eqs in branch_sets for e in eqs]
    syms = sorted_symbols(all_exprs)
    res["variables"] = [str(s) for s in syms]
    sols: list[dict[sp.Symbol, sp.Expr]] = []
    for eqs in branch_sets:
        eqs = [_doit(e) for e in eqs]
        if len(syms) == 1:  # equations in one unknown: common solutions
            common: sp.Set = sp.S.Reals
            for e in eqs:
                common = sp.Intersection(common, _real_solve(e, syms[0], [e], [])[0])
            if not isinstance(common, sp.FiniteSet) and common is not sp.S.EmptySet:
                raise SolverInputError("cannot_solve", str(common)[:80])
            found = [{syms[0]: v} for v in _sort_values(list(common))]
        else:
            found = sp.solve(eqs, syms, dict=True) if syms else []
        for sol in found:
            if all(v.free_symbols or _is_real_number(v) for v in sol.values()) and sol not in sols:
                sols.append(sol)
    if not syms:
        ok = all(_is_zero(e) for e in all_exprs)
        res["kind"] = "equation"
        res["message"] = message("true" if ok else "false", lang)
        return res
    infinite = any(len(sol) < len(syms) or any(v.free_symbols for v in sol.values()) for sol in sols)
    res["solutions"] = [{str(k): value_text(v, form) for k, v in sol.items()} for sol in sols]
    res["approx"] = [
        {str(k): _approx(v) for k, v in sol.items()}
        for sol in sols
        if all(not v.free_symbols and _is_real_number(v) for v in sol.values())
    ]
    parts = [
        " \\wedge ".join(
            _eq_latex(k, v, form) for k, v in sorted(sol.items(), key=lambda kv: pref_key(kv[0]))
        )
        for sol in sols
    ]
    res["result_latex"] = " \\vee ".join(f"({p})" if len(parts) > 1 else p for p in parts) or "\\emptyset"
    if not sols:
        res["message"] = message("system_none", lang)
    elif infinite:
        res["message"] = message("system_infinite", lang)
    elif len(sols) == 1:
        res["message"] = message("system_one", lang)
    else:
        res["message"] = message("system_many", lang, n=len(sols))
    return res


# --- expressions ----------------------------------------------------------------------------
_OP_MESSAGES = {"diff": "derivative", "int": "integral", "lim": "limit", "sum": "sum", "prod": "product"}
_FUNCTION_NAMES = {"f", "g", "h"}
_CONSTANT_LETTERS = {"e", "i"}  # e(x), i(x): Euler's number or the imaginary unit times a bracket


def _top_op(node: Node) -> str:
    while node.op == "group":
        node = node.args[0]
    return node.op


def _evaluate(node: Node, values: list[sp.Expr], lang: str, form: AnswerForm = FRACTIONS) -> dict:
    res = empty_result("expression")
    top = _top_op(node)
    results: list[sp.Expr] = []
    key = "value"
    for raw in values:
        syms_in = sorted(raw.free_symbols, key=pref_key)
        res["variables"] = [str(s) for s in syms_in]
        try:
            v = _doit(raw)
        except ValueError:  # two-sided limits that differ
            v = sp.nan
        if isinstance(v, sp.AccumBounds) or (top == "lim" and (v.has(sp.Limit) or v.has(sp.nan, sp.zoo))):
            res["message"] = message("no_limit", lang)
            return res
        if v.has(sp.nan, sp.zoo):
            res["message"] = message("undefined", lang)
            res["value"] = None
            res["result_latex"] = "\\text{undefined}"
            return res
        if v.free_symbols:
            v, key = _simplify_symbolic(v, top)
        else:
            if not v.is_Number:
                v = sp.nsimplify(v) if v.is_Float else sp.simplify(v)
            key = _OP_MESSAGES.get(top, "value")
        results.append(v)
    if top in _OP_MESSAGES and key in ("value", "simplified", "factored", "expanded"):
        key = _OP_MESSAGES[top]
    if top == "int" and len(node.args) == 2 and any(r.free_symbols for r in results):
        key = "antiderivative"
    res["message"] = message(key, lang)
    v = results[0] if len(results) == 1 else sp.FiniteSet(*results)
    res["value"] = value_text(v, form) if isinstance(v, sp.Expr) else set_text(v, form)
    approx = [_approx(r) for r in results if not r.free_symbols and _is_real_number(r)]
    if approx:
        res["approx"] = [{"value": a} for a in approx]
    latex = latex_of(v, form)
    if key == "antiderivative":
        latex += " + C"
    if not v.free_symbols and not v.is_Rational and isinstance(v, sp.Expr) and _is_real_number(v):
        latex += f" \\approx {_short(v)}"
    res["result_latex"] = latex
    return res


def _simplify_symbolic(v: sp.Expr, top: str) -> tuple[sp.Expr, str]:
    syms = list(v.free_symbols)
    if v.is_polynomial(*syms):
        expanded, factored = sp.expand(v), sp.factor(v)
        if top in _OP_MESSAGES:  # derivatives, integrals, sums: the usual expanded form
            return expanded, "simplified"
        if top in ("mul", "pow", "group", "neg") and expanded != v:
            return expanded, "expanded"
        if factored != expanded and not isinstance(factored, sp.Add):
            return factored, "factored"
        return expanded, "simplified"
    if v.is_rational_function(*syms):
        return sp.factor(sp.cancel(v)), "simplified"
    return sp.simplify(v), "simplified"


# --- entry ----------------------------------------------------------------------------------
def _classify(nodes: list[Node]) -> str:
    ops: list[str] = []
    for n in nodes:
        if n.op == "chain" and n.text != "trailing=":
            ops.extend(n.text.split())
    if not ops:
        if len(nodes) > 1:
            raise SolverInputError("parse", "a list of expressions is not supported")
        return "expression"
    if any(n.op != "chain" or n.text == "trailing=" for n in nodes):
        raise SolverInputError(
            "decimal_comma",
            "a comma separates equations (for a decimal comma use lang 'nl', or write a point)",
        )
    eq = [o == "=" for o in ops]
    if all(eq):
        equations = sum(len(n.args) - 1 for n in nodes)
        return "equation" if equations == 1 else "system"
    if any(eq):
        raise SolverInputError("mixed")
    return "inequality"


def _function_definition(node: Node, alone: bool = True) -> Node:
    """`f(x) = x^2 - 4`, `x(t) = 3t + 1`: a letter followed by `(t)` on the left of `=`, where the right
    side uses t and not the letter itself, defines a function: treat it as the expression on the right.
    Any single letter when the statement stands alone (`x(t)`, `s(t)`, `h(t)`), f, g, h also in a list.
    Not a definition (a product, as before): `x(x + 1) = 0`, `3(x - 2) = 9`, `a(b + c) = 4`, `k(x) = 0`."""
    if node.op != "chain" or node.text != "=" or len(node.args) != 2:
        return node
    lhs = node.args[0]
    if lhs.op != "mul" or lhs.args[0].op != "sym" or lhs.args[1].op != "group":
        return node
    name, inner = lhs.args[0].text, lhs.args[1].args[0]
    letter = len(name) == 1 and name.isalpha() and name not in _CONSTANT_LETTERS
    if (
        (name in _FUNCTION_NAMES or (alone and letter))
        and inner.op == "sym"
        and inner.text != name
        and _mentions(node.args[1], inner.text)
        and not _mentions(node.args[1], name)
    ):
        return node.args[1]
    return node


def _mentions(node: Node, name: str) -> bool:
    return (node.op == "sym" and node.text == name) or any(_mentions(a, name) for a in node.args)


def _solve_mixed(nodes: list[Node], lang: str, form: AnswerForm = FRACTIONS) -> dict:
    """Equations and inequalities in one unknown (`x^2 = 4, x > 0`): intersect their solution sets."""
    conv = Converter(imag_unit=False)
    rels: list[sp.Basic] = []
    sides: list[sp.Expr] = []
    for n in nodes:
        parts = [conv.one(a) for a in n.args]
        sides.extend(parts)
        for op, a, b in zip(n.text.split(), parts, parts[1:], strict=False):
            rels.append(sp.Eq(_doit(a), _doit(b)) if op == "=" else INEQ[op](_doit(a), _doit(b)))
    syms = sorted_symbols(sides)
    if len(syms) != 1:
        raise SolverInputError("mixed")
    x = syms[0]
    total: sp.Set = sp.S.Reals
    for r in rels:
        if isinstance(r, sp.logic.boolalg.BooleanAtom):
            total = total if bool(r) else sp.S.EmptySet
        elif isinstance(r, sp.Eq):
            s, _ = _real_solve(r.lhs - r.rhs, x, [r.lhs, r.rhs], conv.denominators)
            total = sp.Intersection(total, s)
        else:
            total = sp.Intersection(total, sp.solveset(r, x, sp.S.Reals))
    if not isinstance(total, sp.FiniteSet) and total is not sp.S.EmptySet:
        raise SolverInputError("mixed")
    res = empty_result("equation")
    res["variables"] = [str(x)]
    values = _sort_values(list(total))
    res["solution_set"] = set_text(total, form)
    res["solutions"] = [{str(x): value_text(v, form)} for v in values]
    res["approx"] = _approx_entries(x, values)
    res["result_latex"] = set_to_latex(x, total, form)
    res["message"] = (
        message("real_solutions", lang, n=len(values)) if values else message("no_real_solution", lang)
    )
    return res


def run(nodes: list[Node], lang: str) -> dict:
    """Solve or evaluate parsed statements; raises SolverInputError for unsupported input."""
    nodes = [_function_definition(n, alone=len(nodes) == 1) for n in nodes]
    form = AnswerForm(decimal=wrote_decimals(nodes), lang=lang)  # decimals in, decimals out
    try:
        kind = _classify(nodes)
    except SolverInputError as exc:
        if exc.code != "mixed":
            raise
        return _solve_mixed(nodes, lang, form)
    conv = Converter(imag_unit=(kind == "expression"))
    if kind == "expression":
        node = nodes[0].args[0] if nodes[0].op == "chain" else nodes[0]
        return _evaluate(node, conv.conv(node), lang, form)
    if kind == "inequality":
        rels: list[list[sp.Basic]] = []
        all_sides: list[sp.Expr] = []
        for n in nodes:
            sides = [[_doit(v) for v in conv.conv(a)] for a in n.args]
            all_sides.extend(v for side in sides for v in side)
            for op, a, b in zip(n.text.split(), sides, sides[1:], strict=False):
                rels.append([INEQ[op](p, q) for p in a for q in b])
        return _solve_inequality(rels, all_sides + conv.denominators, lang, form)
    pairs: list[tuple[list[sp.Expr], list[sp.Expr]]] = []
    for n in nodes:
        sides = [conv.conv(a) for a in n.args]
        for a, b in zip(sides, sides[1:], strict=False):
            pairs.append(([p - q for p in a for q in b], a + b))
    if kind == "equation":
        return _solve_equation(pairs, conv, lang, form)
    combos = list(itertools.product(*[branches for branches, _ in pairs]))
    if len(combos) > MAX_BRANCHES:
        raise SolverInputError("unsupported", "too many \\pm")
    return _solve_system([list(c) for c in combos], lang, form)
