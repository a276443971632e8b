"""The explanations of "check my working" in English and Dutch, with the maths written as plain text
(`3(x - 2)`, `x^2`, `√(2)`): a pupil reads them beside the line, without a LaTeX renderer."""

from __future__ import annotations

import re
from typing import Any

import sympy as sp

_TEXTS: dict[str, dict[str, str]] = {
    "same_expression": {"en": "Equal as expressions.", "nl": "Gelijk als uitdrukkingen."},
    "same_solutions": {
        "en": "Same solutions as the line before.",
        "nl": "Dezelfde oplossingen als de regel ervoor.",
    },
    "different_expression": {
        "en": "{old} is not equal to {new}: for {point} the first is {va} and the second {vb}.",
        "nl": "{old} is niet gelijk aan {new}: voor {point} is de eerste {va} en de tweede {vb}.",
    },
    "different_number": {
        "en": "{old} is {va}, not {vb}.",
        "nl": "{old} is {va}, niet {vb}.",
    },
    "expanded": {"en": " Worked out: {old} = {expanded}.", "nl": " Uitgewerkt: {old} = {expanded}."},
    "lost": {
        "en": "The line before has the solution {lost}; this line has lost it.",
        "nl": "De regel ervoor heeft de oplossing {lost}; deze regel is die kwijtgeraakt.",
    },
    "lost_many": {
        "en": "The line before has the solutions {lost}; this line has lost them.",
        "nl": "De regel ervoor heeft de oplossingen {lost}; deze regel is die kwijtgeraakt.",
    },
    "gained": {
        "en": "This line has the solution {gained}, which the line before does not have.",
        "nl": "Deze regel heeft de oplossing {gained}, die de regel ervoor niet heeft.",
    },
    "gained_many": {
        "en": "This line has the solutions {gained}, which the line before does not have.",
        "nl": "Deze regel heeft de oplossingen {gained}, die de regel ervoor niet heeft.",
    },
    "witness_before": {
        "en": "For {point} the line before is true, but this line is not.",
        "nl": "Voor {point} klopt de regel ervoor wel, maar deze regel niet.",
    },
    "witness_after": {
        "en": "For {point} this line is true, but the line before is not.",
        "nl": "Voor {point} klopt deze regel wel, maar de regel ervoor niet.",
    },
    "flip_sign": {
        "en": "Both sides were {act}, a negative number: then the inequality sign turns round ({op}).",
        "nl": "Beide kanten zijn {act}, een negatief getal: dan klapt het ongelijkheidsteken om ({op}).",
    },
    "flip_needless": {
        "en": "Both sides were {act}, a positive number: the inequality sign stays the same ({op}).",
        "nl": "Beide kanten zijn {act}, een positief getal: het ongelijkheidsteken blijft hetzelfde ({op}).",
    },
    "scaled_left": {
        "en": "The left side was {act}, but the right side was not. Do the same on both sides: {fixed}.",
        "nl": "De linkerkant is {act}, maar de rechterkant niet. Doe aan beide kanten hetzelfde: {fixed}.",
    },
    "scaled_right": {
        "en": "The right side was {act}, but the left side was not. Do the same on both sides: {fixed}.",
        "nl": "De rechterkant is {act}, maar de linkerkant niet. Doe aan beide kanten hetzelfde: {fixed}.",
    },
    "term_left_only": {
        "en": "On the left the term {term} was taken away, but the right side did not change. "
        "Do the same on both sides: {fixed}.",
        "nl": "Links is de term {term} weggehaald, maar rechts is niets veranderd. "
        "Doe aan beide kanten hetzelfde: {fixed}.",
    },
    "term_right_only": {
        "en": "On the right the term {term} was taken away, but the left side did not change. "
        "Do the same on both sides: {fixed}.",
        "nl": "Rechts is de term {term} weggehaald, maar links is niets veranderd. "
        "Doe aan beide kanten hetzelfde: {fixed}.",
    },
    "rewrote_left": {
        "en": "The left side {old} was written as {new}, but these are not equal.",
        "nl": "De linkerkant {old} is geschreven als {new}, maar die zijn niet gelijk.",
    },
    "rewrote_right": {
        "en": "The right side {old} was written as {new}, but these are not equal.",
        "nl": "De rechterkant {old} is geschreven als {new}, maar die zijn niet gelijk.",
    },
    "moved_sign": {
        "en": "On the left {add_l}, on the right {add_r}: a term that moves to the other side changes its "
        "sign. Correct: {fixed}.",
        "nl": "Links is {add_l}, rechts {add_r}: een term die naar de andere kant gaat, verandert van "
        "teken. Goed is: {fixed}.",
    },
    "changed_differently": {
        "en": "On the left {add_l}, on the right {add_r}: do the same on both sides.",
        "nl": "Links is {add_l}, rechts {add_r}: doe aan beide kanten hetzelfde.",
    },
    "rounded": {
        "en": "Rounded: the line before's solutions, rounded ({values}); write ≈ rather than =.",
        "nl": "Afgerond: de oplossingen van de regel ervoor, afgerond ({values}); schrijf ≈ in plaats van =.",
    },
    "unreadable": {
        "en": "Not checked: this line or the one before cannot be read as maths.",
        "nl": "Niet gecontroleerd: deze regel of de regel ervoor is niet als wiskunde te lezen.",
    },
    "different_kinds": {
        "en": "Not checked: one line is an equation or inequality and the other an expression.",
        "nl": "Niet gecontroleerd: de ene regel is een vergelijking of ongelijkheid, de andere een uitdrukking.",
    },
    "out_of_time": {
        "en": "Not checked: working this step out took longer than the time limit.",
        "nl": "Niet gecontroleerd: het narekenen van deze stap duurde langer dan de tijdsgrens.",
    },
    "undecided": {
        "en": "Not checked: the checker cannot decide whether this step is right.",
        "nl": "Niet gecontroleerd: de controle kan niet beslissen of deze stap klopt.",
    },
    "busy": {
        "en": "Not checked: the server is busy; try again in a moment.",
        "nl": "Niet gecontroleerd: de server is bezet; probeer het zo nog eens.",
    },
}
_OPS = {"<": "<", ">": ">", "<=": "≤", ">=": "≥", "=": "=", "!=": "≠"}
_ADDED = {"en": ("{v} was added", "{v} was subtracted"), "nl": ("{v} opgeteld", "{v} afgetrokken")}
_SCALED = {
    "en": ("multiplied by {v}", "divided by {v}"),
    "nl": ("vermenigvuldigd met {v}", "gedeeld door {v}"),
}


