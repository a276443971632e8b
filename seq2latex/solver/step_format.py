"""The step solutions' numbers, terms and input trees written as LaTeX and as plain text (en/nl): what
`seq2latex.solver.steps` writes its steps with."""

from __future__ import annotations

import sympy as sp

from seq2latex.solver.answer_form import decimal_digits
from seq2latex.solver.parser import Node

REL_LATEX = {"=": "=", "<": "<", ">": ">", "<=": "\\leq", ">=": "\\geq"}
REL_TEXT = {"<": "<", ">": ">", "<=": "≤", ">=": "≥"}

# (coefficient, exponents of the unknowns), unsimplified; a coefficient is rational, or a surd (a sum of
# rational multiples of square roots of whole numbers: `\\sqrt{2}x = 4`) in a linear equation in one unknown
Terms = list[tuple[sp.Expr, tuple[int, ...]]]


class NoSteps(Exception):
    """This input gets no steps; `key` names the reason in the step messages."""

    def __init__(self, key: str = "reason_unsupported") -> None:
        super().__init__(key)
        self.key = key


# --- numbers and terms as LaTeX / text ------------------------------------------------------------
class Fmt:
    def __init__(self, lang: str, decimal: bool) -> None:
        self.lang = lang
        self.decimal = decimal

    def _decimal(self, q: sp.Rational) -> str | None:
        return decimal_digits(q) if self.decimal else None

    def num(self, q: sp.Expr) -> str:
        """LaTeX of a rational: integer, decimal (`0{,}5` in Dutch) or `\\frac{p}{q}`; of a surd: SymPy's."""
        if not q.is_Rational:
            return surd_latex(q)
        q = sp.Rational(q)
        sign = "-" if q < 0 else ""
        if q.is_Integer:
            return str(int(q))
        dec = self._decimal(q)
        if dec is not None:
            return sign + (dec.replace(".", "{,}") if self.lang == "nl" else dec)
        return f"{sign}\\frac{{{abs(int(q.p))}}}{{{int(q.q)}}}"

    def text(self, q: sp.Expr) -> str:
        """Plain text of a rational for an explanation: −3, 1/2, 0,5 (nl); of a surd: 2√3, √2/2."""
        if not q.is_Rational:
            return self._surd_text(q)
        q = sp.Rational(q)
        sign = "−" if q < 0 else ""
        if q.is_Integer:
            return sign + str(abs(int(q)))
        dec = self._decimal(q)
        if dec is not None:
            return sign + (dec.replace(".", ",") if self.lang == "nl" else dec)
        return f"{sign}{abs(int(q.p))}/{int(q.q)}"

    def _surd_text(self, q: sp.Expr) -> str:
        out = ""
        for i, t in enumerate(surd_terms(q)):
            r, rest = t.as_coeff_Mul()
            roots = "".join(f"√{int(f.base)}" for f in sp.Mul.make_args(rest) if f.is_Pow)
            if r.is_Integer:
                body = ("" if abs(r) == 1 and roots else self.text(abs(r))) + roots
            else:
                body = ("" if abs(r.p) == 1 and roots else str(abs(r.p))) + roots + f"/{r.q}"
            sign = ("−" if i == 0 else " − ") if r < 0 else ("" if i == 0 else " + ")
            out += sign + body
        return out

    def paren(self, q: sp.Rational) -> str:
        s = self.num(q)
        return f"({s})" if q < 0 else s


def surd_terms(q: sp.Expr) -> list[sp.Expr]:
    """The terms of a surd, a positive one first (`\\sqrt{2} - 1` rather than `-1 + \\sqrt{2}`)."""
    return sorted(sp.Add.make_args(q), key=lambda t: bool(t.could_extract_minus_sign()))


def surd_latex(q: sp.Expr) -> str:
    """`2 \\sqrt{2}`, `\\frac{\\sqrt{2}}{2}`, `1 + \\sqrt{2}`, `\\sqrt{2} - 1`."""
    out = ""
    for i, t in enumerate(surd_terms(q)):
        if i == 0:
            out = sp.latex(t)
        else:
            out += f" - {sp.latex(-t)}" if t.could_extract_minus_sign() else f" + {sp.latex(t)}"
    return out


def mono(exps: tuple[int, ...], names: list[str], text: bool = False) -> str:
    parts = []
    for e, n in zip(exps, names, strict=True):
        if e == 1:
            parts.append(n)
        elif e > 1:
            parts.append(f"{n}²" if text and e == 2 else f"{n}^{e}" if text else f"{n}^{{{e}}}")
    return " ".join(parts) if not text else "".join(parts)


