"""Custom LaTeX tokenizer: canonical CROHME normalisation and a HF `tokenizers` vocabulary."""

from tokenizer.latex_tokenizer import LatexTokenizer, build_hf_tokenizer
from tokenizer.normalize import NormalizationError, normalize, normalize_tokens

__all__ = ["LatexTokenizer", "NormalizationError", "build_hf_tokenizer", "normalize", "normalize_tokens"]
