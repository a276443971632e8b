"""The model's spaced CROHME tokens as a person types LaTeX: `z ^ { 3 } + 2 = z` -> `z^3+2=z`.

`normalize(compact(t)) == t` for every canonical token string `t`, so the compact form can be edited
and sent back (the solver and `normalize` read it the same way)."""

from __future__ import annotations

import re

from tokenizer.normalize import NormalizationError, normalize

_COMMAND = re.compile(r"\\[A-Za-z]+$")


def compact(latex: str) -> str:
    """Spaced tokens -> typed-style LaTeX: no spaces but after a command word, `^{3}` -> `^3`."""
    typed = _join(latex.split(), letter_gap=False)
    try:
        same = normalize(typed) == normalize(latex)
    except NormalizationError:
        same = False
    # letters that would spell a function word (`t a n` -> `tan` -> \tan) stay apart
    return typed if same else _join(latex.split(), letter_gap=True)


def _join(toks: list[str], letter_gap: bool) -> str:
    out: list[str] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if (
            tok in ("^", "_")
            and i + 3 < len(toks)
            and toks[i + 1] == "{"
            and toks[i + 3] == "}"
            and len(toks[i + 2]) == 1
            and toks[i + 2].isalnum()
        ):
            out.append(tok + toks[i + 2])  # a one-character script needs no braces
            i += 4
            continue
        if out and tok[0].isalpha() and (_COMMAND.search(out[-1]) or (letter_gap and out[-1][-1].isalpha())):
            out.append(" ")  # `\sin x`, not `\sinx`
        out.append(tok)
        i += 1
    return "".join(out)
