"""scan_binary: the vulnerability report for one binary against a vulnerability database."""

from __future__ import annotations

from pathlib import Path

from goslim.binary import BinaryInputError, BinaryReport, analyze
from goslim.scan.match import match_vulnerabilities
from goslim.scan.models import ScanReport
from goslim.scan.symbols import index_functions
from goslim.scan.vulndb import VulnDb, load_vulndb


def scan_binary(path: Path, db: VulnDb | Path, *, target: str | None = None) -> ScanReport:
    """Match the binary's modules and Go version against ``db`` (loaded, or a dir/zip path).

    Symbol evidence comes from the binary's function table, so stripped binaries work too.
    """
    vulndb = load_vulndb(db) if isinstance(db, Path) else db
    report, missing = read_binary_report(path, path.name)
    if report is None:
        return unmatched_report(target or str(path), str(path), vulndb, [*missing, *vulndb.notes])
    return scan_facts(report, vulndb, target=target, missing=missing)


def read_binary_report(path: Path, name: str) -> tuple[BinaryReport | None, list[str]]:
    """goslim.binary's report with the function table (a packed binary through a `upx -d` copy),
    and why build info or symbols are missing."""
    try:
        report = analyze(path, top=0, with_functions=True)
    except BinaryInputError as exc:  # not ELF, or a corrupt one: nothing to match, say why
        return None, [f"{name} has no Go build info ({exc.message}): modules are unknown"]
    return report, missing_reasons(report, name)


def missing_reasons(report: BinaryReport, name: str) -> list[str]:
    """Why the report cannot back a full scan: no build info, or no function table."""
    if report.build_info is None:
        why = "; ".join(report.notes) or "not a Go binary"
        return [f"{name} has no Go build info ({why}): modules are unknown"]
    if report.functions is None:
        return [f"{name}: function table unreadable: symbols not checked"]
    return []


def unmatched_report(target: str, binary: str, db: VulnDb, notes: list[str]) -> ScanReport:
    """A report for a target with no build info to match (packed, not Go, or no binary at all)."""
    return ScanReport(
        target=target,
        binary=binary,
        go_version=None,
        main_module=None,
        modules=[],
        vulnerabilities=[],
        db_source=db.source,
        db_entries=len(db.entries),
        symbols_checked=False,
        notes=notes,
    )


def scan_facts(
    facts: BinaryReport,
    db: VulnDb,
    *,
    target: str | None = None,
    binary_label: str | None = None,
    missing: list[str] | None = None,
) -> ScanReport:
    """Same as ``scan_binary`` for an already-analyzed binary (so an image's binary is read once)."""
    notes = list(missing or []) + list(db.notes)
    if facts.analyzed_unpacked_copy:
        notes.append("UPX-packed: build info and symbols read from a temporary `upx -d` copy")
    info = facts.build_info
    if info is None:
        return unmatched_report(target or str(facts.path), binary_label or str(facts.path), db, notes)
    index = index_functions(facts.functions) if facts.functions is not None else None
    modules, vulns, match_notes = match_vulnerabilities(info, db, index)
    return ScanReport(
        target=target or str(facts.path),
        binary=binary_label or str(facts.path),
        go_version=info.go_version,
        main_module=info.main.path or None,
        modules=modules,
        vulnerabilities=vulns,
        db_source=db.source,
        db_entries=len(db.entries),
        symbols_checked=index is not None,
        notes=notes + match_notes,
    )
