"""The `seq2latex` command line: one entry point, one sub-command per module."""

from __future__ import annotations

import argparse
import importlib
import sys

# The docstring above is `seq2latex --help`'s description. This folder is the whole command line: one
# thin module per command (or group of commands): its options, a call into the library
# (tokenizer, data, seq2latex, api), printing; nothing outside the folder imports it (tests/test_layers.py).
# `python -m seq2latex.cli.window` (the GPU windows' commands) lives here too, outside the registry.
# Each module exposes `register(subparsers)`, which adds its sub-command(s) and sets `func` on the
# parser. Only the module of the command given is imported (`seq2latex solve 'x^2=1'` loads neither
# torch nor the model); without a known command (`--help`, a typo) all of them are.
_COMMANDS: dict[str, str] = {
    "data": "seq2latex.cli.data",
    "tokenize": "seq2latex.cli.tokenize",
    "synth": "seq2latex.cli.synth",
    "eval": "seq2latex.cli.eval",
    "bench": "seq2latex.cli.bench",
    "export": "seq2latex.cli.export",
    "eval-symbols": "seq2latex.cli.symbols",
    "calibrate-symbols": "seq2latex.cli.symbols",
    "serve": "seq2latex.cli.serve",
    "recognize": "seq2latex.cli.serve",
    "solve": "seq2latex.cli.solve",
    "check": "seq2latex.cli.check",
    "preprocess": "seq2latex.cli.preprocess",
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
