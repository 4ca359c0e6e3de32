import json
import xml.etree.ElementTree as ET
from pathlib import Path

from goslim.report import JourneyStep, SlimRun, StageOutcome, write_report
from goslim.report.models import BaseRow, Claim
from goslim.verify.models import Checklist, CheckResult, CheckStatus


def sample_run() -> SlimRun:
    checklist = Checklist(
        image="oci:/tmp/x:latest",
        runtime="runc 1.1.5",
        platform="linux/amd64",
        seconds=3.0,
        results=(
            CheckResult(
                id="starts", title="starts and stays alive", status=CheckStatus.PASS, summary="alive 5 s"
            ),
            CheckResult(
                id="shutdown",
                title="graceful shutdown",
                status=CheckStatus.FAIL,
                summary="needed SIGKILL",
                evidence=("no exit within 2 s",),
            ),
        ),
    )
    return SlimRun(
        goslim_version="0.1.0",
        module_dir="/m",
        package="example.com/m",
        started="2026-01-01T00:00:00+00:00",
        stages=[
            StageOutcome(stage="build", status="ok", seconds=1.0),
            StageOutcome(stage="verify", status="ok", seconds=3.0),
            StageOutcome(stage="sign", status="skipped", message="no key configured"),
        ],
        journey=[
            JourneyStep(label="default go build", size=9_000_000, what="file"),
            JourneyStep(label="slim build", size=6_000_000, what="file"),
            JourneyStep(label="image to pull", size=2_800_000, what="image pull"),
        ],
        bases=[
            BaseRow(base="static", pull_size=2_800_000, disk_size=6_100_000, layers=2, files=9, starts=True)
        ],
        claims=[Claim(claim="UPX saves 25-50%", measured="not run", verdict="not measured")],
        checklist=checklist,
        exit_status=1,
    )


def test_report_files_are_written_and_consistent(tmp_path: Path) -> None:
    paths = write_report(sample_run(), tmp_path)
    html = paths["html"].read_text()
    assert html.count("<svg") == 2  # the journey and the bases chart, inline
    for external in ("<script src", "<link", '<img src="http', "url(http", 'href="http'):
        assert external not in html  # self-contained: nothing to fetch
    assert "needed SIGKILL" in html
    data = json.loads(paths["json"].read_text())
    assert data["exit_status"] == 1 and data["stages"][2]["status"] == "skipped"
    md = paths["markdown"].read_text()
    assert "| graceful shutdown | fail | needed SIGKILL |" in md
    junit = ET.fromstring(paths["junit"].read_text())
    verify = junit.find("testsuite[@name='goslim.verify']")
    assert verify is not None and verify.get("failures") == "1"
    assert junit.find(".//testcase[@name='sign']/skipped") is not None


def test_rewrite_replaces_files_atomically(tmp_path: Path) -> None:
    write_report(sample_run(), tmp_path)
    write_report(sample_run(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "junit.xml",
        "report.html",
        "report.json",
        "report.md",
    ]
