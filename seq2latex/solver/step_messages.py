"""English and Dutch texts of the step-by-step solutions (`seq2latex.solver.steps`), beside `messages`,
and the caller's side of the steps (no SymPy here: this runs in the caller, like the lexer)."""

from __future__ import annotations

from seq2latex.solver.messages import LANGS

STEPS_SHARE = 0.8  # a job's steps must be done by this share of the solver's time limit (worker clock)


def steps_budget(timeout_s: float) -> float:
    """Seconds from the start of a job by which its steps must be done, given the solver's time limit."""
    return STEPS_SHARE * timeout_s


STEP_MESSAGES: dict[str, dict[str, str]] = {
    # the first step
    "start_equation": {"en": "The equation", "nl": "De vergelijking"},
    "start_inequality": {"en": "The inequality", "nl": "De ongelijkheid"},
    "start_system": {"en": "The system of equations", "nl": "Het stelsel vergelijkingen"},
    # linear equations and inequalities
    "lcd": {
        "en": "Multiply both sides by {n}, the least common denominator",
        "nl": "Vermenigvuldig beide kanten met {n}, het kgv van de noemers",
    },
    "expand": {"en": "Expand the brackets", "nl": "Werk de haakjes weg"},
    "move": {
        "en": "Bring the terms with {x} to the left and the numbers to the right",
        "nl": "Breng de termen met {x} naar links en de getallen naar rechts",
    },
    "combine": {"en": "Combine like terms", "nl": "Tel gelijksoortige termen op"},
    "divide": {"en": "Divide both sides by {n}", "nl": "Deel beide kanten door {n}"},
    "negate": {"en": "Multiply both sides by −1", "nl": "Vermenigvuldig beide kanten met −1"},
    "divide_keep": {
        "en": "Divide both sides by {n}; it is positive, so the inequality sign stays {op}",
        "nl": "Deel beide kanten door {n}; dat is positief, dus het ongelijkheidsteken blijft {op}",
    },
    "divide_flip": {
        "en": "Divide both sides by {n}; dividing by a negative number flips the inequality sign: {op} becomes {new}",
        "nl": "Deel beide kanten door {n}; bij delen door een negatief getal klapt het ongelijkheidsteken om: "
        "{op} wordt {new}",
    },
    "never": {"en": "This is never true: no solution", "nl": "Dit klopt nooit: geen oplossing"},
    "always": {
        "en": "This is always true: every number is a solution",
        "nl": "Dit klopt altijd: elk getal is een oplossing",
    },
    # quadratic equations
    "standard_form": {
        "en": "Bring all terms to the left: the form ax² + bx + c = 0",
        "nl": "Herleid op 0: alle termen naar links, de vorm ax² + bx + c = 0",
    },
    "move_square": {
        "en": "Bring the terms with {x}² to the left and the numbers to the right",
        "nl": "Breng de termen met {x}² naar links en de getallen naar rechts",
    },
    "square_root": {
        "en": "Take the square root: {x}² = c gives {x} = √c or {x} = −√c",
        "nl": "Worteltrekken: {x}² = c geeft {x} = √c ∨ {x} = −√c",
    },
    "square_zero": {"en": "{x}² = 0 only when {x} = 0", "nl": "{x}² = 0 alleen als {x} = 0"},
    "square_negative": {
        "en": "A square is never negative: no solution",
        "nl": "Een kwadraat is nooit negatief: geen oplossing",
    },
    "factor_out": {"en": "Take {x} out as a common factor", "nl": "Haal {x} buiten haakjes"},
    "zero_product": {
        "en": "A product is 0 when one of its factors is 0",
        "nl": "Een product is 0 als een van de factoren 0 is: A · B = 0 geeft A = 0 ∨ B = 0",
    },
    "square_base_zero": {
        "en": "A square is 0 only when the number squared is 0",
        "nl": "Een kwadraat is alleen 0 als het grondtal 0 is",
    },
    "solve_each": {"en": "Solve each equation", "nl": "Los elke vergelijking op"},
    "monic": {
        "en": "Divide both sides by {n}, so that {x}² has coefficient 1",
        "nl": "Deel beide kanten door {n}, zodat er 1{x}² staat",
    },
    "product_sum": {
        "en": "Factor (product–sum): two numbers with product {q} and sum {p} are {r} and {s}",
        "nl": "Ontbinden met de som-productmethode: twee getallen met product {q} en som {p} zijn {r} en {s}",
    },
    "product_sum_double": {
        "en": "Factor (product–sum): {r} · {r} = {q} and {r} + {r} = {p}",
        "nl": "Ontbinden met de som-productmethode: {r} · {r} = {q} en {r} + {r} = {p}",
    },
    "discriminant": {
        "en": "Quadratic formula with a = {a}, b = {b}, c = {c}: first the discriminant D = b² − 4ac",
        "nl": "abc-formule met a = {a}, b = {b} en c = {c}: eerst de discriminant D = b² − 4ac",
    },
    "discriminant_negative": {
        "en": "Quadratic formula with a = {a}, b = {b}, c = {c}: the discriminant D = b² − 4ac is negative, "
        "so there is no solution",
        "nl": "abc-formule met a = {a}, b = {b} en c = {c}: de discriminant D = b² − 4ac is negatief, "
        "dus er is geen oplossing",
    },
    "formula": {
        "en": "{x} = (−b − √D) / 2a or {x} = (−b + √D) / 2a",
        "nl": "{x} = (−b − √D) / 2a ∨ {x} = (−b + √D) / 2a",
    },
    "formula_zero": {
        "en": "D = 0, so there is one solution: {x} = −b / 2a",
        "nl": "D = 0, dus er is één oplossing: {x} = −b / 2a",
    },
    "simplify": {"en": "Simplify", "nl": "Vereenvoudig"},
    "rationalise": {
        "en": "Multiply numerator and denominator by {m}: no root left in the denominator",
        "nl": "Vermenigvuldig teller en noemer met {m}: zo staat er geen wortel meer in de noemer",
    },
    # systems
    "system_form": {
        "en": "Write both equations in the form a{x} + b{y} = c",
        "nl": "Schrijf beide vergelijkingen in de vorm a{x} + b{y} = c",
    },
    "system_lcd": {
        "en": "Multiply each equation by the least common denominator of its fractions",
        "nl": "Vermenigvuldig elke vergelijking met het kgv van haar noemers",
    },
    "isolate": {
        "en": "Express {v} in {w} with equation {i}",
        "nl": "Maak {v} vrij uit vergelijking {i}",
    },
    "substitute": {
        "en": "Substitution: put this expression for {v} into the other equation",
        "nl": "Substitutie: vul dit voor {v} in bij de andere vergelijking",
    },
    "solve_for": {"en": "Solve this equation for {v}", "nl": "Los deze vergelijking op naar {v}"},
    "back_substitute": {
        "en": "Put {w} = {value} into {v} = {expr}",
        "nl": "Vul {w} = {value} in bij {v} = {expr}",
    },
    "multiply_equations": {
        "en": "Elimination: multiply the first equation by {m1} and the second by {m2}",
        "nl": "Eliminatie: vermenigvuldig de eerste vergelijking met {m1} en de tweede met {m2}",
    },
    "add_equations": {
        "en": "Add the two equations: {v} drops out",
        "nl": "Tel de twee vergelijkingen op: {v} valt weg",
    },
    "subtract_equations": {
        "en": "Subtract the first equation from the second: {v} drops out",
        "nl": "Trek de eerste vergelijking van de tweede af: {v} valt weg",
    },
    "put_in_first": {
        "en": "Put {w} = {value} into the first equation",
        "nl": "Vul {w} = {value} in bij de eerste vergelijking",
    },
    # why there are no steps
    "reason_unsupported": {
        "en": "Steps are given for linear and quadratic equations, systems of two linear equations and "
        "linear inequalities in one unknown",
        "nl": "Stappen zijn er voor lineaire en kwadratische vergelijkingen, stelsels van twee lineaire "
        "vergelijkingen en lineaire ongelijkheden met één onbekende",
    },
    "reason_system": {
        "en": "Steps are given only for a system of two linear equations with exactly one solution",
        "nl": "Stappen zijn er alleen voor een stelsel van twee lineaire vergelijkingen met precies één oplossing",
    },
    "reason_unverified": {
        "en": "A step could not be checked, so no steps are shown",
        "nl": "Een stap kon niet gecontroleerd worden, dus er worden geen stappen getoond",
    },
    "reason_time": {
        "en": "Working out the steps took too long",
        "nl": "Het uitwerken van de stappen duurde te lang",
    },
    "reason_solved": {
        "en": "Already solved: the unknown stands alone on the left and a number on the right, so there is "
        "nothing to work out",
        "nl": "Al opgelost: links staat alleen de onbekende en rechts een getal, dus er valt niets uit te werken",
    },
    "reason_error": {
        "en": "No steps: the input could not be solved",
        "nl": "Geen stappen: de invoer kon niet opgelost worden",
    },
}


def step_text(key: str, lang: str, **fields: object) -> str:
    """The step text `key` in `lang` (English when the language is unknown), with fields filled in."""
    lang = lang if lang in LANGS else "en"
    return STEP_MESSAGES[key][lang].format(**fields)


def no_steps(lang: str) -> dict[str, object]:
    """The steps part of a result that could not be solved."""
    return {"steps": None, "steps_reason": step_text("reason_error", lang)}
