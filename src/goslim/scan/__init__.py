"""The scan stage: vulnerabilities (Go vulndb OSV data, with symbol evidence) and SBOMs (CycloneDX, SPDX).

Public API: ``scan_binary(path, db) -> ScanReport``, ``load_vulndb(path)`` / ``fetch_vulndb(modules)``,
``make_sbom(SbomSubject, "cyclonedx"|"spdx") -> SbomDocument``, ``binary_target(path).subject`` /
``image_target(location, workdir).subject`` for the subject, ``attach_sboms_to(location, docs)``,
``run_scan(...) -> ScanOutcome`` (what `goslim scan` does), ``to_sarif(report)``.
"""

from goslim.scan.errors import PolicyFailedError, VulnDbError
from goslim.scan.match import FAIL_ON_CHOICES, policy_failures
from goslim.scan.models import OsPackage, SbomDocument, ScannedModule, ScanReport, Vulnerability
from goslim.scan.run import SbomFile, ScanOutcome, attach_sboms_to, run_scan
from goslim.scan.sarif import to_sarif
from goslim.scan.sbom import SBOM_FORMATS, SbomSubject, make_sbom
from goslim.scan.scanner import scan_binary
from goslim.scan.target import binary_target, image_target
from goslim.scan.vulndb import VulnDb, fetch_vulndb, load_vulndb

__all__ = [
    "FAIL_ON_CHOICES",
    "SBOM_FORMATS",
    "OsPackage",
    "PolicyFailedError",
    "SbomDocument",
    "SbomFile",
    "SbomSubject",
    "ScanOutcome",
    "ScanReport",
    "ScannedModule",
    "VulnDb",
    "VulnDbError",
    "Vulnerability",
    "attach_sboms_to",
    "binary_target",
    "fetch_vulndb",
    "image_target",
    "load_vulndb",
    "make_sbom",
    "policy_failures",
    "run_scan",
    "scan_binary",
    "to_sarif",
]
