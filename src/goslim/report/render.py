"""Render a ``SlimRun`` as HTML (self-contained), Markdown (for a pull request), JSON and JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import jinja2
import markupsafe

from goslim.fsutil import write_text_atomic
from goslim.report.models import SlimRun
from goslim.scan.models import ScanReport
from goslim.untrusted import DEFAULT_LIMIT, clean, markdown_cell, markdown_code, xml_text

MIB = 1024 * 1024
HTML_LIMIT = 16 * DEFAULT_LIMIT  # characters of one value in the HTML report


def html_environment() -> jinja2.Environment:
    """The report templates: every value HTML-escaped and its control characters spelled out."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(files("goslim.report") / "templates")),
        autoescape=True,  # the only |safe values are goslim's own SVG charts
        undefined=jinja2.StrictUndefined,
        finalize=_html_value,
    )


def to_html(run: SlimRun) -> str:
    """The self-contained HTML report; every value is HTML-escaped and its control characters spelled out."""
    needs = list(run.analysis.needs) if run.analysis else []
    return html_environment().get_template("report.html.j2").render(run=run, charts=_charts(run), needs=needs,
                                                     platforms=platform_rows(run))


@dataclass(frozen=True)
class PlatformRow:
    """One platform of an image index in the report: its image, how it ran, what its checks said."""

    platform: str
    digest: str
    pull_size: int
    ran: str  # natively | emulated (emulator version) | not run: why
    checks: str  # "17 pass, 0 warn, 0 fail, 0 skip" or "not verified"
    scan: str  # what the platform's own binary was matched against, and what it found


def platform_rows(run: SlimRun) -> list[PlatformRow]:
    """A row per platform of the index (none for a single-platform run); the first ran the whole pipeline."""
    if run.index is None:
        return []
    runs = {r.platform: r for r in run.platform_checks.runs} if run.platform_checks else {}
    rows = []
    for i, image in enumerate(run.index.images):
        other = runs.get(image.platform)
        checklist = run.checklist if i == 0 else (other.checklist if other else None)
        if i == 0:
            ran = "natively (the whole pipeline)" if checklist else "not verified"
            if checklist and run.checklist_reused:
                ran = "reused: its attested native run"
        else:
            ran = other.how if other else "not verified"
        checks = "not verified"
        if checklist:
            n = checklist.counts()
            checks = f"{n['pass']} pass, {n['warn']} warn, {n['fail']} fail, {n['skip']} skip"
        scanned = run.scan if i == 0 else run.platform_scans.get(image.platform)
        rows.append(PlatformRow(image.platform, image.digest, image.pull_size, ran, checks,
                                scan_cell(scanned)))
    return rows


def scan_cell(report: ScanReport | None) -> str:
    """One platform's scan in a table cell: the GOOS/GOARCH matched and the findings by status."""
    if report is None:
        return "not scanned"
    if report.not_checked is not None:
        return f"not checked: {report.not_checked}"
    counts = report.counts()
    found = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no known vulnerabilities"
    return f"{report.go_version or 'Go ?'}: {found}"


def _html_value(value: object) -> object:
    # Runs before autoescaping: strings from images and binaries lose their control characters.
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return clean(value, multiline=True, limit=HTML_LIMIT)
    return value


def _charts(run: SlimRun) -> dict[str, str]:
    # Imported here: matplotlib takes seconds to import, and only report writing needs it.
    from goslim.report import charts  # noqa: PLC0415

    drawn: dict[str, str] = {}
    if run.journey:
        drawn["waterfall"] = charts.waterfall(run.journey)
    if run.bases:
        drawn["bases"] = charts.pull_vs_disk(run.bases)
    if run.upx:
        rows = [r for r in run.upx.rows if r.memory is not None]
        if rows:
            drawn["upx"] = charts.upx_levels(
                [r.level for r in rows],
                [r.startup_ms for r in rows],
                [r.memory.anon_kib / 1024 for r in rows],  # type: ignore[union-attr]
                [r.memory.file_kib / 1024 for r in rows],  # type: ignore[union-attr]
            )
    if run.analysis and run.analysis.packages:
        top = run.analysis.packages[:15]
        drawn["packages"] = charts.packages([p.package for p in top], [p.size for p in top])
    return drawn


