"""The vocabulary: the 110 tokens of the CROHME 2014/2016 captions, plus four specials."""

from __future__ import annotations

PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
SPECIAL_TOKENS = [PAD, SOS, EOS, UNK]  # ids 0, 1, 2, 3

CROHME_TOKENS = [
    # digits and Latin letters
    *"0123456789",
    *"abcdefghijklmnopqrstuvwxyz",
    *"ABCEFGHILMNPRSTVXY",
    # operators, relations, punctuation
    "+", "-", "=", "<", ">", "/", "|", "!", ",", ".", "'", "(", ")", "[", "]", "{", "}", "^", "_",
    r"\{", r"\}", r"\times", r"\div", r"\cdot", r"\pm", r"\leq", r"\geq", r"\neq", r"\rightarrow",
    r"\in", r"\forall", r"\exists", r"\ldots", r"\cdots", r"\prime", r"\infty",
    # structures and functions
    r"\frac", r"\sqrt", r"\sum", r"\int", r"\lim", r"\limits", r"\log", r"\sin", r"\cos", r"\tan",
    # Greek
    r"\alpha", r"\beta", r"\gamma", r"\theta", r"\lambda", r"\mu", r"\pi", r"\sigma", r"\phi",
    r"\Delta",
]

assert len(CROHME_TOKENS) == len(set(CROHME_TOKENS)) == 110, len(CROHME_TOKENS)
