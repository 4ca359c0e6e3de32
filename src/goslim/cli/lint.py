"""`goslim lint DOCKERFILE`: goslim's rules checked on a Dockerfile, as file:line findings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import line
from goslim.dockerfile import RULES, LintReport, Severity, lint_file
from goslim.errors import CheckFailedError, UserInputError

_COLOURS = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def register(app: typer.Typer) -> None:
    app.command("lint")(lint)


def lint(
    dockerfile: Annotated[
        Path | None, typer.Argument(help="The Dockerfile to check (or a folder holding one).")
    ] = None,
    fail_on: Annotated[
        str, typer.Option(help="Exit 1 on findings of this severity or worse: error|warning.")
    ] = "error",
    rules: Annotated[bool, typer.Option("--rules", help="List the rules and exit.")] = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Check a Dockerfile: cache-busting layers, root user, shell-form ENTRYPOINT, cgo on scratch, more."""
    if fail_on not in ("error", "warning"):
        raise UserInputError(f"unknown --fail-on '{fail_on}'", hint="use error or warning")
    output = make_output(json_out)
    if rules:
        listing = [
            {"rule": r.rule, "name": r.name, "severity": r.severity.value, "summary": r.summary}
            for r in RULES
        ]
        output.emit(listing, render_rules)
        return
    if dockerfile is None:
        raise UserInputError("no Dockerfile given", hint="goslim lint path/to/Dockerfile (or --rules)")
    report = lint_file(dockerfile)
    payload = {
        "path": report.path,
        "errors": report.errors,
        "warnings": report.warnings,
        "findings": [f.model_dump(mode="json") for f in report.findings],
    }
    output.emit(payload, lambda c: render(c, report))
    failing = report.errors + (report.warnings if fail_on == "warning" else 0)
    if failing:
        raise CheckFailedError(
            f"{failing} finding(s) at {fail_on} level or worse in {report.path}",
            hint="fix them, or compare with the Dockerfile `goslim dockerfile` writes",
        )


def render(console: Console, report: LintReport) -> None:
    for finding in report.findings:
        colour = _COLOURS[finding.severity]
        # Messages quote the Dockerfile's lines: text, never markup.
        console.print(
            line(finding.location(report.path), ": ", (finding.severity.value, colour), " ",
                 (f"{finding.rule} {finding.name}", "dim"), " ", finding.message),
            highlight=False,
        )
        if finding.hint:
            console.print(line("    ", ("fix:", "dim"), " ", finding.hint), highlight=False)
    if not report.findings:
        console.print(line(report.path, ": ", ("no findings", "green")))
    else:
        console.print(
            f"[bold]{report.errors} error(s), {report.warnings} warning(s), "
            f"{len(report.findings) - report.errors - report.warnings} info[/]"
        )


def render_rules(console: Console) -> None:
    table = Table(title="goslim lint rules", title_justify="left")
    for col in ("rule", "name", "severity", "what it catches"):
        table.add_column(col)
    for r in RULES:
        table.add_row(r.rule, r.name, f"[{_COLOURS[r.severity]}]{r.severity.value}[/]", r.summary)
    console.print(table)
