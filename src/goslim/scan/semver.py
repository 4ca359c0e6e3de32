"""Semantic versions as the Go vulnerability database compares them, and Go's own version names.

OSV ranges for Go use SEMVER without the leading ``v``; the standard library is
versioned from the toolchain name (``go1.21.0`` → ``1.21.0``, ``go1.21rc2`` → ``1.21.0-rc.2``).
"""

from __future__ import annotations

import re
from functools import total_ordering

_SEMVER_RE = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)
_GO_RE = re.compile(
    r"^go(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?(?:(?P<kind>rc|beta)(?P<n>\d+))?$"
)


@total_ordering
class Version:
    """A semantic version with SemVer 2.0 precedence (build metadata ignored)."""

    __slots__ = ("core", "pre", "text")

    def __init__(self, core: tuple[int, int, int], pre: tuple[int | str, ...], text: str) -> None:
        self.core = core
        self.pre = pre
        self.text = text

    def _key(self) -> tuple:
        # A release sorts after all of its pre-releases; numeric identifiers before alphanumeric.
        pre_key = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.pre)
        return (self.core, 0 if self.pre else 1, pre_key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Version({self.text!r})"

    def __str__(self) -> str:
        return self.text


def parse_semver(text: str) -> Version | None:
    """``1.2.3``, ``v1.2.3-pre.1+meta``; ``0`` (OSV's 'from the beginning') is 0.0.0. None if not semver."""
    text = text.strip()
    if text == "0":
        return Version((0, 0, 0), (), "0")
    m = _SEMVER_RE.match(text)
    if not m:
        return None
    pre = tuple(int(p) if p.isdigit() else p for p in m["pre"].split(".")) if m["pre"] else ()
    return Version((int(m["major"]), int(m["minor"]), int(m["patch"])), pre, text.removeprefix("v"))


def go_to_semver(go_version: str) -> str | None:
    """``go1.21.0`` → ``1.21.0``; ``go1.21`` → ``1.21.0``; ``go1.22rc1`` → ``1.22.0-rc.1``; else None.

    Suffixes after a space (``go1.24.0 X:boringcrypto``) are ignored; devel builds give None.
    """
    name = go_version.strip().split(" ", 1)[0]
    m = _GO_RE.match(name)
    if not m:
        return None
    version = f"{m['major']}.{m['minor'] or 0}.{m['patch'] or 0}"
    if m["kind"]:
        version += f"-{m['kind']}.{m['n']}"
    return version
