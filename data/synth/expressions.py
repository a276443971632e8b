"""Expressions to write: school maths in the tokenizer's canonical form, and variations of CROHME captions.

`school_expression(rng)` draws one of the `FAMILIES` (linear and quadratic equations and inequalities,
fractions, powers, roots, brackets, systems, functions, decimals with a comma or a point, derivatives,
integrals, limits, ...), sometimes chained into solving steps (`2x+3=7 -> 2x=4 -> x=2`) so that lengths
run from a few tokens to 40+. `crohme_variation(rng, captions)` takes a CROHME training caption and swaps
its numbers, letters and operators, or grafts a sub-expression of another caption into one of its
arguments, so the CROHME style is kept. Both return normalised captions (`tokenizer.normalize`) whose
every token is in the vocabulary (no `<unk>`); anything else is drawn again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tokenizer import NormalizationError, normalize
from tokenizer.vocab import CROHME_TOKENS

VOCAB = frozenset(CROHME_TOKENS)
VARIABLES = "xxxxxxaabtynpk"  # x most of the time
FUNCTIONS = "ffffgh"
RELATIONS = ("<", ">", r"\leq", r"\geq")
MAX_DRAWS = 50


@dataclass
class ExpressionConfig:
    """What the synthesizer writes."""

    school_fraction: float = 0.7  # the rest: variations of CROHME training captions
    chain_probability: float = 0.2  # a school expression followed by 1-3 solving steps
    max_tokens: int = 60


def in_vocab(caption: str) -> bool:
    return bool(caption) and all(t in VOCAB for t in caption.split())


def canonical(latex: str) -> str | None:
    """The normalised caption, or None when it does not normalise or has a token outside the vocabulary."""
    try:
        out = normalize(latex)
    except NormalizationError:
        return None
    return out if in_vocab(out) else None


# --- numbers and terms -------------------------------------------------------------------------------


def _n(rng: random.Random, lo: int = 1, hi: int = 12) -> int:
    return rng.randint(lo, hi)


def _dec(rng: random.Random, comma: bool | None = None) -> str:
    """A decimal number, with a comma (Dutch school style) or a point."""
    comma = rng.random() < 0.5 if comma is None else comma
    whole = rng.choice([0, 0, 1, 2, 3, 5, 12, rng.randint(0, 99)])
    frac = rng.choice(["5", "25", "75", "2", "4", "8", str(rng.randint(1, 99))])
    return f"{whole}{',' if comma else '.'}{frac}"


def _coef(c: int, var: str) -> str:
    """`c var` with 1 and -1 written as a bare sign (a bare number without `var`)."""
    if var and c == 1:
        return var
    if var and c == -1:
        return "-" + var
    return f"{c}{var}"


def _signed(c: int, var: str = "") -> str:
    """`+ c var` or `- |c| var`, to append to a sum."""
    return ("-" if c < 0 else "+") + _coef(abs(c), var)


def _var(rng: random.Random) -> str:
    return rng.choice(VARIABLES)


def _rel(rng: random.Random) -> str:
    return rng.choice(RELATIONS)


# --- families ------------------------------------------------------------------------------------------


def linear(rng: random.Random) -> str:
    x = _var(rng)
    a, b, c, d = _n(rng, 2, 9), _n(rng), _n(rng, 1, 30), _n(rng)
    return rng.choice(
        [
            f"{_coef(a, x)}{_signed(rng.choice([b, -b]))}={c}",
            f"{_coef(a, x)}-{b}={_coef(_n(rng), x)}+{d}",
            f"{a}({x}{_signed(rng.choice([b, -b]))})={c}",
            f"{a}({x}-{b})-{c}({x}+{d})={_n(rng, 1, 40)}",
            f"\\frac{{{x}}}{{{a}}}+\\frac{{{x}}}{{{b + 1}}}={c}",
            f"\\frac{{{x}+{b}}}{{{a}}}=\\frac{{{x}-{d}}}{{{c + 1}}}",
            f"{x}+{b}={c}",
            f"{c}-{_coef(a, x)}={_coef(b, x)}+{d}",
            f"{_coef(a, x)}={c}",
        ]
    )


def quadratic(rng: random.Random) -> str:
    x = _var(rng)
    p, q = _n(rng, -9, 9), _n(rng, -9, 9)
    b, c = -(p + q), p * q
    a = _n(rng, 2, 6)
    num = rng.choice([f"-{b}" if b >= 0 else str(-b), f"{-b}", f"-({b})"])
    return rng.choice(
        [
            f"{x}^{{2}}{_signed(b, x) if b else ''}{_signed(c) if c else ''}=0",
            f"{_coef(a, x)}^{{2}}{_signed(_n(rng, -12, 12) or 1, x)}{_signed(_n(rng, -20, 20) or 3)}=0",
            f"({x}{_signed(-p) if p else ''})({x}{_signed(-q) if q else ''})=0",
            f"{x}^{{2}}={_n(rng, 1, 100)}",
            "x=\\frac{-b\\pm\\sqrt{b^{2}-4ac}}{2a}",
            "D=b^{2}-4ac",
            f"D=({b})^{{2}}-4\\cdot1\\cdot{c}={b * b - 4 * c}",
            f"{x}=\\frac{{{num}\\pm\\sqrt{{{abs(b * b - 4 * c)}}}}}{{2}}",
            f"{_coef(a, x)}^{{2}}={_n(rng, 1, 80)}",
            f"{x}^{{2}}{_signed(b, x) if b else ''}{_signed(c) if c else ''}{_rel(rng)}0",
        ]
    )


def inequality(rng: random.Random) -> str:
    x = _var(rng)
    a, b, c = _n(rng, 2, 9), _n(rng), _n(rng, 1, 30)
    lo, hi = _n(rng, -9, 3), _n(rng, 4, 12)
    return rng.choice(
        [
            f"{_coef(a, x)}{_signed(rng.choice([b, -b]))}{_rel(rng)}{c}",
            f"-{_coef(a, x)}+{b}{_rel(rng)}{c}",
            f"{lo}<{x}\\leq{hi}",
            f"{lo}\\leq{_coef(a, x)}{_signed(b)}<{hi}",
            f"{x}{_rel(rng)}\\frac{{{c}}}{{{a}}}",
            f"{x}\\neq{b}",
        ]
    )


def fractions(rng: random.Random) -> str:
    a, b, c, d = _n(rng, 1, 9), _n(rng, 2, 12), _n(rng, 1, 9), _n(rng, 2, 12)
    op = rng.choice(["+", "-", "\\cdot", "\\times", "\\div", ":"])
    op = op if op != ":" else "\\div"
    x = _var(rng)
    return rng.choice(
        [
            f"\\frac{{{a}}}{{{b}}}{op}\\frac{{{c}}}{{{d}}}",
            f"\\frac{{{a}}}{{{b}}}{op}\\frac{{{c}}}{{{d}}}=\\frac{{{_n(rng, 1, 99)}}}{{{_n(rng, 2, 99)}}}",
            f"{a}\\frac{{{c}}}{{{d}}}",
            f"\\frac{{{a}{x}}}{{{b}}}=\\frac{{{c}}}{{{d}}}",
            f"\\frac{{{x}+{a}}}{{{x}-{c}}}",
            f"\\frac{{1}}{{{x}}}+\\frac{{1}}{{{x}+{a}}}=\\frac{{{c}}}{{{d}}}",
            f"\\frac{{\\frac{{{a}}}{{{b}}}}}{{{c}}}",
        ]
    )


def powers(rng: random.Random) -> str:
    x = _var(rng)
    m, n = _n(rng, 2, 7), _n(rng, 2, 7)
    m = max(m, 3) if rng.random() < 0.5 else m
    base = rng.choice([x, str(_n(rng, 2, 10))])
    return rng.choice(
        [
            f"{base}^{{{m}}}\\cdot{base}^{{{n}}}={base}^{{{m + n}}}",
            f"({x}^{{{m}}})^{{{n}}}={x}^{{{m * n}}}",
            f"{_n(rng, 2, 5)}^{{{x}}}={_n(rng, 2, 200)}",
            f"{x}^{{-{m}}}=\\frac{{1}}{{{x}^{{{m}}}}}",
            f"\\frac{{{x}^{{{m + n}}}}}{{{x}^{{{n}}}}}={x}^{{{m}}}",
            f"{_dec(rng)}\\times10^{{{rng.choice(['', '-'])}{_n(rng, 2, 9)}}}",
            f"{x}^{{\\frac{{1}}{{{m}}}}}=\\sqrt[{m}]{{{x}}}",
            f"({_n(rng, 2, 9)}{x}^{{{m}}})^{{{n}}}",
        ]
    )


def roots(rng: random.Random) -> str:
    x = _var(rng)
    a, b, k = _n(rng, 1, 20), _n(rng, 1, 9), _n(rng, 2, 7)
    return rng.choice(
        [
            f"\\sqrt{{{x}+{a}}}={b}",
            f"\\sqrt{{{k * k * 2}}}={k}\\sqrt{{2}}",
            f"\\sqrt[3]{{{b**3}}}={b}",
            f"\\sqrt{{{x}^{{2}}+{a}}}",
            f"\\sqrt{{{a}}}\\cdot\\sqrt{{{b}}}=\\sqrt{{{a * b}}}",
            f"\\sqrt{{{k}{x}-{a}}}={x}-{b}",
            f"\\frac{{{a}}}{{\\sqrt{{{k}}}}}=\\frac{{{a}\\sqrt{{{k}}}}}{{{k}}}",
            "c=\\sqrt{a^{2}+b^{2}}",
        ]
    )


def brackets(rng: random.Random) -> str:
    x = _var(rng)
    a, b, c, d = _n(rng, 2, 9), _n(rng), _n(rng, 2, 9), _n(rng)
    return rng.choice(
        [
            f"{a}({b}{x}-{c})-{d}({x}+{b})",
            f"[{a}-({b}-{c})]\\cdot{d}",
            f"({x}+{a})^{{2}}={x}^{{2}}+{2 * a}{x}+{a * a}",
            "(a+b)^{2}=a^{2}+2ab+b^{2}",
            f"|{x}-{a}|={b}",
            f"({x}-{a})({x}+{a})={x}^{{2}}-{a * a}",
            f"-({a}{x}-{b})+{c}({x}-{d})",
            f"{a}[{x}-{c}({x}+{b})]={d}",
        ]
    )


def system(rng: random.Random) -> str:
    """A system on one line: the vocabulary has no row separator, so `\\{` with stacked rows cannot be
    a caption; the equations are separated by a comma."""
    x, y = rng.choice([("x", "y"), ("a", "b"), ("p", "q")])
    a, b, c, d = _n(rng, 1, 6), _n(rng, 1, 6), _n(rng, 1, 6), _n(rng, 1, 6)
    e, f = _n(rng, 1, 30), _n(rng, -10, 20)
    return rng.choice(
        [
            f"{_coef(a, x)}+{_coef(b, y)}={e},{_coef(c, x)}-{_coef(d, y)}={f}",
            f"{x}+{y}={e},{x}-{y}={f}",
            f"{y}={_coef(a, x)}+{b},{y}=-{_coef(c, x)}+{e}",
        ]
    )


def functions(rng: random.Random) -> str:
    f = rng.choice(FUNCTIONS)
    x = rng.choice("xxxxt")
    a, b, c = _n(rng, 2, 9), _n(rng, 1, 12), _n(rng, 1, 20)
    return rng.choice(
        [
            f"{f}({x})={_coef(a, x)}{_signed(rng.choice([b, -b]))}",
            f"{f}({x})={_coef(a, x)}^{{2}}{_signed(_n(rng, -9, 9) or 2, x)}{_signed(c)}",
            f"{f}({x})=\\frac{{{a}}}{{{x}-{b}}}",
            f"{f}({x})=\\sqrt{{{x}-{b}}}",
            f"y={_coef(a, 'x')}{_signed(rng.choice([b, -b]))}",
            f"{f}({b})={a}\\cdot{b}-{c}={a * b - c}",
            f"h(t)=-5t^{{2}}+{_n(rng, 10, 40)}t+{b}",
            f"{f}({x})={a}\\sin({x})",
            f"{f}({x})=\\log_{{{a}}}({x})",
            f"{f}({x})={a}\\cdot{b}^{{{x}}}",
            f"{f}({x})=({x}-{b})^{{2}}+{c}",
        ]
    )


def decimals(rng: random.Random) -> str:
    comma = rng.random() < 0.5
    x = _var(rng)
    return rng.choice(
        [
            f"{_dec(rng, comma)}{x}+{_dec(rng, comma)}={_dec(rng, comma)}",
            f"{_dec(rng, comma)}\\times{_dec(rng, comma)}={_dec(rng, comma)}",
            f"{x}={_dec(rng, comma)}",
            f"{_dec(rng, comma)}+{_dec(rng, comma)}-{_dec(rng, comma)}",
            f"{_dec(rng, comma)}{x}{_rel(rng)}{_dec(rng, comma)}",
        ]
    )


def calculus(rng: random.Random) -> str:
    x = rng.choice("xxxt")
    a, b, n = _n(rng, 2, 9), _n(rng, 1, 9), _n(rng, 2, 5)
    return rng.choice(
        [
            f"f'({x})={_coef(a * n, x)}^{{{n - 1}}}{_signed(b)}",
            f"\\frac{{d}}{{d{x}}}({x}^{{{n}}})={n}{x}^{{{n - 1}}}",
            f"\\int_{{0}}^{{{b}}}{x}^{{{n}}}d{x}",
            f"\\int{x}d{x}=\\frac{{{x}^{{2}}}}{{2}}+C",
            f"\\int_{{{b}}}^{{{b + a}}}({a}{x}+{b})d{x}",
            f"\\lim_{{{x}\\rightarrow{b}}}\\frac{{{x}^{{2}}-{b * b}}}{{{x}-{b}}}={2 * b}",
            f"\\lim_{{{x}\\rightarrow\\infty}}\\frac{{{a}}}{{{x}}}=0",
            f"\\frac{{dy}}{{d{x}}}={a}{x}",
            f"f''({x})={a}",
        ]
    )


def trig_log(rng: random.Random) -> str:
    x = rng.choice(["x", "\\alpha", "\\theta"])
    a, b = _n(rng, 2, 9), _n(rng, 1, 5)
    return rng.choice(
        [
            f"\\sin^{{2}}{x}+\\cos^{{2}}{x}=1",
            f"\\sin({rng.choice([30, 45, 60, 90])})=\\frac{{{b}}}{{{a}}}",
            f"\\tan{x}=\\frac{{\\sin{x}}}{{\\cos{x}}}",
            f"\\log_{{{a}}}({a**b})={b}",
            f"\\log({10**b})={b}",
            f"{a}\\sin({x})={b}",
            f"\\cos({x})=\\frac{{{b}}}{{{a + b}}}",
            f"\\log_{{2}}(x)+\\log_{{2}}({a})=\\log_{{2}}({a}x)",
        ]
    )


def arithmetic(rng: random.Random) -> str:
    terms = [str(_n(rng, 1, 99)) for _ in range(rng.randint(2, 7))]
    ops = [rng.choice(["+", "-", "\\times", "\\div", "\\cdot"]) for _ in terms[1:]]
    body = terms[0] + "".join(o + t for o, t in zip(ops, terms[1:], strict=True))
    if rng.random() < 0.3:
        body = f"({body})"
    return body + (f"={_n(rng, 0, 999)}" if rng.random() < 0.6 else "")


def sequences(rng: random.Random) -> str:
    a, d = _n(rng, 1, 9), _n(rng, 2, 5)
    return rng.choice(
        [
            "\\sum_{k=1}^{n}k=\\frac{n(n+1)}{2}",
            f"u_{{n}}={a}+(n-1)\\cdot{d}",
            f"a_{{n+1}}={d}a_{{n}}",
            f"\\sum_{{i=1}}^{{{a + 3}}}i^{{2}}",
            f"a_{{n}}={a}\\cdot{d}^{{n-1}}",
        ]
    )


FAMILIES: dict[str, Callable[[random.Random], str]] = {
    "linear": linear,
    "quadratic": quadratic,
    "inequality": inequality,
    "fractions": fractions,
    "powers": powers,
    "roots": roots,
    "brackets": brackets,
    "system": system,
    "functions": functions,
    "decimals": decimals,
    "calculus": calculus,
    "trig_log": trig_log,
    "arithmetic": arithmetic,
    "sequences": sequences,
}
# Draw weights: the school staples (equations, fractions, functions) most often.
FAMILY_WEIGHTS: dict[str, float] = {
    "linear": 3.0,
    "quadratic": 2.5,
    "inequality": 1.5,
    "fractions": 2.0,
    "powers": 1.5,
    "roots": 1.5,
    "brackets": 1.5,
    "system": 1.0,
    "functions": 2.0,
    "decimals": 1.0,
    "calculus": 1.0,
    "trig_log": 1.0,
    "arithmetic": 1.0,
    "sequences": 0.5,
}


def _chain(rng: random.Random, first: str) -> str:
    """Solving steps after an expression, in its variable: `... \\rightarrow 2x=4 \\rightarrow x=2`
    (or comma separated)."""
    x = next((t for t in (canonical(first) or "").split() if t in VARIABLES), "x")
    steps = [first]
    for _ in range(rng.randint(1, 3)):
        steps.append(
            rng.choice(
                [
                    f"{_coef(_n(rng, 2, 9), x)}={_n(rng, 1, 40)}",
                    f"{_coef(_n(rng, 2, 9), x)}{_signed(_n(rng, -9, 9) or 1)}={_n(rng, 1, 40)}",
                    f"{x}={_n(rng, -9, 20)}",
                    f"{x}=\\frac{{{_n(rng, 1, 20)}}}{{{_n(rng, 2, 9)}}}",
                ]
            )
        )
    sep = rng.choice(["\\rightarrow", ","])
    return sep.join(steps)


def school_expression(rng: random.Random, cfg: ExpressionConfig | None = None) -> tuple[str, str]:
    """(family, caption) of one school-maths expression, normalised and in the vocabulary."""
    cfg = cfg or ExpressionConfig()
    names = list(FAMILIES)
    weights = [FAMILY_WEIGHTS[n] for n in names]
    for _ in range(MAX_DRAWS):
        family = rng.choices(names, weights)[0]
        latex = FAMILIES[family](rng)
        if rng.random() < cfg.chain_probability:
            latex = _chain(rng, latex)
        caption = canonical(latex)
        if caption and len(caption.split()) <= cfg.max_tokens:
            return family, caption
    raise RuntimeError("no school expression in the vocabulary after many draws")


# --- CROHME variations ---------------------------------------------------------------------------------

DIGITS = "0123456789"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
SWAP_GROUPS: tuple[tuple[str, ...], ...] = (
    ("+", "-"),
    ("=", "<", ">", r"\leq", r"\geq", r"\neq"),
    (r"\times", r"\cdot"),
    (r"\alpha", r"\beta", r"\gamma", r"\theta", r"\lambda", r"\mu", r"\sigma", r"\phi"),
)


def _arguments(tokens: list[str]) -> list[tuple[int, int]]:
    """(start, end) token spans of the contents of every braced argument `{ ... }`."""
    spans: list[tuple[int, int]] = []
    stack: list[int] = []
    for i, t in enumerate(tokens):
        if t == "{":
            stack.append(i)
        elif t == "}" and stack:
            start = stack.pop()
            if i > start + 1:
                spans.append((start + 1, i))
    return spans


def swap_symbols(rng: random.Random, tokens: list[str]) -> list[str]:
    """Digits re-drawn, letters renamed (one consistent map), operators swapped within their kind."""
    letters = sorted({t for t in tokens if t in LETTERS})
    renamed = dict(zip(letters, rng.sample(LETTERS, len(letters)), strict=True))
    out = []
    for t in tokens:
        if t in DIGITS and rng.random() < 0.6:
            t = rng.choice(DIGITS)
        elif t in renamed and rng.random() < 0.7:
            t = renamed[t]
        else:
            for group in SWAP_GROUPS:
                if t in group and rng.random() < 0.4:
                    t = rng.choice(group)
                    break
        out.append(t)
    return out


def graft(rng: random.Random, tokens: list[str], donor: list[str]) -> list[str]:
    """One braced argument of `tokens` replaced by a braced argument (or a short run) of `donor`."""
    spans = _arguments(tokens)
    donor_spans = [s for s in _arguments(donor) if s[1] - s[0] <= 15]
    if not spans or not donor_spans:
        return tokens
    a0, a1 = rng.choice(spans)
    d0, d1 = rng.choice(donor_spans)
    return tokens[:a0] + donor[d0:d1] + tokens[a1:]


def crohme_variation(rng: random.Random, captions: Sequence[str], cfg: ExpressionConfig | None = None) -> str:
    """A variation of a random CROHME caption: symbols swapped, and/or a sub-expression grafted from another."""
    cfg = cfg or ExpressionConfig()
    for _ in range(MAX_DRAWS):
        tokens = rng.choice(captions).split()
        if rng.random() < 0.4:
            tokens = graft(rng, tokens, rng.choice(captions).split())
        if rng.random() < 0.85:
            tokens = swap_symbols(rng, tokens)
        caption = canonical(" ".join(tokens))
        if caption and len(caption.split()) <= cfg.max_tokens:
            return caption
    raise RuntimeError("no CROHME variation in the vocabulary after many draws")


def draw_caption(
    rng: random.Random, captions: Sequence[str], cfg: ExpressionConfig | None = None
) -> tuple[str, str]:
    """(kind, caption): a school expression (kind = its family) or, with CROHME captions given, a
    variation of one (kind "crohme") for `1 - school_fraction` of the draws."""
    cfg = cfg or ExpressionConfig()
    if captions and rng.random() >= cfg.school_fraction:
        return "crohme", crohme_variation(rng, captions, cfg)
    return school_expression(rng, cfg)
