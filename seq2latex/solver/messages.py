"""Result and error messages in English and Dutch."""

from __future__ import annotations

LANGS = ("en", "nl")

_NUMBERS = {
    "en": {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five"},
    "nl": {1: "Eén", 2: "Twee", 3: "Drie", 4: "Vier", 5: "Vijf"},
}

MESSAGES: dict[str, dict[str, str]] = {
    "real_solutions": {"en": "{n} real solutions", "nl": "{n} reële oplossingen"},
    "real_solution_1": {"en": "One real solution", "nl": "Eén reële oplossing"},
    "numerically": {"en": " (found numerically, approximate)", "nl": " (numeriek benaderd)"},
    "no_real_solution": {"en": "No real solution", "nl": "Geen reële oplossing"},
    "contradiction": {
        "en": "No solution: the equation is never true",
        "nl": "Geen oplossing: de vergelijking klopt nooit",
    },
    "identity": {
        "en": "Every real number is a solution",
        "nl": "Elk reëel getal is een oplossing",
    },
    "identity_all": {
        "en": "The equation holds for all values (identity)",
        "nl": "De vergelijking klopt voor alle waarden (identiteit)",
    },
    "identity_except": {
        "en": "Every real number except {points} is a solution",
        "nl": "Elk reëel getal behalve {points} is een oplossing",
    },
    "infinite": {"en": "Infinitely many solutions", "nl": "Oneindig veel oplossingen"},
    "periodic": {
        "en": "Infinitely many solutions (k is any integer)",
        "nl": "Oneindig veel oplossingen (k is een willekeurig geheel getal)",
    },
    "solved_for": {"en": "Solved for {var}", "nl": "Opgelost naar {var}"},
    "solved_for_none": {
        "en": "No solution for {var}",
        "nl": "Geen oplossing voor {var}",
    },
    "no_closed_form": {
        "en": "No exact formula for {var} in terms of {params}: fill in a value for {params} to get "
        "numeric roots",
        "nl": "Geen exacte formule voor {var} in termen van {params}: vul een waarde in voor {params} "
        "voor numerieke oplossingen",
    },
    "true": {"en": "The statement is true", "nl": "De bewering klopt"},
    "false": {"en": "The statement is false", "nl": "De bewering klopt niet"},
    "ineq_set": {"en": "Solution set of the inequality", "nl": "Oplossingsverzameling van de ongelijkheid"},
    "one_period": {"en": " (within one period)", "nl": " (binnen één periode)"},
    "ineq_none": {"en": "The inequality has no solution", "nl": "De ongelijkheid heeft geen oplossing"},
    "ineq_all": {
        "en": "Every real number satisfies the inequality",
        "nl": "Elk reëel getal voldoet aan de ongelijkheid",
    },
    "system_one": {"en": "The system has one solution", "nl": "Het stelsel heeft één oplossing"},
    "system_many": {"en": "The system has {n} solutions", "nl": "Het stelsel heeft {n} oplossingen"},
    "system_none": {"en": "The system has no solution", "nl": "Het stelsel heeft geen oplossing"},
    "system_infinite": {
        "en": "The system has infinitely many solutions",
        "nl": "Het stelsel heeft oneindig veel oplossingen",
    },
    "value": {"en": "Exact value", "nl": "Exacte waarde"},
    "simplified": {"en": "Simplified", "nl": "Vereenvoudigd"},
    "factored": {"en": "Factored", "nl": "Ontbonden in factoren"},
    "expanded": {"en": "Expanded", "nl": "Haakjes weggewerkt"},
    "derivative": {"en": "Derivative", "nl": "Afgeleide"},
    "integral": {"en": "Integral", "nl": "Integraal"},
    "antiderivative": {"en": "Antiderivative (plus a constant C)", "nl": "Primitieve (plus een constante C)"},
    "limit": {"en": "Limit", "nl": "Limiet"},
    "no_limit": {"en": "The limit does not exist", "nl": "De limiet bestaat niet"},
    "sum": {"en": "Sum", "nl": "Som"},
    "product": {"en": "Product", "nl": "Product"},
    "undefined": {"en": "The expression is undefined", "nl": "De uitdrukking is niet gedefinieerd"},
    # errors
    "empty": {"en": "Empty input: nothing to solve", "nl": "Lege invoer: er valt niets op te lossen"},
    "unbalanced": {
        "en": "Unbalanced braces or brackets in the LaTeX",
        "nl": "Haakjes in de LaTeX zijn niet in balans",
    },
    "too_long": {
        "en": "The input is too long (at most {limit} characters)",
        "nl": "De invoer is te lang (hoogstens {limit} tekens)",
    },
    "too_big": {
        "en": "The input is too large to solve safely",
        "nl": "De invoer is te groot om veilig op te lossen",
    },
    "nesting": {"en": "The input is nested too deeply", "nl": "De invoer is te diep genest"},
    "exponent": {
        "en": "An exponent is too large (at most {limit})",
        "nl": "Een exponent is te groot (hoogstens {limit})",
    },
    "div_zero": {"en": "Division by zero", "nl": "Delen door nul"},
    "tower": {"en": "Too many powers stacked on each other", "nl": "Te veel machten op elkaar gestapeld"},
    "number": {"en": "A number in the input is too large", "nl": "Een getal in de invoer is te groot"},
    "parse": {"en": "Could not read the input: {detail}", "nl": "Kon de invoer niet lezen: {detail}"},
    "decimal_comma": {
        "en": "A comma between numbers separates equations in English: write a decimal point (2.25), "
        "or use lang 'nl' for a decimal comma",
        "nl": "Een komma tussen getallen scheidt hier vergelijkingen: schrijf een decimale punt (2.25)",
    },
    "unsupported": {"en": "Not supported: {detail}", "nl": "Niet ondersteund: {detail}"},
    "normalize": {"en": "Could not read the LaTeX: {detail}", "nl": "Kon de LaTeX niet lezen: {detail}"},
    "timeout": {
        "en": "No answer within the time limit of {limit} s",
        "nl": "Geen antwoord binnen de tijdslimiet van {limit} s",
    },
    "busy": {
        "en": "The solver is busy with other requests: try again in a few seconds",
        "nl": "De oplosser is bezig met andere verzoeken: probeer het over een paar seconden opnieuw",
    },
    "mixed": {
        "en": "Equations and inequalities cannot be mixed",
        "nl": "Vergelijkingen en ongelijkheden kunnen niet gemengd worden",
    },
    "ineq_vars": {
        "en": "Only inequalities in one unknown are supported",
        "nl": "Alleen ongelijkheden met één onbekende worden ondersteund",
    },
    "cannot_solve": {"en": "Could not solve this: {detail}", "nl": "Kan dit niet oplossen: {detail}"},
    "not_real": {"en": "The result is not a real number", "nl": "De uitkomst is geen reëel getal"},
    "internal": {"en": "Internal solver error: {detail}", "nl": "Interne fout van de oplosser: {detail}"},
}


def message(key: str, lang: str, **fields: object) -> str:
    """The message `key` in `lang` (English when the language is unknown), with fields filled in."""
    lang = lang if lang in LANGS else "en"
    if key == "real_solutions":
        n = int(fields.get("n", 0))  # type: ignore[call-overload]
        if n == 1:
            return MESSAGES["real_solution_1"][lang]
        fields["n"] = _NUMBERS[lang].get(n, str(n))
    text = MESSAGES.get(key, MESSAGES["internal"])[lang]
    try:
        return text.format(**fields)
    except (KeyError, IndexError):
        return text
