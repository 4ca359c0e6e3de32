"""`goslim report merge`: the report.json files of many services (CI shards) as one summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import human_bytes, line, plain
from goslim.errors import CheckFailedError, ExitStatus, UserInputError
from goslim.report.merge import MergedReport, find_reports, merge_reports
from goslim.report.merge_render import write_merged

report_app = typer.Typer(help="Work with goslim reports.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")


@report_app.command("merge")
def merge(
    reports: Annotated[
        list[Path],
        typer.Argument(help="report.json files, or folders to search for them (the shards' --report)."),
    ],
    out: Annotated[Path, typer.Option(help="Folder for summary.html, summary.md and summary.json.")],
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """One summary (HTML, Markdown, JSON) over every service the shards' reports describe."""
    output = make_output(json_out)
    out_dir = out.resolve()
    merged = merge_reports(find_reports(reports), out_dir)
    paths = write_merged(merged, out_dir)
    output.emit(
        merged.model_dump(mode="json")
        | {"exit_status": merged.exit_status, "outputs": {k: str(p) for k, p in paths.items()}},
        lambda c: _render(c, merged, paths["html"]),
    )
    if merged.unreadable:
        first = merged.unreadable[0]
        raise UserInputError(
            f"{len(merged.unreadable)} report file(s) could not be read, e.g. {first.source}: {first.why}",
            hint=f"the summary lists the {len(merged.services)} services that could: {paths['html']}",
        )
    if merged.not_passed:
        names = ", ".join(s.package for s in merged.not_passed[:10])
        more = f" and {len(merged.not_passed) - 10} more" if len(merged.not_passed) > 10 else ""
        error = CheckFailedError(
            f"{len(merged.not_passed)} of {len(merged.services)} services did not pass: {names}{more}",
            hint=f"the summary says why: {paths['html']}",
        )
        error.exit_status = ExitStatus(merged.exit_status)
        raise error


def _render(console: Console, merged: MergedReport, html: Path) -> None:
    table = Table(title=f"goslim: {len(merged.services)} services", title_justify="left")
    for col in ("service", "result", "image pull", "checks", "seconds"):
        table.add_column(col, justify="right" if col in ("image pull", "seconds") else "left")
    for s in merged.services:
        result = plain("ok", "green") if s.exit_status == 0 else plain(f"exit {s.exit_status}", "red")
        checks = ", ".join(f"{n} {status}" for status, n in s.checks.items() if n) or "-"
        pull = human_bytes(s.pull_size) if s.pull_size is not None else "-"
        table.add_row(plain(s.package), result, pull, plain(checks), f"{s.seconds:.1f}")
    console.print(table)
    for u in merged.unreadable:
        console.print(line(("unreadable", "red"), " ", u.source, ": ", u.why), highlight=False)
    console.print(line(("summary", "bold"), ": ", str(html)), highlight=False)
