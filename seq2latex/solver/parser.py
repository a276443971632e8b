"""Recursive-descent parser: tokens to a small picklable expression tree (`Node`), plus size guards.

School conventions: implicit multiplication (`2x`, `x(x-3)`), `\\sin 2x` = sin(2x), `\\log` is base 10,
`{}^{2}\\log 8` (Dutch) and `\\log_{2} 8` are base 2, `|x|`, `a:b` is division, `\\pm` gives branches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from seq2latex.solver.config import (
    MAX_EXPONENT,
    MAX_FACTORIAL,
    MAX_NODES,
    MAX_NUMBER_BITS,
    MAX_NUMBER_DIGITS,
    MAX_POWER_TOWER,
    MAX_STATEMENTS,
)
from seq2latex.solver.lexer import FUNCTIONS, GREEK, SolverInputError, Tok

RELATIONS = {"=": "=", "<": "<", ">": ">", "leq": "<=", "geq": ">=", "neq": "!="}
_SEPARATORS = {";", "\\\\", "and", "en", "or", "of", "quad", "qquad"}
_BIG_OPS = {"int", "sum", "prod", "lim"}
_OPENERS = {"(": ")", "[": "]", "\\{": "\\}", "{": "}", "|L": "|R"}


@dataclass(frozen=True)
class Node:
    """Expression tree node; `op` names the operation, `text` holds names, numbers and options."""

    op: str
    args: tuple[Node, ...] = ()
    text: str = ""


def _num(text: str) -> Node:
    return Node("num", text=text)


class _Parser:
    def __init__(self, toks: list[Tok]) -> None:
        self.toks = toks
        self.pos = 0
        self.abs_depth = 0
        self.diff_stop = 0
        self.differential: str | None = None

    # --- token helpers -------------------------------------------------------------------------
    def peek(self, k: int = 0) -> Tok | None:
        i = self.pos + k
        return self.toks[i] if i < len(self.toks) else None

    def at(self, text: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t is not None and t.text == text and t.kind in ("op", "cmd", "sep")

    def take(self) -> Tok:
        t = self.peek()
        if t is None:
            raise SolverInputError("parse", "unexpected end of input")
        self.pos += 1
        return t

    def expect(self, text: str) -> None:
        t = self.peek()
        if t is None or t.text != text:
            found = "end of input" if t is None else repr(t.text)
            raise SolverInputError("parse", f"expected {text!r}, found {found}")
        self.pos += 1

    def at_differential(self) -> bool:
        t, n = self.peek(), self.peek(1)
        return (
            self.diff_stop > 0
            and t is not None
            and t.kind == "letter"
            and t.text == "d"
            and n is not None
            and (n.kind == "letter" or (n.kind == "cmd" and n.text in GREEK))
        )

    def can_start_factor(self) -> bool:
        t = self.peek()
        if t is None or self.at_differential():
            return False
        if t.kind in ("digit", "letter"):
            return True
        if t.kind == "cmd":
            return t.text not in ("cdot", "times", "div", "pm", "mp", "rightarrow", "circ", "approx") and (
                t.text not in RELATIONS
            )
        if t.text == "|":
            return self.abs_depth == 0
        if t.text == "^":  # Dutch {}^{2}\log
            return self._dutch_log_ahead()
        return t.text in ("(", "[", "\\{", "{", "|L")

    def _dutch_log_ahead(self) -> bool:
        i = self.pos + 1
        if i < len(self.toks) and self.toks[i].text == "{":
            depth = 0
            while i < len(self.toks):
                depth += {"{": 1, "}": -1}.get(self.toks[i].text, 0)
                i += 1
                if depth == 0:
                    break
        else:
            i += 1
        return i < len(self.toks) and self.toks[i].text in ("log", "lg")

    # --- grammar -------------------------------------------------------------------------------
    def statement(self) -> Node:
        parts = [self.expr()]
        ops: list[str] = []
        while self.peek() is not None and self.peek().text in RELATIONS and self.peek().kind != "letter":
            ops.append(RELATIONS[self.take().text])
            if self.peek() is None and ops[-1] == "=" and len(parts) == 1:
                return Node("chain", (parts[0],), text="trailing=")
            parts.append(self.expr())
        if self.peek() is not None:
            raise SolverInputError("parse", f"unexpected {self.peek().text!r}")
        if not ops:
            return parts[0]
        return Node("chain", tuple(parts), text=" ".join(ops))

    def expr(self) -> Node:
        """Sum of terms; `a \\pm b` becomes a 'pm' node (two branches), `\\mp` a 'pm' of the negation."""
        t = self.peek()
        if t is None or t.text in (")", "]", "}", "\\}", "|R") or t.text in RELATIONS and t.kind != "letter":
            raise SolverInputError("parse", "missing expression")
        signs = ("+", "-", "pm", "mp")
        sign = self.take().text if any(self.at(s) for s in signs) else "+"
        acc = self._signed(_num("0"), sign, self.term(), first=True)
        while any(self.at(s) for s in signs):
            sign = self.take().text
            acc = self._signed(acc, sign, self.term(), first=False)
        return acc

    @staticmethod
    def _signed(acc: Node, sign: str, term: Node, first: bool) -> Node:
        signed = term if sign in ("+", "pm") else Node("neg", (term,))
        if sign in ("pm", "mp"):
            return Node("pm", (acc, signed))
        return signed if first else Node("add", (acc, signed))

    def term(self) -> Node:
        acc = self.signed_factor()
        while True:
            if self.at("cdot") or self.at("times") or self.at("*"):
                self.take()
                acc = Node("mul", (acc, self.signed_factor()))
            elif self.at("div") or self.at("/") or self.at(":"):
                self.take()
                acc = Node("div", (acc, self.signed_factor()))
            elif self.at("%"):
                self.take()
                acc = Node("div", (acc, _num("100")))
            elif self.can_start_factor():
                acc = Node("mul", (acc, self.power()))
            else:
                return acc

    def signed_factor(self) -> Node:
        if self.at("-"):
            self.take()
            return Node("neg", (self.signed_factor(),))
        if self.at("+"):
            self.take()
            return self.signed_factor()
        return self.power()

    def power(self, base: Node | None = None) -> Node:
        node = self.primary() if base is None else base
        while True:
            if self.at("^"):
                self.take()
                if self.at("circ") or (self.at("{") and self.at("circ", 1)):
                    braced = self.at("{")
                    self.pos += 3 if braced else 1
                    node = Node("deg", (node,))
                    continue
                node = Node("pow", (node, self.script()))
            elif self.at("!"):
                self.take()
                node = Node("fact", (node,))
            elif self.at("'"):
                self.take()
                node = Node("diff", (node,), text="")
            else:
                return node

    def script(self) -> Node:
        """A super/subscript: a brace group or one token."""
        if self.at("{"):
            self.take()
            inner = self.expr()
            self.expect("}")
            return Node("group", (inner,))
        t = self.peek()
        if t is None:
            raise SolverInputError("parse", "missing script")
        if t.text == "-":
            self.take()
            return Node("neg", (self.script(),))
        if t.kind == "digit":
            self.take()
            return _num(t.text)
        if t.kind == "letter":
            self.take()
            return Node("sym", text=t.text)
        return self.primary()

    def group_or_token(self) -> Node:
        """Argument of \\frac or \\sqrt: a brace group, or a single token (`\\frac12`)."""
        return self.script()

    def primary(self) -> Node:
        t = self.peek()
        if t is None:
            raise SolverInputError("parse", "unexpected end of input")
        if t.kind == "digit" or (t.text == "." and self.peek(1) is not None and self.peek(1).kind == "digit"):
            return self.number()
        if t.kind == "letter":
            self.take()
            name = t.text
            if self.at("_"):
                name += "_" + self.subscript_name()
            return Node("sym", text=name)
        if t.kind == "cmd":
            return self.command()
        if t.text in _OPENERS:
            self.take()
            if t.text == "{" and self.at("}"):  # empty group, e.g. {}^{2}\log
                self.take()
                return self.primary()
            closer = _OPENERS[t.text]
            if t.text == "|L":
                self.abs_depth += 1
            inner = self.expr()
            self.expect(closer)
            if t.text == "|L":
                self.abs_depth -= 1
                return Node("abs", (inner,))
            return Node("group", (inner,))
        if t.text == "|":
            self.take()
            self.abs_depth += 1
            inner = self.expr()
            self.expect("|")
            self.abs_depth -= 1
            return Node("abs", (inner,))
        if t.text == "^" and self._dutch_log_ahead():
            self.take()
            base = self.script()
            self.take()  # \log
            return self.function("log", base)
        raise SolverInputError("parse", f"unexpected {t.text!r}")

    def number(self) -> Node:
        digits = ""
        while self.peek() is not None and self.peek().kind == "digit":
            digits += self.take().text
        if self.at(".") and self.peek(1) is not None and self.peek(1).kind == "digit":
            self.take()
            digits += "."
            while self.peek() is not None and self.peek().kind == "digit":
                digits += self.take().text
        if len(digits.replace(".", "")) > MAX_NUMBER_DIGITS:
            raise SolverInputError("number")
        return _num(digits if not digits.startswith(".") else "0" + digits)

    def subscript_name(self) -> str:
        """Index of a subscripted name: `x_1` -> '1', `g_\\theta` -> 'theta', `a_{n+1}` -> '{n+1}'."""
        self.expect("_")
        if not self.at("{"):
            t = self.take()
            if t.kind not in ("digit", "letter") and not (t.kind == "cmd" and t.text in GREEK):
                raise SolverInputError("parse", f"unsupported subscript {t.text!r}")
            return t.text
        self.take()
        texts: list[str] = []
        simple = True
        depth = 0
        while depth or not self.at("}"):
            t = self.take()
            depth += {"{": 1, "}": -1}.get(t.text, 0) if t.kind == "op" else 0
            simple = simple and (t.kind in ("digit", "letter") or (t.kind == "cmd" and t.text in GREEK))
            if t.kind == "sep" or (t.kind == "op" and t.text in ("=", "<", ">", "|")):
                raise SolverInputError("parse", f"unsupported subscript {t.text!r}")
            texts.append(t.text)
        self.take()
        if not texts:
            raise SolverInputError("parse", "empty subscript")
        return "".join(texts) if simple else "{" + "".join(texts) + "}"

    def command(self) -> Node:
        t = self.take()
        name = t.text
        if name in ("pi", "infty"):
            return Node("const", text=name)
        if name in GREEK:
            sub = "_" + self.subscript_name() if self.at("_") else ""
            return Node("sym", text=name + sub)
        if name == "frac":
            return self.fraction()
        if name == "sqrt":
            index: Node | None = None
            if self.at("["):
                self.take()
                index = self.expr()
                self.expect("]")
            if self.at("("):  # \sqrt(x + 1), typed
                self.take()
                arg = Node("group", (self.expr(),))
                self.expect(")")
            else:
                arg = self.group_or_token()
            return Node("root", (arg, index)) if index is not None else Node("root", (arg,))
        if name in FUNCTIONS:
            return self.function(name, None)
        if name in _BIG_OPS:
            return self.big_operator(name)
        if name in ("ldots", "cdots", "dots"):
            raise SolverInputError("unsupported", "\\" + name)
        raise SolverInputError("parse", f"unexpected \\{name}")

    def function(self, name: str, base: Node | None) -> Node:
        exponent: Node | None = None
        inverse = False
        for _ in range(2):
            if self.at("^"):
                self.take()
                exponent = self.script()
                if exponent == Node("neg", (_num("1"),)) or exponent == Node(
                    "group", (Node("neg", (_num("1"),)),)
                ):
                    inverse, exponent = True, None
            elif self.at("_") and name in ("log", "lg"):
                self.take()
                base = self.script()
        if inverse:
            if name not in ("sin", "cos", "tan"):
                raise SolverInputError("unsupported", f"\\{name}^{{-1}}")
            name = "arc" + name
        if self.at("("):
            self.take()
            arg = self.expr()
            self.expect(")")
            arg = Node("group", (arg,))
        else:
            arg = self.function_argument()
        fn = Node("fn", (arg, base) if base is not None else (arg,), text=name)
        return Node("pow", (fn, exponent)) if exponent is not None else fn

    def function_argument(self) -> Node:
        """`\\sin 2x` = sin(2x): a product of powers up to the next function or operator."""
        acc = self.signed_factor()
        while self.can_start_factor():
            t = self.peek()
            if t is not None and t.kind == "cmd" and (t.text in FUNCTIONS or t.text in _BIG_OPS):
                break
            acc = Node("mul", (acc, self.power()))
        return acc

    def fraction(self) -> Node:
        start = self.pos
        num_toks = self._group_tokens()
        den_toks = self._group_tokens()
        dvar = _derivative_var(den_toks)
        if dvar is not None and num_toks and num_toks[0].text == "d" and num_toks[0].kind == "letter":
            var, order = dvar
            rest = num_toks[1:]
            if rest[:1] and rest[0].text == "^":
                rest = rest[2:] if rest[1].text != "{" else rest[rest.index(Tok("op", "}")) + 1 :]
            body = _parse_tokens(rest) if rest else self.operand()
            return Node("diff", (body,), text=f"{var} {order}")
        if (
            self.diff_stop > 0
            and len(num_toks) >= 2
            and num_toks[-2].text == "d"
            and num_toks[-1].kind == "letter"
        ):
            self.differential = num_toks[-1].text  # \int \frac{dx}{x}
            num_toks = num_toks[:-2]
        self.pos = start
        numerator = _parse_tokens(num_toks) if num_toks else _num("1")
        self._skip_group()
        denominator = self.group_or_token()
        return Node("div", (Node("group", (numerator,)), denominator))

    def _group_tokens(self) -> list[Tok]:
        """Tokens of the next \\frac argument (brace group or one token), advancing past it."""
        if self.at("{"):
            depth, start = 0, self.pos
            while self.peek() is not None:
                depth += {"{": 1, "}": -1}.get(self.peek().text, 0) if self.peek().kind == "op" else 0
                self.pos += 1
                if depth == 0:
                    return self.toks[start + 1 : self.pos - 1]
            raise SolverInputError("unbalanced")
        return [self.take()]

    def _skip_group(self) -> None:
        self._group_tokens()

    def operand(self) -> Node:
        """Operand of d/dx and \\lim: a bracketed group (the term goes on), or the rest of the sum."""
        if self.at("(") or self.at("["):
            return self.power()
        return self.expr()

    def big_operator(self, name: str) -> Node:
        lower: list[Tok] | None = None
        upper: Node | None = None
        for _ in range(2):
            if self.at("_"):
                self.take()
                lower = self._group_tokens()
            elif self.at("^"):
                self.take()
                upper = self.script()
        if name == "lim":
            return self.limit(lower)
        if name == "int":
            return self.integral(lower, upper)
        if lower is None or upper is None:
            raise SolverInputError("unsupported", f"\\{name} without limits")
        if len(lower) < 3 or lower[0].kind != "letter" or lower[1].text != "=":
            raise SolverInputError("parse", f"\\{name} needs a lower limit like i = 1")
        start = _parse_tokens(lower[2:])
        body = self.term()
        return Node(name, (body, Node("sym", text=lower[0].text), start, upper))

    def limit(self, lower: list[Tok] | None) -> Node:
        if not lower or len(lower) < 3 or lower[1].text != "rightarrow" or lower[0].kind != "letter":
            raise SolverInputError("parse", "\\lim needs a subscript like x \\rightarrow 0")
        target, direction = lower[2:], "+-"
        for tail, d in (
            (["^", "{", "+", "}"], "+"),
            (["^", "{", "-", "}"], "-"),
            (["^", "+"], "+"),
            (["^", "-"], "-"),
        ):
            if [t.text for t in target[-len(tail) :]] == tail:
                target, direction = target[: -len(tail)], d
                break
        if [t.text for t in target[-1:]] in (["+"], ["-"]) and len(target) > 1:  # x \to 0+
            target, direction = target[:-1], target[-1].text
        point = _parse_tokens(target)
        body = self.operand()
        return Node("lim", (body, Node("sym", text=lower[0].text), point), text=direction)

    def integral(self, lower: list[Tok] | None, upper: Node | None) -> Node:
        self.diff_stop += 1
        saved, self.differential = self.differential, None
        try:
            if self.at_differential():
                body: Node = _num("1")
            else:
                body = self.expr()
            var = self.differential
            if self.at_differential():
                self.take()
                t = self.take()
                var = t.text
        finally:
            self.diff_stop -= 1
            self.differential = saved
        var_node = Node("sym", text=var) if var else Node("none")
        if (lower is None) != (upper is None):
            raise SolverInputError("parse", "integral needs both limits")
        if lower is None or upper is None:
            return Node("int", (body, var_node))
        return Node("int", (body, var_node, _parse_tokens(lower), upper))


def _derivative_var(den: list[Tok]) -> tuple[str, int] | None:
    """(x, order) if the tokens read `d x` or `d x ^ { n }`."""
    texts = [t.text for t in den]
    if len(den) >= 2 and texts[0] == "d" and den[0].kind == "letter" and den[1].kind in ("letter", "cmd"):
        if len(den) == 2:
            return den[1].text, 1
        rest = texts[2:]
        if rest[:1] == ["^"]:
            digits = "".join(r for r in rest[1:] if r not in "{}")
            if digits.isdigit() and int(digits) <= 10:
                return den[1].text, int(digits)
    return None


def _parse_tokens(toks: list[Tok]) -> Node:
    if not toks:
        raise SolverInputError("parse", "empty group")
    p = _Parser(toks)
    node = p.expr()
    if p.peek() is not None:
        raise SolverInputError("parse", f"unexpected {p.peek().text!r}")
    return node


# --- statements, commas and the Dutch decimal comma ----------------------------------------------
def _split_top(toks: list[Tok], seps: set[int]) -> list[list[Tok]]:
    parts: list[list[Tok]] = [[]]
    for i, t in enumerate(toks):
        if i in seps:
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


def _has_relation(part: list[Tok]) -> bool:
    return any(t.text in RELATIONS and t.kind != "letter" for t in part)


def resolve_commas(toks: list[Tok], lang: str) -> list[list[Tok]]:
    """Split into statements. Rule: ';', '\\\\', \\text{and} always separate; a ',' separates when every
    comma-separated part is an equation/inequality; otherwise, with lang='nl', a ',' between two digits is
    a decimal comma, and with lang='en', `1,000` (3 digits follow) is a thousands separator."""
    depth = 0
    commas: list[int] = []
    hard: set[int] = set()
    for i, t in enumerate(toks):
        if t.kind == "op" and t.text in _OPENERS:
            depth += 1
        elif t.kind == "op" and t.text in _OPENERS.values():
            depth -= 1
        if t.kind == "sep" or (t.kind == "op" and t.text == ";"):
            hard.add(i)
        elif t.text == "," and t.kind == "op":
            commas.append(i)
    statements = _split_top(toks, hard)
    out: list[list[Tok]] = []
    for st in statements:
        idx = [i for i, t in enumerate(st) if t.kind == "op" and t.text == ","]
        parts = _split_top(st, set(idx))
        if idx and all(_has_relation(p) for p in parts):
            out.extend(parts)
            continue
        fixed: list[Tok] = []
        for i, t in enumerate(st):
            if i in idx:
                prev_digit = i > 0 and st[i - 1].kind == "digit"
                nxt = st[i + 1 : i + 5]
                if lang == "nl" and prev_digit and nxt and nxt[0].kind == "digit":
                    fixed.append(Tok("op", "."))
                    continue
                if (
                    lang != "nl"
                    and prev_digit
                    and len(nxt) >= 3
                    and all(n.kind == "digit" for n in nxt[:3])
                    and (len(nxt) == 3 or nxt[3].kind != "digit")
                ):
                    continue
                fixed.append(Tok("sep", ","))
                continue
            fixed.append(t)
        seps = {i for i, t in enumerate(fixed) if t.kind == "sep"}
        out.extend(_split_top(fixed, seps))
    out = [p for p in out if p]
    if not out:
        raise SolverInputError("empty")
    if len(out) > MAX_STATEMENTS:
        raise SolverInputError("too_big")
    return out


def _drop_set_brace(toks: list[Tok]) -> list[Tok]:
    """`\\left\\{ ... \\right.` around a system: a leading `\\{` without a matching `\\}`."""
    if toks and toks[0].text == "\\{" and not any(t.text == "\\}" for t in toks):
        return toks[1:]
    return toks


def parse(toks: list[Tok], lang: str = "en") -> list[Node]:
    """Statements (expressions or relation chains) of a token list; raises SolverInputError."""
    toks = _drop_set_brace(toks)
    if not toks:
        raise SolverInputError("empty")
    nodes = [_Parser(part).statement() for part in resolve_commas(toks, lang)]
    for node in nodes:
        check_limits(node)
    return nodes


# --- guards --------------------------------------------------------------------------------------
def _const_value(node: Node) -> float | None:
    """A rough numeric value of a constant subtree (None if it has symbols or is not simple)."""
    if node.op == "num":
        return float(node.text)
    if node.op == "group":
        return _const_value(node.args[0])
    if node.op == "neg":
        v = _const_value(node.args[0])
        return None if v is None else -v
    if node.op in ("add", "mul", "div", "pow"):
        a, b = (_const_value(x) for x in node.args)
        if a is None or b is None:
            return None
        try:
            if node.op == "add":
                return a + b
            if node.op == "mul":
                return a * b
            if node.op == "div":
                return a / b if b else None
            return float(a**b) if abs(b) < 1e4 and (a > 0 or b == int(b)) else math.inf
        except (OverflowError, ZeroDivisionError):
            return math.inf
    return None


def _log2_bound(node: Node) -> float:
    """Upper bound of log2 |value| for constant parts (0 for symbols: they do not grow numbers)."""
    if node.op == "num":
        return math.log2(float(node.text) + 2)
    if node.op in ("sym", "const", "none"):
        return 2.0
    if node.op == "pow":
        base, exp = node.args
        b = _log2_bound(base)
        e_val = _const_value(exp)
        e_mag = abs(e_val) if e_val is not None else 2.0 ** min(_log2_bound(exp), 1000)
        return b * max(e_mag, 1.0)
    if node.op == "fact":
        v = _const_value(node.args[0])
        n = v if v is not None else 2.0 ** min(_log2_bound(node.args[0]), 1000)
        return n * math.log2(n + 2)
    if node.op in ("add", "pm"):
        return max(_log2_bound(a) for a in node.args) + 1
    return sum(_log2_bound(a) for a in node.args)


def _tower(node: Node) -> int:
    if node.op == "pow":
        return max(_tower(node.args[0]), 1 + _tower(node.args[1]))
    return max((_tower(a) for a in node.args), default=0)


def _is_constant(node: Node) -> bool:
    if node.op == "sym":
        return False
    return all(_is_constant(a) for a in node.args)


def _degree(node: Node) -> float:
    """Upper bound of the polynomial degree (what expand/solve would face)."""
    if node.op == "sym":
        return 1.0
    if node.op in ("num", "const", "none"):
        return 0.0
    if node.op == "pow":
        d = _degree(node.args[0])
        e_val = _const_value(node.args[1])
        if d and e_val is None:
            return d
        return d * abs(e_val or 0)
    if node.op in ("mul", "div"):
        return sum(_degree(a) for a in node.args)
    return max((_degree(a) for a in node.args), default=0.0)


def _count(node: Node) -> int:
    return 1 + sum(_count(a) for a in node.args)


def check_limits(node: Node) -> None:
    """Raise SolverInputError for trees that would make SymPy slow or huge."""
    if _count(node) > MAX_NODES:
        raise SolverInputError("too_big")
    if _tower(node) > MAX_POWER_TOWER:
        raise SolverInputError("tower")
    _check_powers(node)
    if _degree(node) > MAX_EXPONENT:
        raise SolverInputError("exponent")
    if _log2_bound(node) > MAX_NUMBER_BITS:
        raise SolverInputError("number")


def _check_powers(node: Node) -> None:
    if node.op == "pow" and not _is_constant(node.args[0]):
        e_val = _const_value(node.args[1])
        if e_val is not None and abs(e_val) > MAX_EXPONENT:
            raise SolverInputError("exponent")
    if node.op == "fact":
        v = _const_value(node.args[0])
        if v is not None and v > MAX_FACTORIAL:
            raise SolverInputError("number")
    for a in node.args:
        _check_powers(a)