def side(terms: Terms, names: list[str], fmt: Fmt, text: bool = False) -> str:
    """`2x^{2} - 3x + \\frac{1}{2}`; the terms are printed as given (not combined); no terms: 0."""
    if not terms:
        return "0"
    out = ""
    for i, (c, exps) in enumerate(terms):
        letters = mono(exps, names, text)
        mag = abs(c)
        shown = fmt.text(mag) if text else fmt.num(mag)
        if isinstance(mag, sp.Add) and (letters or i > 0):
            shown = f"({shown})"  # (1 + √2)x
        body = letters if (mag == 1 and letters) else shown + letters
        if i == 0:
            out = ("−" if text else "-") + body if c < 0 else body
        else:
            out += (" − " if text else " - ") + body if c < 0 else " + " + body
    return out


def rel(lhs: str, op: str, rhs: str) -> str:
    return f"{lhs} {REL_LATEX[op]} {rhs}"


def cases(rows: list[str]) -> str:
    return "\\begin{cases} " + " \\\\ ".join(rows) + " \\end{cases}"


def combine(terms: Terms) -> Terms:
    """Like terms added, highest degree first, zeros dropped."""
    acc: dict[tuple[int, ...], sp.Rational] = {}
    for c, e in terms:
        acc[e] = acc.get(e, sp.Integer(0)) + c
    return [
        (c, e) for e, c in sorted(acc.items(), key=lambda kv: (-sum(kv[0]), [-x for x in kv[0]])) if c != 0
    ]


def scale(terms: Terms, k: sp.Rational) -> Terms:
    return [(c * k, e) for c, e in terms]


def neg(terms: Terms) -> Terms:
    return scale(terms, sp.Integer(-1))


def coef(terms: Terms, exps: tuple[int, ...]) -> sp.Rational:
    return sum((c for c, e in terms if e == exps), sp.Integer(0))


def value_latex(v: sp.Expr, fmt: Fmt) -> str:
    """`2 - \\sqrt{3}` (the rational part first), or the single fraction when that is shorter."""
    if v.is_Rational:
        return fmt.num(v)
    r, rest = v.as_coeff_Add()
    if r != 0:
        tail = f" - {sp.latex(-rest)}" if rest.could_extract_minus_sign() else f" + {sp.latex(rest)}"
        split = fmt.num(r) + tail
    else:
        split = sp.latex(v)
    together = sp.latex(sp.together(v))
    return together if len(together) < len(split) else split


# --- the input tree as LaTeX ----------------------------------------------------------------------
def node_latex(node: Node, fmt: Fmt) -> str:
    op, a = node.op, node.args
    if op == "num":
        text = node.text
        return text.replace(".", "{,}") if fmt.lang == "nl" else text
    if op == "sym":
        return sp.latex(sp.Symbol(node.text))
    if op == "const" and node.text == "pi":
        return "\\pi"
    if op == "group":
        return "(" + node_latex(a[0], fmt) + ")"
    if op == "neg":
        inner = node_latex(a[0], fmt)
        return "-" + (f"({inner})" if a[0].op in ("neg", "add") else inner)
    if op == "add":
        left = node_latex(a[0], fmt)
        if a[1].op == "neg":
            inner = a[1].args[0]
            right = node_latex(inner, fmt)
            return f"{left} - " + (f"({right})" if inner.op in ("neg", "add") else right)
        return f"{left} + {node_latex(a[1], fmt)}"
    if op == "mul":
        left, right = node_latex(a[0], fmt), node_latex(a[1], fmt)
        if a[0].op in ("add", "neg") and not left.startswith("-"):
            left = f"({left})"
        if a[1].op in ("add", "neg"):
            right = f"({right})"
        if right[:1].isdigit() or (a[0].op == "num" and right.startswith("\\frac")):
            return f"{left} \\cdot {right}"
        sep = " " if left[-1:].isalpha() and right[:1].isalpha() else ""
        return left + sep + right
    if op == "div":
        return f"\\frac{{{ungrouped_latex(a[0], fmt)}}}{{{ungrouped_latex(a[1], fmt)}}}"
    if op == "pow":
        base = node_latex(a[0], fmt)
        if a[0].op not in ("sym", "group") and not (a[0].op == "num" and "." not in a[0].text):
            base = f"({base})"
        return f"{base}^{{{ungrouped_latex(a[1], fmt)}}}"
    if op == "root" and len(a) == 1:
        return f"\\sqrt{{{ungrouped_latex(a[0], fmt)}}}"
    raise NoSteps()


def ungrouped_latex(node: Node, fmt: Fmt) -> str:
    while node.op == "group":
        node = node.args[0]
    return node_latex(node, fmt)


def has(node: Node, op: str, text: str | None = None) -> bool:
    if node.op == op and (text is None or text in node.text):
        return True
    return any(has(a, op, text) for a in node.args)


def top_terms(node: Node) -> list[Node]:
    while node.op == "group" and node.args[0].op != "add":
        node = node.args[0]
    if node.op == "add":
        return top_terms(node.args[0]) + [node.args[1]]
    return [node]
