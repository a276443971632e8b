"""The `seq2latex` command line: one entry point, one sub-command per module."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module exposes `register(subparsers)`, which adds its sub-command(s) and sets `func` on the
# parser. Only the module of the command given is imported (`seq2latex solve 'x^2=1'` loads neither
# torch nor the model); without a known command (`--help`, a typo) all of them are.
_COMMANDS: dict[str, str] = {
    "data": "data.cli",
    "tokenize": "data.tokenize_cli",
    "synth": "data.synth.cli",
    "eval": "seq2latex.eval_cli",
    "bench": "seq2latex.bench_cli",
    "export": "seq2latex.export_cli",
    "eval-symbols": "seq2latex.symbols_cli",
    "calibrate-symbols": "seq2latex.symbols_cli",
    "serve": "api.cli",
    "recognize": "api.cli",
    "solve": "api.solve_cli",
    "check": "api.check_cli",
    "preprocess": "seq2latex.preprocess_cli",
}
_COMMAND_MODULES = list(dict.fromkeys(_COMMANDS.values()))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every sub-command, or (given a known `command`) of that one only."""
    parser = argparse.ArgumentParser(prog="seq2latex", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    modules = [_COMMANDS[command]] if command in _COMMANDS else _COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
