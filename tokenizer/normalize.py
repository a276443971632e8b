"""Canonical CROHME form of a LaTeX string.

`normalize` turns anything from a hand-typed formula to a raw InkML ground truth
into the tokenised form of the CROHME captions: tokens separated by single spaces,
digits split, every script and command argument braced, sub-script before
super-script, spacing / font / sizing commands removed, synonyms mapped to the one
token the vocabulary has. It is idempotent: ``normalize(normalize(s)) == normalize(s)``.

It works on a small parse tree (atoms, groups, commands with arguments), so braces
are always balanced in its output. With ``strict=False`` (used when decoding model
output) it repairs instead of failing: missing ``}`` are closed, stray ``}`` dropped
and missing arguments filled with ``{ }``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

MAX_INPUT_CHARS = 20_000
MAX_DEPTH = 200


class NormalizationError(ValueError):
    """The input cannot be read as LaTeX (unbalanced braces, missing arguments, too long...)."""


# --- token-level maps -------------------------------------------------------------------------

# Commands that are synonyms of a vocabulary token (or of a plain character).
SYNONYMS: dict[str, list[str]] = {
    r"\lt": ["<"],
    r"\gt": [">"],
    r"\le": [r"\leq"],
    r"\leqslant": [r"\leq"],
    r"\leqq": [r"\leq"],
    r"\ge": [r"\geq"],
    r"\geqslant": [r"\geq"],
    r"\geqq": [r"\geq"],
    r"\ne": [r"\neq"],
    r"\to": [r"\rightarrow"],
    r"\dots": [r"\ldots"],
    r"\dotsc": [r"\ldots"],
    r"\dotsb": [r"\cdots"],
    r"\cdotp": [r"\cdot"],
    r"\lbrace": [r"\{"],
    r"\rbrace": [r"\}"],
    r"\lbrack": ["["],
    r"\rbrack": ["]"],
    r"\vert": ["|"],
    r"\lvert": ["|"],
    r"\rvert": ["|"],
    r"\mid": ["|"],
    r"\|": ["|", "|"],
    r"\Vert": ["|", "|"],
    r"\parallel": ["|", "|"],
    r"\Pi": [r"\pi"],
    r"\dfrac": [r"\frac"],
    r"\tfrac": [r"\frac"],
    r"\varphi": [r"\phi"],
    r"\vartheta": [r"\theta"],
}

# Commands that vanish: spacing, sizing and style switches.
DROPPED = frozenset(
    {
        r"\,", r"\;", r"\:", r"\!", r"\ ", r"\quad", r"\qquad", r"\displaystyle", r"\textstyle",
        r"\scriptstyle", r"\left", r"\right", r"\big", r"\Big", r"\bigg", r"\Bigg", r"\bigl", r"\bigr",
        r"\Bigl", r"\Bigr", r"\biggl", r"\biggr", r"\Biggl", r"\Biggr", r"\middle",
        r"\limits", r"\nolimits",
    }
)

# Font / text wrappers: the argument is kept, the wrapper removed.
WRAPPERS = frozenset(
    {
        r"\mathrm", r"\mbox", r"\text", r"\textrm", r"\textit", r"\mathit", r"\mathbf", r"\mathsf",
        r"\mathnormal", r"\operatorname", r"\hbox", r"\textbf", r"\boldsymbol", r"\mathbb", r"\mathcal",
    }
)

# Words that are a single command when they appear inside a wrapper (`\mathrm{sin}` -> `\sin`).
FUNCTION_NAMES = frozenset({"sin", "cos", "tan", "log", "lim", "ln", "exp", "sec", "csc", "cot"})

# Number of mandatory arguments of the commands that take them.
ARITY = {r"\frac": 2, r"\sqrt": 1}

UNICODE = {
    "×": r"\times", "÷": r"\div", "·": r"\cdot", "⋅": r"\cdot", "≤": r"\leq", "≥": r"\geq",
    "≠": r"\neq", "±": r"\pm", "→": r"\rightarrow", "∞": r"\infty", "π": r"\pi", "−": "-",
    "–": "-", "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "θ": r"\theta", "λ": r"\lambda",
    "μ": r"\mu", "σ": r"\sigma", "φ": r"\phi", "Δ": r"\Delta", "∑": r"\sum", "∫": r"\int",
    "∈": r"\in", "∀": r"\forall", "∃": r"\exists", "…": r"\ldots", "′": r"\prime", "√": r"\sqrt",
}

# A function name typed as a word (`sin x`, `log(2)`) is the function. Spaced letters (`s i n`, the
# normalised form of other words) stay letters, which keeps `normalize` idempotent.
_FUNCTION_WORD = re.compile(r"(?<![a-zA-Z\\])(sin|cos|tan|log|lim)(?![a-zA-Z])")

_LEX = re.compile(
    r"(?P<cmd>\\[a-zA-Z]+)|(?P<esc>\\[^a-zA-Z])|(?P<word>\b(?:ABOVE|BELOW)\b)|(?P<space>\s+)|(?P<char>.)",
    re.S,
)


def lex(latex: str) -> list[str]:
    """Split raw LaTeX into tokens: commands, escaped characters, single characters."""
    out: list[str] = []
    for m in _LEX.finditer(latex):
        kind, text = m.lastgroup, m.group()
        if kind == "space":
            continue
        if kind == "char" and text in UNICODE:
            text = UNICODE[text]
        elif kind == "char" and text == "~":
            continue
        out.append(text)
    return out


# --- tree -------------------------------------------------------------------------------------


@dataclass
class Group:
    """A braced group `{ ... }`."""

    items: list[Node] = field(default_factory=list)


@dataclass
class Command:
    """A command with arguments: `\\frac {a} {b}`, `\\sqrt [n] {x}`."""

    name: str
    args: list[Group]
    optional: Group | None = None


@dataclass
class Script:
    """A sub- (`_`) or super-script (`^`) with its (always braced) argument."""

    op: str
    arg: Group


Node = str | Group | Command | Script

MISSING = Group([])  # sentinel: an argument that is not there


class _Parser:
    def __init__(self, tokens: list[str], strict: bool) -> None:
        self.toks = tokens
        self.pos = 0
        self.strict = strict

    def fail(self, message: str) -> None:
        if self.strict:
            raise NormalizationError(message)

    def peek(self) -> str | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def parse(self) -> list[Node]:
        items = self.sequence(depth=0, closer=None)
        return items

    def sequence(self, depth: int, closer: str | None) -> list[Node]:
        if depth > MAX_DEPTH:
            raise NormalizationError(f"nesting deeper than {MAX_DEPTH} levels")
        items: list[Node] = []
        while True:
            tok = self.peek()
            if tok is None:
                if closer is not None:
                    self.fail(f"missing '{closer}'")
                return items
            if tok == closer:
                self.pos += 1
                return items
            if tok == "}":
                # a '}' with no open group (closer is ']' or None)
                self.pos += 1
                if closer == "]":
                    self.fail("'}' inside [...] without '{'")
                    return items
                self.fail("unbalanced '}'")
                continue
            items.extend(self.element(depth))

    def group_or_atom(self, depth: int) -> Group:
        """The argument of a script or command: a group, or one element (braced on output)."""
        tok = self.peek()
        while tok is not None and tok in DROPPED:
            self.pos += 1
            tok = self.peek()
        if tok is None or tok in ("}", "]", "^", "_", "&"):
            return MISSING
        if tok == "{":
            self.pos += 1
            return Group(self.sequence(depth + 1, "}"))
        return Group(self.element(depth))

    def element(self, depth: int) -> list[Node]:
        """One element of a sequence (may expand to several nodes, or to none)."""
        tok = self.toks[self.pos]
        self.pos += 1
        if tok == "{":
            # a bare group: kept in the tree (see `_attach_arguments`), its braces dropped on output
            return [Group(self.sequence(depth + 1, "}"))]
        if tok in ("^", "_"):
            arg = self.group_or_atom(depth + 1)
            if arg is MISSING:
                self.fail(f"'{tok}' without an argument")
                arg = Group([])
            return [Script(tok, arg)]
        if tok in DROPPED:
            if tok in (r"\left", r"\right", r"\middle") and self.peek() == ".":
                self.pos += 1
            return []
        if tok in (r"\begin", r"\end"):
            self.group_or_atom(depth + 1)  # the environment name; rows stay separated by `\\`
            return []
        if tok in WRAPPERS:
            inner = self.group_or_atom(depth + 1).items
            word = "".join(x for x in inner if isinstance(x, str))
            if len(inner) == len(word) and word in FUNCTION_NAMES:
                return ["\\" + word]
            return inner
        if tok in SYNONYMS:
            mapped = SYNONYMS[tok]
            if mapped == [r"\frac"]:
                tok = r"\frac"
            else:
                return list(mapped)
        if tok in ARITY:
            optional = None
            if tok == r"\sqrt" and self.peek() == "[":
                self.pos += 1
                optional = Group(self.sequence(depth + 1, "]"))
            args = [self.group_or_atom(depth + 1) for _ in range(ARITY[tok])]
            args = [a for a in args if a is not MISSING]
            if tok == r"\sqrt" and optional is None and self.peek() == "ABOVE":
                # RIT ground truth writes the root index as `\sqrt {x} ABOVE {n}`
                self.pos += 1
                optional = self.group_or_atom(depth + 1)
            return [Command(tok, args, optional)]
        if tok in ("ABOVE", "BELOW"):
            return []
        if tok.startswith("\\") and tok[1:3] in ("lt", "gt") and tok[3:].isalpha() and tok[3:]:
            # `\ltN` (a known CROHME typo for `\lt N`)
            return ["<" if tok[1:3] == "lt" else ">", *tok[3:]]
        return [tok]


def _order_scripts(items: list[Node]) -> list[Node]:
    """Put a sub-script before a super-script that directly precedes it (`x^a_b` -> `x_b^a`)."""
    out = list(items)
    i = 0
    while i + 1 < len(out):
        a, b = out[i], out[i + 1]
        if isinstance(a, Script) and isinstance(b, Script) and a.op == "^" and b.op == "_":
            out[i], out[i + 1] = b, a
            i += 2
        else:
            i += 1
    return out


def _attach_arguments(items: list[Node], strict: bool) -> list[Node]:
    """Complete commands that lack arguments.

    CROHME has captions like `q ^ { \\frac } { 1 } { 2 }`: a command closing a script whose
    arguments follow the script as bare groups. Those groups become its arguments. Any other
    missing argument is an error, or (strict=False) an empty group.
    """
    out: list[Node] = []
    i = 0
    while i < len(items):
        node = items[i]
        i += 1
        if isinstance(node, Group):
            node = Group(_attach_arguments(node.items, strict))
        elif isinstance(node, Script):
            last = node.arg.items[-1] if node.arg.items else None
            if isinstance(last, Command):
                while len(last.args) < ARITY[last.name] and i < len(items) and isinstance(items[i], Group):
                    last.args.append(items[i])  # type: ignore[arg-type]
                    i += 1
            node = Script(node.op, Group(_attach_arguments(node.arg.items, strict)))
        elif isinstance(node, Command):
            args = [Group(_attach_arguments(a.items, strict)) for a in node.args]
            opt = node.optional
            if opt is not None:
                opt = Group(_attach_arguments(opt.items, strict))
            if len(args) < ARITY[node.name]:
                if strict:
                    raise NormalizationError(f"'{node.name}' without its argument")
                args += [Group([]) for _ in range(ARITY[node.name] - len(args))]
            node = Command(node.name, args, opt)
        out.append(node)
    return out


def _unbraced(items: list[Node]) -> list[Node]:
    """`items` with every bare group spliced in (CROHME captions do not keep these braces): done before the
    scripts are ordered, so that `{x^a}_b` is `x_b^a` as `x^a_b` is (else normalising twice differed)."""
    out: list[Node] = []
    for node in items:
        out.extend(_unbraced(node.items) if isinstance(node, Group) else [node])
    return out


def _emit(items: list[Node], out: list[str]) -> None:
    for node in _order_scripts(_unbraced(items)):
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, Script):
            if not node.arg.items:
                continue  # `x _ { }` renders as `x`
            out.extend([node.op, "{"])
            _emit(node.arg.items, out)
            out.append("}")
        else:
            out.append(node.name)
            if node.optional is not None:
                out.append("[")
                _emit(node.optional.items, out)
                out.append("]")
            for arg in node.args:
                out.append("{")
                _emit(arg.items, out)
                out.append("}")


def _function_command(m: re.Match[str]) -> str:
    return "\\" + m.group() + " "


def normalize_tokens(latex: str, strict: bool = True) -> list[str]:
    """`normalize`, as a list of tokens."""
    if len(latex) > MAX_INPUT_CHARS:
        raise NormalizationError(f"input longer than {MAX_INPUT_CHARS} characters")
    text = _FUNCTION_WORD.sub(_function_command, html.unescape(latex).replace("$", ""))
    tree = _attach_arguments(_Parser(lex(text), strict).parse(), strict)
    out: list[str] = []
    _emit(tree, out)
    return out


def normalize(latex: str, strict: bool = True) -> str:
    """Canonical CROHME form of `latex`: tokens separated by single spaces (see module doc)."""
    return " ".join(normalize_tokens(latex, strict))
