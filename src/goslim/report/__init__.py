"""The report stage: a ``SlimRun`` rendered as HTML, Markdown, JSON and JUnit, plus the guide claims."""

from goslim.report.claims import evaluate_claims
from goslim.report.models import BaseRow, Claim, JourneyStep, SlimRun, StageOutcome
from goslim.report.render import report_paths, to_html, to_junit, to_markdown, write_report
from goslim.report.symbolize import StackEvidence, goroutine_dump

__all__ = [
    "BaseRow",
    "Claim",
    "JourneyStep",
    "SlimRun",
    "StackEvidence",
    "StageOutcome",
    "evaluate_claims",
    "goroutine_dump",
    "report_paths",
    "to_html",
    "to_junit",
    "to_markdown",
    "write_report",
]
