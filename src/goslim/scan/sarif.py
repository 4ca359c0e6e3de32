"""SARIF 2.1.0 for code-scanning dashboards: one rule per OSV entry, one result per finding."""

from __future__ import annotations

import json
from pathlib import Path

from goslim import __version__
from goslim.scan.models import STATUS_MEANING, ScanReport, Vulnerability
from goslim.untrusted import clean_json

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub code scanning reads a 0-10 "security-severity"; unknown is reported as medium.
_SECURITY_SEVERITY = {"low": "3.0", "medium": "5.0", "high": "7.5", "critical": "9.5", "unknown": "5.0"}
_LEVEL = {"called": "error", "unknown": "warning", "imported": "note", "not-linked": "note"}


def to_sarif(report: ScanReport) -> dict:
    """The report as a SARIF log (a dict ready for json.dumps)."""
    rules: dict[str, dict] = {}
    results = []
    for v in report.vulnerabilities:
        rules.setdefault(v.id, _rule(v))
        results.append(_result(report, v, list(rules).index(v.id)))
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "goslim",
                        "version": __version__,
                        "informationUri": "https://pkg.go.dev/vuln/",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
                "properties": {
                    "db": report.db_source,
                    "go_version": report.go_version,
                    "notes": report.notes,
                    "not_checked": report.not_checked,  # why no vulnerability was checked, if so
                },
            }
        ],
    }


def sarif_text(report: ScanReport) -> str:
    """SARIF as text; module paths and notes come from the binary, so no control character stays in."""
    return json.dumps(clean_json(to_sarif(report)), indent=2) + "\n"


def _rule(v: Vulnerability) -> dict:
    return {
        "id": v.id,
        "name": v.id.replace("-", ""),
        "shortDescription": {"text": v.summary or v.id},
        "fullDescription": {"text": v.summary or v.id},
        "helpUri": v.url,
        "help": {"text": f"{v.id} ({', '.join(v.aliases) or 'no aliases'}): {v.summary}. See {v.url}"},
        "properties": {
            "tags": ["security", "vulnerability", *v.aliases],
            "security-severity": _SECURITY_SEVERITY[v.severity],
        },
    }


def _result(report: ScanReport, v: Vulnerability, rule_index: int) -> dict:
    fix = f"; fixed in {v.fixed_in}" if v.fixed_in else "; no fixed version"
    evidence = f" ({', '.join(v.symbols_found)})" if v.symbols_found else ""
    return {
        "ruleId": v.id,
        "ruleIndex": rule_index,
        "level": _LEVEL[v.status],
        "message": {
            "text": f"{v.module}@{v.version} is affected by {v.id}{fix}: {STATUS_MEANING[v.status]}{evidence}"
        },
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(report.binary)}}}],
        "properties": {
            "status": v.status,
            "severity": v.severity,
            "module": v.module,
            "version": v.version,
            "fixed_in": v.fixed_in,
            "symbols": v.symbols_found,
        },
    }


def _uri(path: str) -> str:
    return Path(path).as_uri() if Path(path).is_absolute() else path
