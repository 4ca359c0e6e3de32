"""A ``MergedReport`` (many services) as HTML, Markdown and JSON, escaped as the one-service report is."""

from __future__ import annotations

import json
from pathlib import Path

from goslim.fsutil import output_dir, write_text_atomic
from goslim.report.merge import MergedReport
from goslim.report.render import html_environment
from goslim.untrusted import markdown_cell, markdown_code


def merged_to_html(merged: MergedReport) -> str:
    """The self-contained HTML summary; values escaped and cut as in the one-service report."""
    return html_environment().get_template("merged.html.j2").render(merged=merged)


def merged_to_markdown(merged: MergedReport) -> str:
    """A table of all services, fit for a CI job summary or a pull-request comment."""
    c = markdown_cell
    passed = len(merged.services) - len(merged.not_passed)
    lines = [
        f"### goslim: {len(merged.services)} services — {passed} passed, {len(merged.not_passed)} did not",
        "",
        "| service | result | image pull | checks | seconds | image |",
        "|---|---|---:|---|---:|---|",
    ]
    for s in merged.services:
        result = "ok" if s.exit_status == 0 else f"exit {s.exit_status}: {'; '.join(s.failed)}"
        pull = f"{s.pull_size:,}" if s.pull_size is not None else "-"
        checks = ", ".join(f"{n} {status}" for status, n in s.checks.items() if n) or "-"
        image = markdown_code(s.image) if s.image else "-"
        lines.append(
            f"| {markdown_code(s.package)} | {c(result)} | {pull} | {c(checks)} | {s.seconds:.1f} | {image} |"
        )
    if merged.unreadable:
        lines += ["", "| report file that could not be read | why |", "|---|---|"]
        lines += [f"| {markdown_code(u.source)} | {c(u.why)} |" for u in merged.unreadable]
    return "\n".join(lines) + "\n"


def summary_paths(out_dir: Path) -> dict[str, Path]:
    """Where ``write_merged`` puts each rendering (not report.*: a later merge must not read them back)."""
    return {
        "html": out_dir / "summary.html",
        "markdown": out_dir / "summary.md",
        "json": out_dir / "summary.json",
    }


def write_merged(merged: MergedReport, out_dir: Path) -> dict[str, Path]:
    """Write summary.html, summary.md and summary.json atomically into ``out_dir``."""
    output_dir(out_dir)
    paths = summary_paths(out_dir)
    document = merged.model_dump(mode="json") | {"exit_status": merged.exit_status}
    write_text_atomic(paths["json"], json.dumps(document, indent=2) + "\n")
    write_text_atomic(paths["markdown"], merged_to_markdown(merged))
    write_text_atomic(paths["html"], merged_to_html(merged))
    return paths
