"""Artifacts of the scan stage: vulnerabilities found in a binary, and SBOM documents."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from goslim.models import Frozen

Status = Literal["called", "imported", "not-linked", "unknown"]
Severity = Literal["low", "medium", "high", "critical", "unknown"]
SbomFormat = Literal["cyclonedx", "spdx"]

# How sure we are that the vulnerable code is in the binary, most first.
STATUS_MEANING = {
    "called": "a vulnerable function is in the binary",
    "imported": "the vulnerable package is linked, its vulnerable functions are not",
    "not-linked": "the module version is affected but the vulnerable package is not in the binary",
    "unknown": "no function table or no symbol data: assume affected",
}


class ScannedModule(Frozen):
    """A module the binary was built from, as matched against the database."""

    path: str  # "stdlib" for the standard library
    version: str  # as recorded (go1.21.0, v0.3.7)
    semver: str | None  # what was compared; None when the version cannot be compared


class Vulnerability(Frozen):
    """One OSV entry that affects one module of the binary."""

    id: str
    aliases: list[str]
    summary: str
    url: str
    severity: Severity
    module: str
    version: str
    fixed_in: str | None
    affected: list[str]  # ranges, e.g. ">=1.21.0-0, <1.21.5"
    status: Status
    symbols_found: list[str] = Field(default_factory=list)  # package.Symbol present in the binary
    symbols_checked: list[str] = Field(default_factory=list)


class ScanReport(Frozen):
    """Vulnerabilities of one binary (or the binary inside an image)."""

    target: str
    binary: str
    go_version: str | None
    main_module: str | None
    modules: list[ScannedModule]
    vulnerabilities: list[Vulnerability]
    db_source: str
    db_entries: int
    symbols_checked: bool  # False when the function table could not be read (e.g. UPX-packed)
    notes: list[str] = Field(default_factory=list)
    # Why vulnerabilities were not checked at all (no database reachable, no build info); None when they were.
    not_checked: str | None = None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in self.vulnerabilities:
            out[v.status] = out.get(v.status, 0) + 1
        return out


class OsPackage(Frozen):
    """A package recorded by the base image's package manager."""

    name: str
    version: str
    arch: str = ""
    manager: Literal["dpkg", "apk"]
    distro: str = ""  # debian, ubuntu, alpine, ...
    license: str = ""
    source: str = ""  # source package, where recorded

    @property
    def purl(self) -> str:
        from packageurl import PackageURL  # noqa: PLC0415 (cheap, only for SBOMs)

        kind = "deb" if self.manager == "dpkg" else "apk"
        namespace = self.distro or ("debian" if kind == "deb" else "alpine")
        qualifiers = {"arch": self.arch} if self.arch else {}
        return PackageURL(
            type=kind, namespace=namespace, name=self.name, version=self.version, qualifiers=qualifiers
        ).to_string()


class SbomDocument(Frozen):
    """A rendered SBOM and what it could not cover."""

    format: SbomFormat
    media_type: str
    file_name: str
    content: str  # the JSON text
    components: int
    partial_reasons: list[str] = Field(default_factory=list)
