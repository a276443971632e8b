"""Unit tests for each normalisation rule, and properties (idempotence, round trip)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer import LatexTokenizer, NormalizationError, normalize
from tokenizer.vocab import CROHME_TOKENS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # digits split
        ("12", "1 2"),
        ("3.14", "3 . 1 4"),
        # every script and command argument braced
        ("x^2", "x ^ { 2 }"),
        ("x^23", "x ^ { 2 } 3"),
        ("x_i^2", "x _ { i } ^ { 2 }"),
        ("x^\\alpha", "x ^ { \\alpha }"),
        ("\\frac12", "\\frac { 1 } { 2 }"),
        ("\\frac 1 {a+b}", "\\frac { 1 } { a + b }"),
        ("\\sqrt x", "\\sqrt { x }"),
        ("e^{\\frac12}", "e ^ { \\frac { 1 } { 2 } }"),
        # sub-script before super-script
        ("x^2_1", "x _ { 1 } ^ { 2 }"),
        ("\\int^{b}_{a}", "\\int _ { a } ^ { b }"),
        # < and >
        ("a \\lt b \\gt c", "a < b > c"),
        ("M\\ltN", "M < N"),
        # \left( ... \right)
        ("\\left( x \\right)", "( x )"),
        ("\\left\\{ x \\right.", "\\{ x"),
        ("\\Bigg( x \\Bigg)", "( x )"),
        # synonyms
        ("x \\to 0", "x \\rightarrow 0"),
        ("a \\le b \\ge c \\ne d", "a \\leq b \\geq c \\neq d"),
        ("\\lbrack x \\rbrack", "[ x ]"),
        ("\\dfrac{a}{b}", "\\frac { a } { b }"),
        # $ delimiters, spacing commands, wrappers
        ("$x$", "x"),
        ("a\\,b\\!c\\;d\\quad e", "a b c d e"),
        ("\\mathrm{d}x", "d x"),
        ("\\mbox{ rot }", "r o t"),
        ("\\mathrm{sin} x", "\\sin x"),
        ("I_\\mathrm{S}", "I _ { S }"),
        # function names written as letters
        ("log(x)", "\\log ( x )"),
        ("l o g 5", "l o g 5"),
        ("cos x + costs", "\\cos x + c o s t s"),
        # \sqrt with index, also RIT's ABOVE form
        ("\\sqrt[3]{x}", "\\sqrt [ 3 ] { x }"),
        ("\\sqrt {x} ABOVE {n}", "\\sqrt [ n ] { x }"),
        # HTML entities
        ("a &lt; b &gt; c", "a < b > c"),
        ("x &amp;", "x &"),
        # \limits and empty scripts vanish; bare groups lose their braces
        ("\\sum\\limits_{i=1}^{n}", "\\sum _ { i = 1 } ^ { n }"),
        ("x_{}^{2}", "x ^ { 2 }"),
        ("{a+b}", "a + b"),
        # a command closing a script takes the groups that follow (a CROHME caption quirk)
        ("q ^ { \\frac } { 1 } { 2 }", "q ^ { \\frac { 1 } { 2 } }"),
        # environments: the name vanishes, `\\` separates the rows, `&` stays
        ("\\begin{cases} x=1 \\\\ y=2 \\end{cases}", "x = 1 \\\\ y = 2"),
        # Unicode symbols
        ("2×3 ≤ 7", "2 \\times 3 \\leq 7"),
        ("", ""),
    ],
)
def test_rules(raw: str, expected: str) -> None:
    assert normalize(raw) == expected
    assert normalize(expected) == expected


@pytest.mark.parametrize("bad", ["{x", "x}", "\\frac{1}", "x^", "\\sqrt", "x_"])
def test_strict_rejects_broken_structure(bad: str) -> None:
    with pytest.raises(NormalizationError):
        normalize(bad)


@pytest.mark.parametrize(
    ("bad", "repaired"),
    [
        ("{x", "x"),
        ("x}", "x"),
        ("x ^ { 2", "x ^ { 2 }"),
        ("\\frac { 1 }", "\\frac { 1 } { }"),
        ("\\sqrt [ 3", "\\sqrt [ 3 ] { }"),
        ("x ^", "x"),
    ],
)
def test_lenient_repairs(bad: str, repaired: str) -> None:
    assert normalize(bad, strict=False) == repaired


def test_limits_guard_size_and_depth() -> None:
    with pytest.raises(NormalizationError, match="longer"):
        normalize("x" * 20_001)
    with pytest.raises(NormalizationError, match="nesting"):
        normalize("{" * 500 + "x" + "}" * 500)
    # deep but acceptable nesting works
    assert normalize("\\frac{" * 50 + "1" + "}{2}" * 50).count("\\frac") == 50


def test_a_braced_script_is_ordered_as_if_unbraced() -> None:
    # found by the idempotence property below: `{0^{0}}_{0}` gave `0 ^ { 0 } _ { 0 }`, which normalises again
    # to `0 _ { 0 } ^ { 0 }`
    for latex in ("{0^{0}}_{0}", "{0^{0}}_{0}^{0}", "{{x^{a}}_{b}}", "0^{0}{}_{0}"):
        once = normalize(latex)
        assert normalize(once) == once, latex
    assert normalize("{0^{0}}_{0}") == normalize("0^{0}_{0}") == "0 _ { 0 } ^ { 0 }"


# --- properties --------------------------------------------------------------------------------

_ATOMS = [t for t in CROHME_TOKENS if t not in {"{", "}", "^", "_", "\\frac", "\\sqrt", "\\limits"}]


def _expressions() -> st.SearchStrategy[str]:
    atom = st.sampled_from(_ATOMS)
    index = st.text(alphabet="0123456789nmk", min_size=1, max_size=2)  # `]` cannot occur in a root index

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        seq = st.lists(inner, min_size=1, max_size=3).map(" ".join)
        return st.one_of(
            st.tuples(inner, st.sampled_from(["^", "_"]), seq).map(lambda t: f"{t[0]}{t[1]}{{{t[2]}}}"),
            st.tuples(seq, seq).map(lambda t: f"\\frac{{{t[0]}}}{{{t[1]}}}"),
            seq.map(lambda s: f"\\sqrt{{{s}}}"),
            st.tuples(index, seq).map(lambda t: f"\\sqrt[{t[0]}]{{{t[1]}}}"),
            seq.map(lambda s: f"\\left( {s} \\right)"),
            seq,
        )

    return st.recursive(atom, extend, max_leaves=8)


_TOKENIZER = LatexTokenizer.load()


@settings(max_examples=300, deadline=None)
@given(_expressions())
def test_idempotent_and_round_trip(expr: str) -> None:
    norm = normalize(expr)
    assert normalize(norm) == norm
    ids = _TOKENIZER.encode(expr)
    assert _TOKENIZER.unk_id not in ids
    assert _TOKENIZER.decode(ids) == norm


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*CROHME_TOKENS, "\\left", "\\right", "$", "  "]), max_size=40))
def test_lenient_is_idempotent_and_balanced_on_any_token_soup(tokens: list[str]) -> None:
    out = normalize(" ".join(tokens), strict=False)
    assert normalize(out) == out  # the repaired form is valid strict LaTeX
    assert out.split().count("{") == out.split().count("}")
