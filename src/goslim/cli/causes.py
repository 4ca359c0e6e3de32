"""The causes under a checklist: for every failed or warned check, its summary, the evidence that
explains it (the service's own log line) and the fix, as `slim` and `verify` both print them."""

from __future__ import annotations

from rich.console import Console

from goslim.cli.output import line
from goslim.verify.models import Checklist, CheckStatus

CAUSE_STYLES = {CheckStatus.FAIL: "bold red", CheckStatus.WARN: "yellow"}
EVIDENCE_SHOWN = 6  # the lines that explain it; the report has them all


def render_causes(console: Console, checklist: Checklist) -> None:
    """Print each failed or warned check's evidence (text from the image and its logs: never markup)."""
    for r in checklist.results:
        style = CAUSE_STYLES.get(r.status)
        if style is None:
            continue
        console.print(line((r.id, style), ": ", r.summary), highlight=False)
        for evidence in r.evidence[:EVIDENCE_SHOWN]:
            console.print(line("  ", (evidence, "dim")), highlight=False)
