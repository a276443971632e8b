"""The packages import one way: tokenizer <- data <- seq2latex <- api / train.py.

Read from the source (every `import` and `from ... import`, at any depth), so a lazy import inside a
function counts too. `seq2latex/cli.py` is the one entry point: it registers every layer's commands by
module name (`importlib`), which is not an import statement and is allowed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["tokenizer", "data", "seq2latex", "api"]  # each may import only those before it


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", LAYERS[:-1])
def test_no_import_runs_back_up_the_layers(package: str) -> None:
    above = set(LAYERS[LAYERS.index(package) + 1 :]) | {"train"}
    offences = [
        f"{path.relative_to(ROOT)} imports {sorted(_imported_packages(path) & above)}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if _imported_packages(path) & above
    ]
    assert not offences, offences


def test_the_check_sees_lazy_imports(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from api.cli import x\n    import data.inkml\n")
    assert _imported_packages(src) == {"api", "data"}
