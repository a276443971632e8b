"""Parsed trees to SymPy (`Converter`: a `\\pm` gives branches), the unknowns in the order a student names
them (`sorted_symbols`), and a time limit for optional work inside a solver worker (`within`)."""

from __future__ import annotations

import itertools
import signal
import threading
from collections.abc import Callable
from typing import Any

import sympy as sp

from seq2latex.solver.config import MAX_BRANCHES
from seq2latex.solver.lexer import SolverInputError
from seq2latex.solver.parser import Node

_PREFERRED = ["x", "y", "z", "t", "u", "v", "w", "s", "r", "q", "p", "n", "m", "k", "h", "g", "f", "d"]

_FUNCS: dict[str, Any] = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "cot": sp.cot, "sec": sp.sec, "csc": sp.csc,
    "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan, "sinh": sp.sinh, "cosh": sp.cosh,
    "tanh": sp.tanh, "ln": sp.log, "exp": sp.exp, "arcsinh": sp.asinh,
}  # fmt: skip
INEQ = {"<": sp.Lt, ">": sp.Gt, "<=": sp.Le, ">=": sp.Ge, "!=": sp.Ne}


class Converter:
    """Node -> list of SymPy expressions (several when \\pm gives branches)."""

    def __init__(self, imag_unit: bool) -> None:
        self.symbols: dict[str, sp.Symbol] = {}
        self.bound: dict[str, sp.Symbol] = {}
        self.denominators: list[sp.Expr] = []
        self.imag_unit = imag_unit

    def symbol(self, name: str) -> sp.Expr:
        if name in self.bound:
            return self.bound[name]
        if name == "e":
            return sp.E
        if name == "i" and self.imag_unit:
            return sp.I
        if name not in self.symbols:
            self.symbols[name] = sp.Symbol(name, real=True)
        return self.symbols[name]

    def one(self, node: Node) -> sp.Expr:
        values = self.conv(node)
        if len(values) != 1:
            raise SolverInputError("unsupported", "\\pm inside this construction")
        return values[0]

    def conv(self, node: Node) -> list[sp.Expr]:
        op = node.op
        if op == "num":
            return [sp.Rational(node.text) if "." in node.text else sp.Integer(node.text)]
        if op == "sym":
            return [self.symbol(node.text)]
        if op == "const":
            return [sp.pi if node.text == "pi" else sp.oo]
        if op == "group":
            return self.conv(node.args[0])
        if op in ("int", "sum", "prod", "lim", "diff"):
            return [self.operator(node)]
        branches = [self.conv(a) for a in node.args]
        combos = list(itertools.product(*branches))
        if op == "pm":
            out = [a + b for a, b in combos] + [a - b for a, b in combos]
            if len(out) > MAX_BRANCHES:
                raise SolverInputError("unsupported", "too many \\pm")
            return list(dict.fromkeys(out))
        return [self.apply(op, node, list(c)) for c in combos]

    def apply(self, op: str, node: Node, a: list[sp.Expr]) -> sp.Expr:
        if op == "neg":
            return -a[0]
        if op == "add":
            return a[0] + a[1]
        if op == "mul":
            return a[0] * a[1]
        if op == "div":
            if a[1].free_symbols:
                self.denominators.append(a[1])
            elif a[1] == 0:
                raise SolverInputError("div_zero")
            return a[0] / a[1]
        if op == "pow":
            return a[0] ** a[1]
        if op == "abs":
            return sp.Abs(a[0])
        if op == "fact":
            return sp.factorial(a[0])
        if op == "deg":
            return a[0] * sp.pi / 180
        if op == "root":
            if len(a) == 1:
                return sp.sqrt(a[0])
            if not a[0].free_symbols and a[1].is_Integer and a[1] % 2 == 1:
                return sp.real_root(a[0], a[1])
            return sp.root(a[0], a[1])
        if op == "fn":
            name = node.text
            if name in ("log", "lg"):
                base = a[1] if len(a) > 1 else sp.Integer(10)
                return sp.log(a[0], base)
            return _FUNCS[name](a[0])
        raise SolverInputError("unsupported", op)

    def operator(self, node: Node) -> sp.Expr:
        op = node.op
        if op == "diff":
            body = node.args[0]
            if node.text:
                name, order = node.text.split()
                var = self._bind(name)
                try:
                    return sp.Derivative(self.one(body), var, int(order))
                finally:
                    self.bound.pop(name, None)
            expr = self.one(body)
            free = sorted(expr.free_symbols, key=pref_key)
            return sp.Derivative(expr, free[0]) if free else sp.Integer(0)
        var_node = node.args[1]
        name = var_node.text if var_node.op == "sym" else ""
        if op == "int":
            if not name:
                expr = self.one(node.args[0])
                free = sorted(expr.free_symbols, key=pref_key)
                var = free[0] if free else sp.Symbol("x", real=True)
                return sp.Integral(expr, var)
            var = self._bind(name)
            try:
                body = self.one(node.args[0])
                if len(node.args) == 2:
                    return sp.Integral(body, var)
                lo, hi = self.one(node.args[2]), self.one(node.args[3])
                return sp.Integral(body, (var, lo, hi))
            finally:
                self.bound.pop(name, None)
        if op == "lim":
            point = self.one(node.args[2])
            var = self._bind(name)
            try:
                body = self.one(node.args[0])
            finally:
                self.bound.pop(name, None)
            direction = node.text if point.is_finite else "+"
            return sp.Limit(body, var, point, direction)
        lo, hi = self.one(node.args[2]), self.one(node.args[3])
        self.bound[name] = sp.Symbol(name, integer=True)
        try:
            body = self.one(node.args[0])
            cls = sp.Sum if op == "sum" else sp.Product
            return cls(body, (self.bound[name], lo, hi))
        finally:
            self.bound.pop(name, None)

    def _bind(self, name: str) -> sp.Symbol:
        sym = self.symbols.get(name) or sp.Symbol(name, real=True)
        self.symbols.setdefault(name, sym)
        self.bound[name] = sym
        return sym


def pref_key(s: sp.Symbol) -> tuple[int, str]:
    name = str(s)
    base = name.split("_")[0]
    return (_PREFERRED.index(base) if base in _PREFERRED else len(_PREFERRED), name)


def sorted_symbols(exprs: list[sp.Expr]) -> list[sp.Symbol]:
    free: set[sp.Symbol] = set()
    for e in exprs:
        free |= e.free_symbols
    return sorted(free, key=pref_key)


class OutOfTime(Exception):
    """An optional step ran past its share of the time limit."""


def within(seconds: float, fn: Callable[[], Any]) -> Any:
    """fn() interrupted by SIGALRM after `seconds` (main thread of a POSIX worker; else unlimited)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        return fn()

    def _alarm(signum: int, frame: Any) -> None:
        raise OutOfTime

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
