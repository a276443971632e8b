"""seq2latex: handwritten mathematics to LaTeX, and its solution through SymPy.

Heavy parts (torch, sympy) are imported on first use, so `import seq2latex` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.7.1"

# public name -> module that defines it
_LAZY = {
    "solve": "seq2latex.solver",
    "Recognizer": "seq2latex.recognizer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'seq2latex' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY]
