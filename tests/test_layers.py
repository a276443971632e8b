"""The packages import one way: tokenizer <- data <- seq2latex <- api / train.py, and the command line,
`seq2latex/cli/`, sits above all of them.

Read from the source (every `import` and `from ... import`, at any depth), so a lazy import inside a
function counts too. `seq2latex/cli/` is the one home of the commands: one thin module per command (or
group of commands) that may import every layer, api included, and that nothing outside it imports
(tests apart). Its `__init__` registers the commands by module name (`importlib`), so that only the
module of the command given is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["tokenizer", "data", "seq2latex", "api"]  # each may import only those before it
CLI = ROOT / "seq2latex" / "cli"  # the commands: above every layer


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
        if _imported_packages(path) & above and CLI not in path.parents
    ]
    assert not offences, offences


def test_the_check_sees_lazy_imports(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from api.local import x\n    import data.inkml\n")
    assert _imported_packages(src) == {"api", "data"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def _imported_modules(path: Path, name: str | None = None) -> set[str]:
    """Every dotted name a file (the module `name`, by default where it lies) imports, absolute or
    relative, at any depth; `from m import n` as both `m` and `m.n` (n may be a module)."""
    name = name or _module_name(path)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.update([module, *(f"{module}.{alias.name}" for alias in node.names)])
    return found


def _module_graph() -> dict[str, set[str]]:
    """Every project module -> the project modules it imports (absolute or relative, at any depth)."""
    paths = {_module_name(path): path for package in LAYERS for path in (ROOT / package).rglob("*.py")}
    return {
        name: {t for t in _imported_modules(path) if t in paths and t != name} for name, path in paths.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles_between_the_projects_modules() -> None:
    """No module reaches itself through the project's own imports (lazy ones count), inside a package too."""
    assert _cycles(_module_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"x": {"y"}, "y": set()}) == []


# The command line: one folder of thin commands, imported by nothing but itself (and the tests).
MAX_COMMAND_LINES = 200  # a command is parsing, a call into the library and printing
OUTSIDE_THE_CLI = ["tokenizer", "data", "seq2latex", "api", "benchmarks", "scripts", "train.py"]


def _imports_the_cli(path: Path, name: str | None = None) -> bool:
    return any(m == "seq2latex.cli" or m.startswith("seq2latex.cli.") for m in _imported_modules(path, name))


def test_nothing_outside_the_command_folder_imports_it() -> None:
    files = [
        path
        for top in OUTSIDE_THE_CLI
        for path in ([ROOT / top] if top.endswith(".py") else (ROOT / top).rglob("*.py"))
    ]
    offences = [
        str(path.relative_to(ROOT))
        for path in sorted(files)
        if CLI not in path.parents and _imports_the_cli(path)
    ]
    assert not offences, offences


@pytest.mark.parametrize(
    ("text", "imports"),
    [
        ("import seq2latex.cli", True),
        ("def f():\n    from seq2latex.cli.eval import open_recognizer", True),
        ("from seq2latex import cli", True),
        ("from .cli import main", True),  # relative, from seq2latex/probe.py
        ("from . import cli", True),
        ("from ..cli.solve import run", True),  # from seq2latex/solver/probe.py
        ("import seq2latex.calibration", False),
        ("from seq2latex import clinic", False),
        ("from api.local import describe", False),
    ],
)
def test_the_cli_import_check_sees_every_form(tmp_path: Path, text: str, imports: bool) -> None:
    src = tmp_path / "probe.py"
    src.write_text(text + "\n")
    name = "seq2latex.solver.probe" if text.startswith("from ..") else "seq2latex.probe"
    assert _imports_the_cli(src, name) is imports


def test_every_command_lives_in_the_command_folder_and_nowhere_else() -> None:
    from seq2latex.cli import _COMMANDS

    modules = set(_COMMANDS.values())
    assert all(m.startswith("seq2latex.cli.") for m in modules), modules
    assert all((ROOT / (m.replace(".", "/") + ".py")).is_file() for m in modules), modules
    # the folder holds the commands, the registry and `python -m seq2latex.cli.window` (GPU windows)
    in_folder = {_module_name(p) for p in CLI.glob("*.py")}
    assert in_folder == modules | {"seq2latex.cli", "seq2latex.cli.__main__", "seq2latex.cli.window"}
    assert not list(CLI.glob("*/")), "the command folder has no sub-folders"
    strays = [
        str(p.relative_to(ROOT))
        for package in LAYERS
        for p in sorted((ROOT / package).rglob("*.py"))
        if CLI not in p.parents and (p.name == "cli.py" or p.name.endswith("_cli.py"))
    ]
    assert not strays, strays


def test_every_command_is_thin() -> None:
    long = {
        p.name: n
        for p in sorted(CLI.glob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_COMMAND_LINES
    }
    assert not long, long
