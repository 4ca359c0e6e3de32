"""`goslim scan`: vulnerabilities with symbol evidence, SBOMs beside and attached to the image, SARIF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import line, plain
from goslim.config import load_config
from goslim.platform import Platform
from goslim.scan import FAIL_ON_CHOICES, PolicyFailedError, ScanOutcome, run_scan
from goslim.scan.models import STATUS_MEANING
from goslim.scan.vulndb import DB_HINT

_STATUS_STYLE = {"called": "bold red", "unknown": "yellow", "imported": "cyan", "not-linked": "dim"}


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)


def scan(
    target: Annotated[
        str,
        typer.Argument(
            help="A binary, or an image: oci:DIR[:TAG], docker-archive:FILE, HOST/REPO[:TAG|@DIGEST]."
        ),
    ],
    db: Annotated[
        Path | None,
        typer.Option(
            help="Go vulndb OSV data: a directory or .zip (default: goslim.yaml scan.db, else vuln.go.dev)."
        ),
    ] = None,
    sbom: Annotated[
        list[str] | None,
        typer.Option(help="SBOM format to write: cyclonedx, spdx (repeatable; default both)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Directory for SBOM files (default: beside the target).")
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            help=f"Exit 1 on a finding in code the binary has at or above "
            f"this severity ({'|'.join(FAIL_ON_CHOICES)}); unknown "
            f"severity counts, and so does a scan that checked nothing (no database: fails closed)."
        ),
    ] = None,
    sarif: Annotated[Path | None, typer.Option(help="Also write the findings as SARIF 2.1.0.")] = None,
    no_attach: Annotated[bool, typer.Option("--no-attach", help="Do not attach SBOMs to the image.")] = False,
    binary: Annotated[
        Path | None,
        typer.Option(
            help="For an image with a UPX-packed entrypoint: the binary before packing, for build info."
        ),
    ] = None,
    platform: Annotated[
        str | None,
        typer.Option(help="Of an image index, the platform to scan (default: this machine's)."),
    ] = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Scan a Go binary or image: vulnerabilities (OSV), SBOMs (CycloneDX 1.6, SPDX 2.3), SARIF."""
    output = make_output(json_out)
    config = load_config(Path.cwd()).scan
    db_path = db or (Path(config.db) if config.db else None)
    with output.progress("scan"):
        outcome = run_scan(
            target,
            db=db_path,
            sbom_formats=sbom or list(config.sbom),
            out_dir=out,
            fail_on=fail_on or config.fail_on,
            sarif=sarif,
            attach_sboms=not no_attach,
            unpacked=binary,
            platform=Platform.parse(platform) if platform else None,
        )
    output.emit(outcome, lambda c: render(c, outcome))
    if outcome.policy_failures:
        raise PolicyFailedError(
            f"{_count(len(outcome.policy_failures), 'finding')} at or above --fail-on {outcome.fail_on}: "
            f"{', '.join(outcome.policy_failures)}",
            hint="upgrade to the fixed versions shown (Go toolchain or modules), then scan again",
        )
    if outcome.policy_breach() is not None:  # nothing checked: --fail-on fails closed
        raise PolicyFailedError(
            f"vulnerabilities not checked, so --fail-on {outcome.fail_on} fails closed: "
            f"{outcome.report.not_checked}",
            hint=(f"{DB_HINT}; " if outcome.report.go_version else "") + "the SBOMs were written",
        )


def render(console: Console, outcome: ScanOutcome) -> None:
    report = outcome.report
    title = f"goslim scan {report.target}"
    if report.go_version:
        modules = _count(len(report.modules), "module")
        title += f" ({report.go_version}, {modules} incl. stdlib)"
    table = Table(title=line(title), title_justify="left")
    show_severity = any(v.severity != "unknown" for v in report.vulnerabilities)
    for col in (
        "id",
        "CVE",
        "module@version",
        "fixed",
        *(("severity",) if show_severity else ()),
        "status",
        "evidence",
    ):
        table.add_column(col, no_wrap=col in ("id", "CVE", "fixed", "status"))
    for v in report.vulnerabilities:
        style = _STATUS_STYLE[v.status]
        cves = [a for a in v.aliases if a.startswith("CVE-")]
        evidence = v.symbols_found[0].rsplit("/", 1)[-1] if v.symbols_found else "-"
        if len(v.symbols_found) > 1:
            evidence += f" +{len(v.symbols_found) - 1}"
        # Module paths and versions come from the binary, ids and aliases from the vulnerability data.
        table.add_row(
            plain(v.id),
            plain(cves[0] if cves else "-"),
            plain(f"{v.module}@{v.version}"),
            plain(v.fixed_in or "none"),
            *((plain(v.severity),) if show_severity else ()),
            plain(v.status, style),
            plain(evidence),
        )
    if report.vulnerabilities:
        console.print(table)
        for status in dict.fromkeys(v.status for v in report.vulnerabilities):
            console.print(
                f"  [{_STATUS_STYLE[status]}]{status}[/]: {STATUS_MEANING[status]}", highlight=False
            )
    elif report.not_checked is not None:
        console.print(
            line(("vulnerabilities not checked", "yellow"), f": {report.not_checked}"), highlight=False
        )
        if report.go_version:  # the build info was read: the database is what was missing
            console.print(line("  ", ("hint:", "cyan"), f" {DB_HINT}"), highlight=False)
    elif report.go_version:
        console.print(
            line(("no known vulnerabilities", "green"), f" in {report.target} ({report.go_version}, "
                 f"{_count(len(report.modules), 'module')}) against {report.db_entries} entries "
                 f"of {report.db_source}"),
            highlight=False,
        )
    for s in outcome.sboms:
        attached = f", attached as {s.attached_tag}" if s.attached_tag else ""
        count = _count(s.components, "component")
        console.print(line(f"SBOM {s.format}: {s.path} ({count}{attached})"), highlight=False)
        for reason in s.partial_reasons:
            console.print(line("  ", ("partial:", "yellow"), " ", reason), highlight=False)
    if outcome.sarif:
        console.print(line(f"SARIF: {outcome.sarif}"), highlight=False)
    for note in report.notes:
        if note not in {r for s in outcome.sboms for r in s.partial_reasons}:
            console.print(plain(f"note: {note}", "dim"), highlight=False)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
