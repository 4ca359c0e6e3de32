"""One scan as the CLI and the pipeline run it: vulnerabilities, SBOM files, attachment, SARIF."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from goslim.errors import UserInputError
from goslim.fsutil import write_text_atomic
from goslim.platform import Platform
from goslim.scan.errors import VulnDbError
from goslim.scan.match import FAIL_ON_CHOICES, policy_failures
from goslim.scan.models import SbomDocument, SbomFormat, ScanReport
from goslim.scan.sarif import sarif_text
from goslim.scan.sbom import SBOM_FORMATS, make_sbom, sbom_file_name
from goslim.scan.scanner import scan_facts, unmatched_report
from goslim.scan.target import ScanTarget, open_target
from goslim.scan.vulndb import VulnDb, fetch_vulndb, load_vulndb
from goslim.sign.attach import ArtifactLayer, attach
from goslim.sign.locations import open_store


class SbomFile(BaseModel):
    """An SBOM written to disk (and where it was attached, if it was)."""

    model_config = ConfigDict(frozen=True)

    format: SbomFormat
    path: Path
    components: int
    attached_tag: str | None = None
    partial_reasons: list[str] = Field(default_factory=list)


class ScanOutcome(BaseModel):
    """Everything one `goslim scan` produced."""

    model_config = ConfigDict(frozen=True)

    report: ScanReport
    sboms: list[SbomFile]
    sarif: Path | None
    fail_on: str
    policy_failures: list[str]  # ids of findings that break --fail-on

    def policy_breach(self) -> str | None:
        """How the scan broke ``--fail-on``: findings at or above it, or (failing closed) nothing checked."""
        if self.policy_failures:
            return f"--fail-on {self.fail_on}: {', '.join(self.policy_failures)}"
        if self.report.not_checked is not None and self.fail_on != "none":
            return f"--fail-on {self.fail_on}: vulnerabilities not checked, which fails closed"
        return None


def open_vulndb(db: Path | None, modules: Sequence[str]) -> VulnDb:
    """A local database when given, else the online one for these modules."""
    return load_vulndb(db) if db is not None else fetch_vulndb(modules)


def _open_vulndb_or_why(db: Path | None, modules: Sequence[str]) -> tuple[VulnDb, str | None]:
    """The database, or (when none was given and the online one is unreachable) an empty one and why.

    A database the user named must be readable: that stays an error.
    """
    try:
        return open_vulndb(db, modules), None
    except VulnDbError as exc:
        if db is not None:
            raise
        return VulnDb(source="(none)"), exc.message


def attach_sboms_to(location: str, docs: Sequence[SbomDocument], image_digest: str | None = None) -> str:
    """Attach SBOMs (one layer each) to the image at ``location`` as ``sha256-<hex>.sbom``, as ko does.

    The tag is replaced, not appended to: an SBOM describes the image as it is now.
    """
    store = open_store(location)
    digest = image_digest or store.resolve()
    layers = [ArtifactLayer(doc.content.encode(), doc.media_type) for doc in docs]
    return attach(store, digest, ".sbom", layers, append=False).tag


def run_scan(
    target_text: str,
    *,
    db: Path | None,
    sbom_formats: Sequence[SbomFormat] = SBOM_FORMATS,
    out_dir: Path | None = None,
    fail_on: str = "none",
    sarif: Path | None = None,
    attach_sboms: bool = True,
    unpacked: Path | None = None,
    name: str | None = None,
    platform: Platform | None = None,
) -> ScanOutcome:
    """Scan a binary or image, write SBOMs beside it (or in ``out_dir``), attach them to an image.

    ``unpacked``: for an image whose entrypoint is UPX-packed, the binary before packing.
    ``name``: the service's name, which names the SBOM files (default: from the image or binary).
    ``platform``: of an image index, the platform scanned (its binary's build info and GOOS/GOARCH are
    what is matched; its SBOMs attach to its own manifest).
    """
    if fail_on not in FAIL_ON_CHOICES:
        raise UserInputError(
            f"unknown --fail-on '{fail_on}'", hint=f"use one of: {', '.join(FAIL_ON_CHOICES)}"
        )
    for fmt in sbom_formats:
        if fmt not in SBOM_FORMATS:
            raise UserInputError(f"unknown SBOM format '{fmt}'", hint="use cyclonedx or spdx")
    if db is not None and not db.exists():
        raise UserInputError(
            f"{db}: no such vulnerability database", hint="pass a directory or .zip of OSV JSON files"
        )
    with tempfile.TemporaryDirectory(prefix="goslim-scan-") as tmp:
        target = open_target(target_text, Path(tmp), unpacked, platform)
        report = _scan(target, db)
    folder = out_dir or target.beside
    docs = [make_sbom(target.subject, fmt) for fmt in sbom_formats]
    if name:
        docs = [d.model_copy(update={"file_name": sbom_file_name(name, d.format)}) for d in docs]
    for doc in docs:
        write_text_atomic(folder / doc.file_name, doc.content)
    tag = None
    if docs and attach_sboms and target.attachable:
        digest = f"sha256:{target.subject.sha256}" if target.subject.sha256 else None
        tag = attach_sboms_to(target.location, docs, digest)
    elif docs and attach_sboms and target.kind == "image":
        note = (
            "SBOMs not attached: a docker-archive cannot carry them (push the image or write an oci: layout)"
        )
        report = report.model_copy(update={"notes": [*report.notes, note]})
    sboms = [
        SbomFile(
            format=doc.format,
            path=folder / doc.file_name,
            components=doc.components,
            attached_tag=tag,
            partial_reasons=doc.partial_reasons,
        )
        for doc in docs
    ]
    if sarif is not None:
        write_text_atomic(sarif, sarif_text(report))
    failures = [v.id for v in policy_failures(report.vulnerabilities, fail_on)]
    return ScanOutcome(report=report, sboms=sboms, sarif=sarif, fail_on=fail_on, policy_failures=failures)


def _scan(target: ScanTarget, db_path: Path | None) -> ScanReport:
    info = target.report.build_info if target.report else None
    modules = ["stdlib", *(d.path for d in info.deps)] if info else []
    if target.report is None or info is None:
        # Nothing to match; do not go online for an empty module list.
        db = load_vulndb(db_path) if db_path is not None else VulnDb(source="(not consulted)")
        no_db = None
    else:
        db, no_db = _open_vulndb_or_why(db_path, modules)
    if target.report is None:
        report = unmatched_report(target.location, "", db, [*target.subject.partial_reasons, *db.notes])
    else:
        report = scan_facts(
            target.report,
            db,
            target=target.location,
            binary_label=target.binary_label,
            missing=target.subject.partial_reasons,
        )
    if info is None:
        no_db = "no Go build info to match: modules are unknown"
    return report.model_copy(update={"not_checked": no_db}) if no_db else report
