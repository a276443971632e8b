"""`LatexTokenizer`: normalised LaTeX <-> token ids, backed by a HF `tokenizers` WordLevel model."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from tokenizers.processors import TemplateProcessing

from tokenizer.normalize import NormalizationError, normalize, normalize_tokens
from tokenizer.vocab import CROHME_TOKENS, EOS, PAD, SOS, SPECIAL_TOKENS, UNK

TOKENIZER_FILE = "tokenizer.json"

# One LaTeX token: a command, an escaped character, or any other single character.
_TOKEN_PATTERN = r"\\[a-zA-Z]+|\\[^a-zA-Z]|."


def build_hf_tokenizer(tokens: Sequence[str] = CROHME_TOKENS) -> Tokenizer:
    """The HF tokenizer: WordLevel over specials + `tokens`, LaTeX-aware pre-tokenizer, <sos>/<eos>.

    On its own (e.g. through `transformers.PreTrainedTokenizerFast`) it splits any LaTeX into
    commands and single characters; `LatexTokenizer` first applies the full `normalize`.
    """
    vocab = {tok: i for i, tok in enumerate([*SPECIAL_TOKENS, *tokens])}
    tok = Tokenizer(WordLevel(vocab, unk_token=UNK))
    tok.normalizer = normalizers.Sequence([normalizers.Replace("$", ""), normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Split(Regex(_TOKEN_PATTERN), behavior="isolated"),
        ]
    )
    tok.post_processor = TemplateProcessing(
        single=f"{SOS} $A {EOS}",
        special_tokens=[(SOS, vocab[SOS]), (EOS, vocab[EOS])],
    )
    tok.add_special_tokens(SPECIAL_TOKENS)
    return tok


class LatexTokenizer:
    """Normalised CROHME LaTeX <-> ids.

    >>> tok = LatexTokenizer.load()
    >>> tok.decode(tok.encode("x^2 = 1"))
    'x ^ { 2 } = 1'
    """

    def __init__(self, hf_tokenizer: Tokenizer) -> None:
        self.hf = hf_tokenizer
        self.pad_id = self._require(PAD)
        self.sos_id = self._require(SOS)
        self.eos_id = self._require(EOS)
        self.unk_id = self._require(UNK)
        self._special_ids = frozenset(self.hf.token_to_id(t) for t in SPECIAL_TOKENS)

    def _require(self, token: str) -> int:
        idx = self.hf.token_to_id(token)
        if idx is None:
            raise ValueError(f"tokenizer has no {token} token")
        return idx

    @classmethod
    def load(cls, path: str | Path | None = None) -> LatexTokenizer:
        """Load a `tokenizer.json` (a file, or a directory holding one); None = the shipped vocabulary."""
        if path is None:
            with resources.as_file(resources.files("tokenizer") / TOKENIZER_FILE) as shipped:
                return cls(Tokenizer.from_file(str(shipped)))
        path = Path(path)
        if path.is_dir():
            path = path / TOKENIZER_FILE
        return cls(Tokenizer.from_file(str(path)))

    def save(self, path: str | Path) -> Path:
        """Write `tokenizer.json` (to `path`, or into it if it is a directory); returns the file."""
        path = Path(path)
        if path.is_dir():
            path = path / TOKENIZER_FILE
        self.hf.save(str(path), pretty=True)
        return path

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size(with_added_tokens=True)

    @property
    def vocab(self) -> list[str]:
        """Tokens ordered by id."""
        return [self.hf.id_to_token(i) for i in range(self.vocab_size)]

    def id_to_token(self, idx: int) -> str:
        return self.hf.id_to_token(idx) or UNK

    def token_to_id(self, token: str) -> int:
        idx = self.hf.token_to_id(token)
        return self.unk_id if idx is None else idx

    @staticmethod
    def normalize(latex: str) -> str:
        return normalize(latex)

    def tokenize(self, latex: str) -> list[str]:
        """Normalised tokens (no specials)."""
        return normalize_tokens(latex)

    def encode(self, latex: str) -> list[int]:
        """`<sos>` + ids of the normalised tokens + `<eos>`; unknown tokens map to `<unk>`."""
        return self.hf.encode(normalize(latex)).ids

    def encode_batch(self, latexes: Iterable[str]) -> list[list[int]]:
        return [e.ids for e in self.hf.encode_batch([normalize(s) for s in latexes])]

    def decode(self, ids: Iterable[int]) -> str:
        """Normalised LaTeX from ids: stops at `<eos>`, drops specials, repairs braces.

        The result always has balanced braces and complete `\\frac`/`\\sqrt`/script arguments, so it
        renders in KaTeX/MathJax and parses in SymPy even when a model emitted broken structure.
        """
        tokens: list[str] = []
        for idx in ids:
            idx = int(idx)
            if idx == self.eos_id and tokens:
                break
            if idx in self._special_ids:
                continue
            tokens.append(self.id_to_token(idx))
        try:
            return normalize(" ".join(tokens), strict=False)
        except NormalizationError:
            return ""
