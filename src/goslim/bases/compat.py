"""Will this binary run on this base? Checked before assembly, refused with the reason and the fix."""

from __future__ import annotations

import posixpath

from goslim.bases.models import Base
from goslim.binary import BinaryReport, ElfFacts
from goslim.errors import UserInputError

# Where dynamic loaders search for DT_NEEDED libraries on glibc and musl systems.
LIBRARY_DIRS = (
    "/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib",
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
    "/lib/arm-linux-gnueabihf", "/usr/lib/arm-linux-gnueabihf",
    "/lib/i386-linux-gnu", "/usr/lib/i386-linux-gnu",
)
CGO_FIX = "build with CGO_ENABLED=0 (goslim's slim profile)"


class IncompatibleBaseError(UserInputError):
    """The binary cannot run on the chosen base (architecture, loader or C library)."""


def check_compatible(report: BinaryReport, base: Base) -> None:
    """Raise ``IncompatibleBaseError`` naming the reason and the fix, or return when the pair can run."""
    facts = report.elf
    if facts.goarch and facts.goarch != base.platform.architecture:
        raise IncompatibleBaseError(
            f"the binary is for {facts.goarch} but base '{base.name}' is {base.platform}",
            hint=f"build with --platform linux/{base.platform.architecture}, or pick a base for "
            f"linux/{facts.goarch}",
        )
    if facts.static:
        return
    interp = facts.interpreter or "(no interpreter)"
    libs = ", ".join(facts.needed) or "no libraries"
    if base.is_builtin:
        raise IncompatibleBaseError(
            f"the binary is dynamically linked (interpreter {interp}, needs {libs}) and base "
            f"'{base.name}' has no dynamic loader or C library",
            hint=f"{CGO_FIX}, or use a base with {facts.libc or 'its C library'}, e.g. "
            f"{_suggest_base(facts)}",
        )
    if facts.libc and base.libc.kind not in ("none", facts.libc):
        raise IncompatibleBaseError(
            f"the binary is linked against {facts.libc} but base '{base.name}' has {base.libc.kind}",
            hint=f"{CGO_FIX}, or use a {facts.libc} base, e.g. {_suggest_base(facts)}",
        )
    if facts.interpreter and not base.contains(facts.interpreter):
        raise IncompatibleBaseError(
            f"base '{base.name}' has no dynamic loader {facts.interpreter}, which the binary needs",
            hint=f"{CGO_FIX}, or use a base with {facts.libc or 'that C library'}, "
            f"e.g. {_suggest_base(facts)}",
        )
    missing = [lib for lib in facts.needed if not _has_library(base, lib)]
    if missing:
        raise IncompatibleBaseError(
            f"base '{base.name}' lacks the libraries {', '.join(missing)} that the binary needs",
            hint=f"{CGO_FIX}, or use a base that ships them",
        )


def _has_library(base: Base, lib: str) -> bool:
    if "/" in lib:
        return base.contains(lib)
    return any(base.contains(posixpath.join(d, lib)) for d in LIBRARY_DIRS)


def _suggest_base(facts: ElfFacts) -> str:
    return "--base alpine" if facts.libc == "musl" else "--base gcr.io/distroless/base-debian12"
