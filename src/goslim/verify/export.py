"""A Checklist as JUnit XML (for CI test tabs) and as Markdown (for PR comments and reports).

Summaries and evidence quote the image (config, logs): every value goes through goslim.untrusted.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from goslim.untrusted import markdown_block, markdown_cell, markdown_code, xml_text
from goslim.verify.models import Checklist, CheckStatus

if TYPE_CHECKING:
    from goslim.verify.platforms import PlatformChecklists

ICONS = {CheckStatus.PASS: "✅", CheckStatus.WARN: "⚠️", CheckStatus.FAIL: "❌", CheckStatus.SKIP: "⏭️"}


def to_junit(checklist: Checklist) -> str:
    """One <testsuite>, a <testcase> per check: fail -> <failure>, skip -> <skipped>, else system-out."""
    counts = checklist.counts()
    suite = ET.Element(
        "testsuite",
        {
            "name": xml_text(f"goslim verify {checklist.image}"),
            "tests": str(len(checklist.results)),
            "failures": str(counts["fail"]),
            "errors": "0",
            "skipped": str(counts["skip"]),
            "time": f"{checklist.seconds:.3f}",
        },
    )
    for r in checklist.results:
        case = ET.SubElement(
            suite, "testcase",
            {"classname": "goslim.verify", "name": xml_text(r.id), "time": f"{r.seconds:.3f}"},
        )
        evidence = "\n".join(r.evidence)
        if r.status is CheckStatus.FAIL:
            fail = ET.SubElement(case, "failure", {"message": xml_text(r.summary), "type": "CheckFailed"})
            fail.text = xml_text(evidence)
        elif r.status is CheckStatus.SKIP:
            ET.SubElement(case, "skipped", {"message": xml_text(r.summary)})
        else:
            out = ET.SubElement(case, "system-out")
            out.text = xml_text(f"{r.status.value}: {r.summary}\n{evidence}".rstrip())
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def platforms_junit(result: PlatformChecklists) -> str:
    """One <testsuite> per platform of an index, in one <testsuites>."""
    suites = ET.Element("testsuites")
    for run in result.runs:
        one = ET.fromstring(to_junit(run.checklist).split("\n", 1)[1])
        suites.extend(list(one))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def to_markdown(checklist: Checklist) -> str:
    """A heading, a one-line verdict, and a table of checks with their summaries."""
    counts = checklist.counts()
    verdict = "**FAILED**" if not checklist.ok else "**passed**"
    lines = [
        f"## goslim verify: {markdown_code(checklist.image)}",
        "",
        f"{verdict}: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail, "
        f"{counts['skip']} skip"
        f" · {markdown_cell(checklist.platform)} · {markdown_cell(checklist.runtime or 'no container run')}"
        f" · {checklist.seconds:.1f}s"
        f" ({checklist.deliberate_wait_seconds:.1f}s deliberate waits)",
        "",
        "| | check | result | time |",
        "|---|---|---|---:|",
    ]
    for r in checklist.results:
        cells = f"{markdown_cell(r.id)} | {markdown_cell(r.summary)}"
        lines.append(f"| {ICONS[r.status]} | {cells} | {r.seconds:.2f}s |")
    failed = [r for r in checklist.results if r.status in (CheckStatus.FAIL, CheckStatus.WARN) and r.evidence]
    if failed:
        lines += ["", "### Evidence", ""]
        for r in failed:
            lines.append(f"**{markdown_cell(r.id)}** ({r.status.value})")
            lines += ["", *markdown_block(r.evidence), ""]
    return "\n".join(lines).rstrip() + "\n"