def to_markdown(run: SlimRun) -> str:
    """A compact summary fit for a pull-request comment (every cell escaped for Markdown)."""
    c = markdown_cell
    lines = [f"### goslim: {markdown_code(run.package or run.module_dir)} — exit {run.exit_status}", ""]
    lines += ["| stage | result | detail |", "|---|---|---|"]
    lines += [f"| {c(s.stage)} | {c(s.status)} | {c(s.message)} |" for s in run.stages]
    if run.decisions:
        lines += ["", "| decision | value | source | reason |", "|---|---|---|---|"]
        lines += [
            f"| {c(d.subject)} | {c(d.value)} | {c(d.source)} | {c(d.reason)} |" for d in run.decisions
        ]
    if run.journey:
        first = run.journey[0].size
        lines += ["", "| size journey | bytes | vs default build |", "|---|---:|---:|"]
        lines += [f"| {c(j.label)} ({c(j.what)}) | {j.size:,} | {j.size / first:.3f}x |" for j in run.journey]
    if run.index is not None:
        lines += ["", f"index {markdown_code(run.index.digest)}", "",
                  "| platform | pull bytes | ran | checks | vulnerabilities |", "|---|---:|---|---|---|"]
        lines += [f"| {c(p.platform)} | {p.pull_size:,} | {c(p.ran)} | {c(p.checks)} | {c(p.scan)} |"
                  for p in platform_rows(run)]
    if run.checklist:
        lines += ["", "| check | result | summary |", "|---|---|---|"]
        lines += [f"| {c(r.title)} | {r.status.value} | {c(r.summary)} |" for r in run.checklist.results]
    if run.claims:
        lines += ["", "| claim | verdict | measured |", "|---|---|---|"]
        lines += [f"| {c(cl.claim)} | {c(cl.verdict)} | {c(cl.measured)} |" for cl in run.claims]
    if run.outputs:
        lines += ["", *[f"- {c(what)}: {markdown_code(path)}" for what, path in run.outputs.items()]]
    return "\n".join(lines) + "\n"


def to_junit(run: SlimRun) -> str:
    """Stages and verify checks as JUnit test cases, so CI systems show them (only XML-legal text)."""
    x = xml_text
    suites = ET.Element("testsuites", name="goslim")
    stages = ET.SubElement(suites, "testsuite", name="goslim.stages", tests=str(len(run.stages)))
    for s in run.stages:
        case = ET.SubElement(
            stages, "testcase", classname="goslim.stages", name=x(s.stage), time=f"{s.seconds:.3f}"
        )
        if s.fails_run:  # failed, or not checked under a policy that fails closed
            message = s.message if s.status == "failed" else f"{s.status}: {s.message}"
            ET.SubElement(case, "failure", message=x(message)).text = x(s.hint or s.policy or s.message)
        elif s.status in ("skipped", "cancelled", "not checked"):
            message = s.message if s.status == "skipped" else f"{s.status}: {s.message}"
            ET.SubElement(case, "skipped", message=x(message))
        elif s.status == "warned":
            ET.SubElement(case, "system-out").text = x(f"warned: {s.message}")
    stages.set("failures", str(sum(s.fails_run for s in run.stages)))
    if run.checklist:
        checks = ET.SubElement(
            suites, "testsuite", name="goslim.verify", tests=str(len(run.checklist.results))
        )
        for r in run.checklist.results:
            case = ET.SubElement(
                checks, "testcase", classname="goslim.verify", name=x(r.id), time=f"{r.seconds:.3f}"
            )
            if r.status.value == "fail":
                ET.SubElement(case, "failure", message=x(r.summary)).text = x("\n".join(r.evidence))
            elif r.status.value == "skip":
                ET.SubElement(case, "skipped", message=x(r.summary))
            elif r.evidence:
                ET.SubElement(case, "system-out").text = x("\n".join(r.evidence))
        checks.set("failures", str(len(run.checklist.failed)))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def report_paths(out_dir: Path) -> dict[str, Path]:
    """Where ``write_report`` puts each rendering."""
    return {
        "html": out_dir / "report.html",
        "markdown": out_dir / "report.md",
        "json": out_dir / "report.json",
        "junit": out_dir / "junit.xml",
    }


def write_report(run: SlimRun, out_dir: Path) -> dict[str, Path]:
    """Write report.html, report.md, report.json and junit.xml atomically into ``out_dir``."""
    paths = report_paths(out_dir)
    write_text_atomic(paths["json"], json.dumps(run.model_dump(mode="json"), indent=2) + "\n")
    write_text_atomic(paths["markdown"], to_markdown(run))
    write_text_atomic(paths["junit"], to_junit(run))
    write_text_atomic(paths["html"], to_html(run))
    return paths
