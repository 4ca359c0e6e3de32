"""Which packages and symbols a Go binary links, from its function table (pclntab).

Function names are mapped to the vulndb spelling of a symbol: ``pkg.(*T).M`` → ``T.M``,
generic instantiations dropped, method-value wrappers (``-fm``) and closures
(``F.func1``) counted as their enclosing function.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from goslim.binary import GoFunction

_CLOSURE_RE = re.compile(r"\.(?:func|gowrap|deferwrap)\d+$|\.\d+$")
_WRAPPER_SUFFIXES = ("-fm", "-tramp", "-range1")


@dataclass(frozen=True)
class SymbolIndex:
    """Packages with code in the binary, and ``package.Symbol`` names present."""

    packages: frozenset[str]
    symbols: frozenset[str]

    def has(self, package: str, symbol: str) -> bool:
        return f"{package}.{symbol}" in self.symbols


def index_functions(functions: Iterable[GoFunction]) -> SymbolIndex:
    """Build the index from ``goslim.binary.read_functions`` output."""
    packages: set[str] = set()
    symbols: set[str] = set()
    for fn in functions:
        if not fn.package:
            continue
        packages.add(fn.package)
        for sym in symbol_names(fn.name, fn.package):
            symbols.add(f"{fn.package}.{sym}")
    return SymbolIndex(frozenset(packages), frozenset(symbols))


def symbol_names(name: str, package: str) -> list[str]:
    """vulndb-style symbol names a function name stands for (the function, then its enclosers)."""
    if not name.startswith(package + "."):
        return []
    rest = _drop_brackets(name[len(package) + 1 :])
    rest = rest.replace("(*", "").replace(")", "")
    for suffix in _WRAPPER_SUFFIXES:
        rest = rest.removesuffix(suffix)
    out = [rest]
    while (m := _CLOSURE_RE.search(rest)) is not None:
        rest = rest[: m.start()]
        out.append(rest)
    return out


def _drop_brackets(text: str) -> str:
    """Remove ``[...]`` generic instantiations, nested ones included."""
    depth, out = 0, []
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    return "".join(out)
