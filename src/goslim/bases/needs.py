"""The facts about a binary that choosing and checking a base depends on.

``goslim.binary.analyze`` produces a ``BinaryReport``; this module reduces it to the
few facts the bases stage uses, so unit tests can state them directly.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Need(BaseModel):
    """Whether the binary needs a runtime file, and the evidence found in it."""

    model_config = ConfigDict(frozen=True)

    needed: bool
    evidence: list[str] = Field(default_factory=list)


class BinaryFacts(BaseModel):
    """What the bases stage needs to know about a binary."""

    model_config = ConfigDict(frozen=True)

    architecture: str  # GOARCH / OCI architecture
    static: bool = True
    interpreter: str | None = None  # PT_INTERP of a dynamic binary
    needed_libs: list[str] = Field(default_factory=list)  # DT_NEEDED
    libc: Literal["glibc", "musl"] | None = None
    ca_roots: Need = Need(needed=False)
    zoneinfo: Need = Need(needed=False)
    passwd: Need = Need(needed=False)
    resolver: Need = Need(needed=False)
    build_settings: dict[str, str] = Field(default_factory=dict)  # Go build info: vcs.revision, vcs.time, ...
    main_path: str = ""  # main module path
    main_version: str = ""  # main module version ("(devel)" when unknown)


def facts_from_report(report: Any) -> BinaryFacts:
    """Reduce a ``goslim.binary.BinaryReport`` (read by attribute) to ``BinaryFacts``."""
    elf = report.elf
    needs = report.needs
    build = getattr(report, "build_info", None) or getattr(report, "buildinfo", None)
    settings: dict[str, str] = {}
    main_path = main_version = ""
    if build is not None:
        raw = getattr(build, "settings", None) or {}
        settings = dict(raw) if isinstance(raw, dict) else {s.key: s.value for s in raw}
        main = getattr(build, "main", None)
        main_path = getattr(main, "path", "") if main is not None else getattr(build, "path", "")
        main_version = getattr(main, "version", "") if main is not None else ""
    libc = getattr(elf, "libc", None)
    return BinaryFacts(
        architecture=str(getattr(elf, "goarch", None) or getattr(elf, "architecture", "")),
        static=bool(elf.static),
        interpreter=getattr(elf, "interpreter", None) or None,
        needed_libs=list(getattr(elf, "needed", None) or []),
        libc=libc if libc in ("glibc", "musl") else None,
        ca_roots=_need(getattr(needs, "ca_roots", None)),
        zoneinfo=_need(getattr(needs, "zoneinfo", None)),
        passwd=_need(getattr(needs, "passwd", None)),
        resolver=_need(getattr(needs, "resolver", None)),
        build_settings=settings,
        main_path=main_path or "",
        main_version=main_version or "",
    )


def _need(value: Any) -> Need:
    if value is None:
        return Need(needed=False)
    evidence = getattr(value, "evidence", [])
    if isinstance(evidence, str):
        evidence = [evidence] if evidence else []
    return Need(needed=bool(getattr(value, "needed", False)), evidence=[str(e) for e in evidence])
