"""Artifacts of the analysis stage: frozen pydantic models, serialisable to JSON.

The JSON form is documented in docs/analyze-schema.md; change both together.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, computed_field

from goslim.models import Frozen

SCHEMA_VERSION = 1


class Module(Frozen):
    """A module line of Go build info (`mod`, `dep`, or the `=>` replacement that follows one)."""

    path: str
    version: str = ""
    sum: str = ""
    replace: Module | None = None


class BuildInfo(Frozen):
    """What `go version -m` prints, read by goslim's own parser."""

    go_version: str
    path: str = ""  # import path of the main package
    main: Module = Field(default_factory=lambda: Module(path=""))
    deps: list[Module] = Field(default_factory=list)
    settings: dict[str, str] = Field(default_factory=dict)
    # "inline" (Go 1.18+) or "pointer" (the older layout that points at runtime.buildVersion/modinfo)
    format: Literal["inline", "pointer"] = "inline"


class GoFunction(Frozen):
    """One function of the pclntab function table."""

    name: str
    package: str  # "" for linker-made symbols (go:*, type:*)
    size: int  # bytes to the next function's entry, alignment padding included
    entry: int  # virtual address of the first instruction


class ElfFacts(Frozen):
    elf_class: Literal[32, 64]
    machine: str  # e_machine name, e.g. EM_X86_64
    goarch: str | None  # GOARCH spelling of the machine, None if Go has no port for it
    big_endian: bool = False
    static: bool  # no PT_INTERP and no DT_NEEDED
    interpreter: str | None
    needed: list[str] = Field(default_factory=list)  # DT_NEEDED libraries
    libc: Literal["glibc", "musl"] | None = None
    pie: bool
    runpath: list[str] = Field(default_factory=list)  # DT_RUNPATH / DT_RPATH directories
    stripped: bool  # no .symtab
    dwarf_bytes: int  # file bytes of .debug_* / .zdebug_* sections
    symtab_bytes: int = 0  # file bytes of .symtab + .strtab
    section_count: int = 0


class PackageSize(Frozen):
    """Code bytes the pclntab attributes to one Go package."""

    package: str
    module: str  # module path, "std" for the standard library, "" when unknown
    size: int
    functions: int


class SectionSize(Frozen):
    """One slice of the file: an ELF section (or group of them) not already counted as package code."""

    name: str  # section name, or a group: "DWARF (.debug_*)", "ELF headers and padding", ...
    kind: Literal["code", "rodata", "pclntab", "data", "symbols", "dwarf", "buildinfo", "other", "headers"]
    size: int  # file bytes


class NeedAnswer(StrEnum):
    """The one answer every stage reads for a need: the image stage and verify never disagree."""

    NEEDED = "needed"
    NOT_NEEDED = "not needed"
    CARRIED = "carried"  # the code path is linked, but the binary carries its own copy of the files


class Need(Frozen):
    answer: NeedAnswer
    evidence: list[str] = Field(default_factory=list)  # function names (or ELF facts) that prove it
    detail: str = ""
    carrier: str = ""  # what the binary carries instead of the image's files, when answer is CARRIED
    # zoneinfo only: the zone files the binary can load, when every name is a constant found in it
    # (plus a TZ the run sets); None when any zone may load.
    names: list[str] | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def needed(self) -> bool:
        """The image must supply the files."""
        return self.answer is NeedAnswer.NEEDED

    @property
    def verdict(self) -> str:
        """One line both the image stage and verify print: needed, not needed, or carried."""
        if self.answer is NeedAnswer.CARRIED:
            return f"not needed: the binary carries its own {self.carrier}"
        return f"{self.answer.value}: {self.detail}" if self.detail else self.answer.value


class Needs(Frozen):
    """What the image has to supply for the program to work."""

    ca_roots: Need
    zoneinfo: Need
    passwd: Need
    resolver: Need
    loader: Need


class Finding(Frozen):
    kind: Literal["build-path", "secret", "dwarf", "symtab", "upx"]
    severity: Literal["info", "low", "medium", "high"]
    message: str
    evidence: list[str] = Field(default_factory=list)  # redacted for secrets
    bytes: int = 0  # bytes the finding costs in the file, when that is meaningful


class BinaryReport(Frozen):
    """Everything `goslim analyze` learns about one binary."""

    schema_version: int = SCHEMA_VERSION
    path: Path
    size: int
    sha256: str
    elf: ElfFacts
    build_info: BuildInfo | None
    packages: list[PackageSize]  # the top N by size, then one "(other packages)" row
    sections: list[SectionSize]
    needs: Needs
    findings: list[Finding]
    upx_packed: bool
    analyzed_unpacked_copy: bool
    unpacked_size: int | None = None  # size of the `upx -d` copy the sections and packages describe
    is_go: bool
    function_count: int = 0
    notes: list[str] = Field(default_factory=list)
    # The whole function table, kept only when asked for (scan's symbol evidence); not in JSON.
    functions: list[GoFunction] | None = Field(default=None, exclude=True)
