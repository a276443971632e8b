"""LaTeX (typed or space-separated CROHME tokens) to a flat token list for the parser.

Pure Python, no SymPy: it runs in the caller, before any worker is involved.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from seq2latex.solver.config import MAX_NESTING, MAX_TOKENS


class SolverInputError(ValueError):
    """Input that cannot be handled; `code` selects the translated message, `detail` is shown as is."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Tok:
    """One token: kind is 'digit', 'letter', 'cmd' (backslash command), 'op' (punctuation) or 'sep'."""

    kind: str
    text: str


GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
    "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi",
    "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega",
}  # fmt: skip
FUNCTIONS = {
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "ln", "log", "exp", "lg",
}  # fmt: skip
# commands that only affect typesetting
_DROP = {
    "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr",
    "displaystyle", "textstyle", "limits", "nolimits", "middle", "!", ",", ";", ":", " ", "noindent",
}  # fmt: skip
_ALIASES = {
    "dfrac": "frac", "tfrac": "frac", "le": "leq", "leqslant": "leq", "leqq": "leq", "ge": "geq",
    "geqslant": "geq", "geqq": "geq", "ne": "neq", "to": "rightarrow", "Rightarrow": "rightarrow",
    "longrightarrow": "rightarrow", "cdotp": "cdot", "ast": "*", "lt": "<", "gt": ">", "colon": ":",
    "prime": "'", "vert": "|", "mid": "|", "lvert": "|L", "rvert": "|R", "lbrace": "\\{", "rbrace": "\\}",
    "%": "%", "{": "\\{", "}": "\\}", "|": "|", "mp": "mp", "arcsinh": "arcsinh", "tg": "tan",
}  # fmt: skip
_KNOWN = GREEK | FUNCTIONS | {
    "frac", "sqrt", "int", "sum", "prod", "lim", "pi", "infty", "cdot", "times", "div", "pm", "mp",
    "leq", "geq", "neq", "rightarrow", "circ", "ldots", "cdots", "dots", "approx",
}  # fmt: skip
_STYLE_GROUPS = {
    "mathrm",
    "mathit",
    "mathbf",
    "mathsf",
    "textrm",
    "textit",
    "operatorname",
    "rm",
    "boldsymbol",
}
_TEXT_SEPARATORS = {"and", "en", "or", "of", ";", ","}
_UNICODE = {
    "≤": "\\leq ", "≥": "\\geq ", "≠": "\\neq ", "×": "\\times ", "÷": "\\div ", "·": "\\cdot ",
    "⋅": "\\cdot ", "−": "-", "–": "-", "√": "\\sqrt ", "π": "\\pi ", "∞": "\\infty ", "±": "\\pm ",
    "²": "^{2}", "³": "^{3}", "°": "^{\\circ}", "→": "\\rightarrow ", "∫": "\\int ", "∑": "\\sum ",
}  # fmt: skip
_SCAN = re.compile(r"\\\\|\\[a-zA-Z]+|\\.|\s+|.", re.S)
_PUNCT = set("+-*/=<>()[]{}|^_,;.!':&%")


def _read_group(src: str, start: int) -> tuple[str, int]:
    """The text of the brace group that opens at or after `start` (skipping spaces) and the end index."""
    i = start
    while i < len(src) and src[i].isspace():
        i += 1
    if i >= len(src) or src[i] != "{":
        raise SolverInputError("parse", "expected '{'")
    depth = 0
    for j in range(i, len(src)):
        if src[j] == "{" and (j == 0 or src[j - 1] != "\\"):
            depth += 1
        elif src[j] == "}" and src[j - 1] != "\\":
            depth -= 1
            if depth == 0:
                return src[i + 1 : j], j + 1
    raise SolverInputError("unbalanced")


_UNICODE_ROOT = re.compile(r"√\s*(\d+(?:[.,]\d+)?|[A-Za-z])")


_BRACED_COMMA = re.compile(r"(?<=\d)\s*\{\s*,\s*\}\s*(?=\d)")  # `2{,}25`: the LaTeX way to write a decimal comma


