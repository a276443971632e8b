"""Rebuild the shipped `tokenizer/tokenizer.json`: `python -m tokenizer.build`."""

from __future__ import annotations

from pathlib import Path

from tokenizer.latex_tokenizer import TOKENIZER_FILE, build_hf_tokenizer

SHIPPED = Path(__file__).resolve().parent / TOKENIZER_FILE


def main() -> None:
    build_hf_tokenizer().save(str(SHIPPED), pretty=True)
    print(SHIPPED)


if __name__ == "__main__":
    main()
