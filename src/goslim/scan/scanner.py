"""scan_binary: the vulnerability report for one binary against a vulnerability database."""

from __future__ import annotations

from pathlib import Path

from goslim.scan.inspect import BinaryFacts, inspect_binary
from goslim.scan.match import match_vulnerabilities
from goslim.scan.models import ScanReport
from goslim.scan.symbols import index_functions
from goslim.scan.vulndb import VulnDb, load_vulndb


def scan_binary(path: Path, db: VulnDb | Path, *, target: str | None = None) -> ScanReport:
    """Match the binary's modules and Go version against ``db`` (loaded, or a dir/zip path).

    Symbol evidence comes from the binary's function table, so stripped binaries work too.
    """
    vulndb = load_vulndb(db) if isinstance(db, Path) else db
    return scan_facts(inspect_binary(path), vulndb, target=target)


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
    facts: BinaryFacts, db: VulnDb, *, target: str | None = None, binary_label: str | None = None
) -> ScanReport:
    """Same as ``scan_binary`` for already-inspected facts (so an image's binary is read once)."""
    notes = list(facts.missing) + list(db.notes)
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