def fmt_value(v: Any, lang: str = "en", decimals: bool = False) -> str:
    """A SymPy value or expression as plain text: `3x - 6`, `x^2`, `√(2)`, `3/2`; with `decimals` (the pupil
    wrote decimals) a terminating fraction as a decimal, `1.5`; Dutch with a decimal comma, `1,5`."""
    if not isinstance(v, sp.Basic):
        return str(v)
    text = _plain(v, decimals)
    return re.sub(r"(\d)\.(\d)", r"\1,\2", text) if lang == "nl" else text


def _plain(v: sp.Basic, decimals: bool) -> str:
    if decimals and isinstance(v, sp.Rational) and not v.is_Integer:
        q, d = int(v.q), 0
        while d < 15 and (10**d) % q:
            d += 1
        if (10**d) % q == 0:
            digits = str(abs(int(v.p)) * (10**d // q)).rjust(d + 1, "0")
            return ("-" if v < 0 else "") + digits[:-d] + "." + digits[-d:]
    text = sp.sstr(v, order="grlex").replace("**", "^").replace("sqrt(", "√(").replace("exp(", "e^(")
    text = re.sub(r"\bpi\b", "π", re.sub(r"\boo\b", "∞", re.sub(r"\bE\b", "e", text)))
    return _TIMES.sub(_times, text)


_TIMES = re.compile(r"\*")


def _times(m: re.Match[str]) -> str:
    """`3*x` -> `3x`, `a*b` -> `ab`, `(a+b)*(a-b)` -> `(a+b)(a-b)`; `2*3` and `x^2*y` keep a dot."""
    before, after = m.string[: m.start()], m.string[m.end() :]
    if not after or not (after[0].isalpha() or after[0] in "(√") or re.search(r"\^[\w./]+$", before):
        return "·"
    return ""


def _scaled(k: Any, lang: str) -> str:
    k = sp.nsimplify(k)
    if isinstance(k, sp.Rational) and abs(k.p) == 1 and k.q > 1:
        return _SCALED[lang][1].format(v=fmt_value(sp.Rational(k.p * k.q, 1), lang))
    return _SCALED[lang][0].format(v=fmt_value(k, lang))


def _added(d: Any, lang: str) -> str:
    if isinstance(d, sp.Basic) and d.could_extract_minus_sign():
        return _ADDED[lang][1].format(v=fmt_value(-d, lang))
    return _ADDED[lang][0].format(v=fmt_value(d, lang))


def explain(code: str, lang: str, **params: Any) -> str:
    """The explanation `code` in `lang` ("en" or "nl"), its values written as plain text."""
    lang = lang if lang in ("en", "nl") else "en"
    if code == "lost_and_gained":
        parts = []
        for key in ("lost", "gained"):
            values = params[key]
            if values:
                parts.append(explain(key if len(values) == 1 else f"{key}_many", lang, **{key: values}))
        return " ".join(parts)
    if code in ("lost", "gained", "lost_many", "gained_many"):
        key = code.split("_")[0]
        joiner = " or " if lang == "en" else " of "
        return _TEXTS[code][lang].format(**{key: joiner.join(params[key])})
    if code == "different_expression" and not params.get("point"):
        code = "different_number"
    text_params: dict[str, str] = {}
    for key, value in params.items():
        if key == "k":
            text_params["act"] = _scaled(value, lang)
        elif key in ("k_l", "k_r"):
            text_params["act" + key[1:]] = _scaled(value, lang)
        elif key in ("d_l", "d_r"):
            text_params["add" + key[1:]] = _added(value, lang)
        elif key == "op":
            text_params[key] = _OPS.get(value, str(value))
        else:
            text_params[key] = value if isinstance(value, str) else fmt_value(value, lang)
    text = _TEXTS[code][lang].format(**text_params)
    if params.get("expanded") is not None and code in (
        "different_expression",
        "different_number",
        "rewrote_left",
        "rewrote_right",
    ):
        text += _TEXTS["expanded"][lang].format(old=text_params["old"], expanded=text_params["expanded"])
    return text