def prepare(text: str) -> str:
    """Unicode maths symbols, HTML entities and math-mode delimiters rewritten to plain LaTeX."""
    text = _UNICODE_ROOT.sub(r"\\sqrt{\1}", html.unescape(text))
    text = _BRACED_COMMA.sub(",", text)  # then read as any comma between digits (see parser.resolve_commas)
    for char, repl in _UNICODE.items():
        text = text.replace(char, repl)
    return (
        text.replace("$", "").replace("\\[", " ").replace("\\]", " ").replace("\\(", " ").replace("\\)", " ")
    )


def _check_braces(text: str) -> None:
    depth = 0
    for i, ch in enumerate(text):
        if ch in "{}" and i > 0 and text[i - 1] == "\\":
            continue
        depth += 1 if ch == "{" else -1 if ch == "}" else 0
        if depth < 0:
            raise SolverInputError("unbalanced")
    if depth:
        raise SolverInputError("unbalanced")


def tokenize(text: str) -> list[Tok]:
    """Tokens of a LaTeX string; raises SolverInputError on unbalanced braces, unknown commands, etc."""
    src = prepare(text)
    _check_braces(src)
    toks: list[Tok] = []
    pos = 0
    while pos < len(src):
        m = _SCAN.match(src, pos)
        assert m is not None
        piece = m.group(0)
        pos = m.end()
        if piece.isspace():
            continue
        if piece == "\\\\":
            toks.append(Tok("sep", "\\\\"))
        elif piece.startswith("\\"):
            name = piece[1:]
            name = _ALIASES.get(name, name)
            if name in _DROP:
                if piece in ("\\left", "\\right") and pos < len(src):
                    nxt = _SCAN.match(src, pos)
                    if nxt and nxt.group(0) in (".", "|", "\\vert", "\\|"):  # \left. \right| ...
                        pos = nxt.end()
                        if nxt.group(0) != ".":
                            toks.append(Tok("op", "|L" if piece == "\\left" else "|R"))
                continue
            if name in ("quad", "qquad"):
                toks.append(Tok("sep", name))
            elif name in _STYLE_GROUPS:
                content, pos = _read_group(src, pos)
                word = re.sub(r"\s+", "", content)
                if word in FUNCTIONS or word in GREEK:
                    toks.append(Tok("cmd", word))
                elif word:
                    toks.extend(tokenize(content))
            elif name in ("text", "mbox", "textnormal"):
                content, pos = _read_group(src, pos)
                word = content.strip().lower()
                if word in _TEXT_SEPARATORS:
                    toks.append(Tok("sep", word))
                elif word:
                    raise SolverInputError("unsupported", f"\\text{{{content.strip()}}}")
            elif name in ("begin", "end"):
                env, pos = _read_group(src, pos)
                if name == "begin" and env.strip() == "array":
                    _, pos = _read_group(src, pos)  # column specification
            elif name in ("%",):
                toks.append(Tok("op", "%"))
            elif name in ("*", "<", ">", ":", "'", "|", "|L", "|R", "\\{", "\\}"):
                toks.append(Tok("op", name))
            elif name in _KNOWN:
                toks.append(Tok("cmd", name))
            else:
                raise SolverInputError("unsupported", piece)
        elif piece.isdigit():
            toks.append(Tok("digit", piece))
        elif piece.isalpha() and piece.isascii():
            toks.append(Tok("letter", piece))
        elif piece in _PUNCT:
            if piece == "&":
                continue
            toks.append(Tok("op", piece))
        else:
            raise SolverInputError("unsupported", piece)
        if len(toks) > MAX_TOKENS:
            raise SolverInputError("too_big")
    _check_nesting(toks)
    return toks


def _check_nesting(toks: list[Tok], limit: int = MAX_NESTING) -> None:
    """Brackets nested deeper than `limit`, or a run of more than `limit` \\frac/\\sqrt (which nest
    without brackets, as in `\\frac1\\frac1...`), raise SolverInputError('nesting')."""
    depth = 0
    for t in toks:
        if t.text in ("{", "(", "[", "\\{", "|L"):
            depth += 1
            if depth > limit:
                raise SolverInputError("nesting")
        elif t.text in ("}", ")", "]", "\\}", "|R"):
            depth -= 1
    run = 0
    for t in toks:
        if t.kind == "cmd" and t.text in ("frac", "sqrt"):
            run += 1
        elif not (t.kind == "op" and t.text == "{") and t.kind != "digit":
            run = 0
        if run > limit:
            raise SolverInputError("nesting")
