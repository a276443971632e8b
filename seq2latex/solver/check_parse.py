"""One line of a pupil's working, read for checking: an expression, or relations joined by "or" / "and".

Runs in the caller (no SymPy): the lines are tokenized and parsed here, so that a line the solver cannot read
is reported at once, and only parsed trees travel to the worker (`seq2latex.solver.check_engine`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from seq2latex.solver.lexer import SolverInputError, tokenize
from seq2latex.solver.parser import Node, parse

MAX_DISJUNCTS = 8  # "x = 1 or x = 2 or ..." parts of one line

# "or" between relations: \vee, \lor, the Unicode sign, a \text{or}/\text{of} word, or the bare word
_OR = re.compile(
    r"\\vee(?![a-zA-Z])|\\lor(?![a-zA-Z])|\u2228"
    r"|\\(?:text|mathrm|textrm|mbox)\s*\{\s*(?:or|of|OR|OF)\s*\}"
    r"|(?<![a-zA-Z\\])o\s*[rf](?![a-zA-Z])"  # "or", "of", and a reading's spaced tokens "o f"
)
_AND = re.compile(
    r"\\wedge(?![a-zA-Z])|\\land(?![a-zA-Z])|\u2227"
    r"|\\(?:text|mathrm|textrm|mbox)\s*\{\s*(?:and|en)\s*\}"
    r"|(?<![a-zA-Z\\])(?:a\s*n\s*d|e\s*n)(?![a-zA-Z])"
)
_SPACING = re.compile(r"\\(?:quad|qquad|,|;|:|!)|~")


@dataclass
class CheckLine:
    """A line as the checker sees it.

    kind: "relations" (equations, inequalities, systems: `disjuncts` is a list of conjunctions, each a list of
    relation chains), "expression" (`expr`; `continued` when the line starts with "=", as in a pupil's
    "= a^2 + 2ab + b^2" under the line before), or "error" (`error_code`, `error_detail`: unreadable).
    """

    kind: str
    disjuncts: list[list[Node]] = field(default_factory=list)
    expr: Node | None = None
    continued: bool = False
    error_code: str = ""
    error_detail: str = ""


def _parts(text: str, pattern: re.Pattern[str]) -> list[str]:
    """`text` split at `pattern` where the match is outside braces (so `\\frac{a}{b}` is never cut)."""
    parts: list[str] = []
    depth = 0
    start = 0
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and pos + 1 < len(text) and text[pos + 1] in "{}":
            pos += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0:
            m = pattern.match(text, pos)
            if m and m.end() > pos:
                parts.append(text[start:pos])
                start = pos = m.end()
                continue
        pos += 1
    parts.append(text[start:])
    return [p for p in (p.strip().strip(",;").strip() for p in parts)]


def _is_assignment(node: Node) -> str | None:
    """The letter of `x = <number>` (either way round), else None."""
    if node.op != "chain" or node.text != "=" or len(node.args) != 2:
        return None
    for var, value in (node.args, node.args[::-1]):
        if var.op == "sym" and not _mentions_symbol(value):
            return var.text
    return None


def _mentions_symbol(node: Node) -> bool:
    return node.op == "sym" or any(_mentions_symbol(a) for a in node.args)


def _relations(nodes: list[Node]) -> bool:
    return all(n.op == "chain" and n.text != "trailing=" for n in nodes)


def read_line(latex: str, lang: str = "en") -> CheckLine:
    """Parse one line; never raises (an unreadable line is kind "error")."""
    text = _SPACING.sub(" ", latex).strip()
    if text.startswith("="):
        text = text[1:].strip()
        continued = True
    else:
        continued = False
    try:
        pieces = _parts(text, _OR)
        if any(not p for p in pieces):
            raise SolverInputError("parse", "'or' without a relation on both sides")
        if len(pieces) > MAX_DISJUNCTS:
            raise SolverInputError("unsupported", f"more than {MAX_DISJUNCTS} parts joined by 'or'")
        disjuncts: list[list[Node]] = []
        for piece in pieces:
            nodes: list[Node] = []
            for part in _parts(piece, _AND):
                if not part:
                    raise SolverInputError("parse", "'and' without a relation on both sides")
                nodes.extend(parse(tokenize(part), lang))
            disjuncts.append(nodes)
    except SolverInputError as exc:
        return CheckLine("error", error_code=exc.code, error_detail=exc.detail)
    except RecursionError:
        return CheckLine("error", error_code="nesting")
    if len(disjuncts) == 1 and len(disjuncts[0]) == 1 and not _relations(disjuncts[0]):
        if disjuncts[0][0].op == "chain":  # "x + 1 =": an equation without its right side
            return CheckLine("error", error_code="parse", error_detail="missing expression")
        return CheckLine("expression", expr=disjuncts[0][0], continued=continued)
    if continued or not all(_relations(d) for d in disjuncts):
        return CheckLine("error", error_code="parse", error_detail="a relation mixed with an expression")
    # "x = -3, x = 3" (a pupil's answer, one letter given several values) means "or", not a system
    if len(disjuncts) == 1 and len(disjuncts[0]) > 1:
        letters = {_is_assignment(n) for n in disjuncts[0]}
        if len(letters) == 1 and None not in letters:
            disjuncts = [[n] for n in disjuncts[0]]
    return CheckLine("relations", disjuncts=disjuncts)
