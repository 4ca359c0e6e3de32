"""Which Go package a symbol belongs to, and which module a package comes from."""

from __future__ import annotations

from goslim.binary.models import BuildInfo

STD = "std"
GENERATED = "(compiler-generated)"


def package_of(name: str, *, go120: bool = True) -> str:
    """debug/gosym's rule: drop generic brackets, package = up to the first dot after the last /"""
    if "[" not in name and not name.startswith(("go:", "type:", "go.", "type.")):
        # The common case, kept short because it runs once per function.
        dot = name.find(".", max(name.rfind("/"), 0))
        return name[:dot] if dot >= 0 else ""
    start = name.find("[")
    if start >= 0:
        end = name.rfind("]")
        if end >= 0:
            name = name[:start] + name[end + 1 :]
    if name.startswith(("go:", "type:") if go120 else ("go.", "type.")):
        return ""
    slash = name.rfind("/")
    dot = name.find(".", max(slash, 0))
    return name[:dot] if dot >= 0 else ""


def packages_of(names: list[str], *, go120: bool = True) -> list[str]:
    """``package_of`` for every name, with the common case inlined (it runs once per function)."""
    out: list[str] = []
    append = out.append
    special = ("go:", "type:", "go.", "type.")
    for name in names:
        if "[" in name or name.startswith(special):
            append(package_of(name, go120=go120))
        else:
            dot = name.find(".", name.rfind("/") + 1)
            append(name[:dot] if dot >= 0 else "")
    return out


class ModuleResolver:
    """Longest-prefix match of package paths against the build info's module paths."""

    def __init__(self, info: BuildInfo | None) -> None:
        self.main = info.main.path if info and info.main.path else ""
        paths = [m.path for m in (info.deps if info else [])]
        if self.main:
            paths.append(self.main)
        self.paths = sorted(set(paths), key=len, reverse=True)
        self._cache: dict[str, str] = {}

    def module_of(self, package: str) -> str:
        if package in self._cache:
            return self._cache[package]
        mod = self._resolve(package)
        self._cache[package] = mod
        return mod

    def _resolve(self, package: str) -> str:
        if not package:
            return ""
        if package == "main":
            return self.main
        for path in self.paths:
            if package == path or package.startswith(path + "/"):
                return path
        first = package.split("/", 1)[0]
        return STD if "." not in first else ""
