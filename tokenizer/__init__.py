"""Custom LaTeX tokenizer: canonical CROHME normalisation and a HF `tokenizers` vocabulary."""

from tokenizer.compact import compact
from tokenizer.latex_tokenizer import LatexTokenizer, build_hf_tokenizer
from tokenizer.normalize import NormalizationError, normalize, normalize_tokens

__all__ = ["LatexTokenizer", "compact", "NormalizationError", "build_hf_tokenizer", "normalize", "normalize_tokens"]
