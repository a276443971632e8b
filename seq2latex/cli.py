"""The `seq2latex` command line: one entry point, one sub-command per module."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module exposes `register(subparsers)`, which adds its sub-command(s) and
# sets `func` on the parser; the modules are imported only when the CLI starts.
_COMMAND_MODULES = [
    "data.cli",
    "data.tokenize_cli",
    "seq2latex.eval_cli",
    "seq2latex.bench_cli",
    "seq2latex.export_cli",
    "seq2latex.symbols_cli",
    "api.cli",
    "api.solve_cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seq2latex", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
