"""A stage's status says what happened: failed checks and broken policies fail it, a scan with no
database is `not checked`; never found by searching message text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from goslim.cli.slim import _what_failed
from goslim.errors import ExitStatus
from goslim.pipeline import StageRecorder, _broke_policy, _exit_status, checklist_verdict
from goslim.report.models import SlimRun, StageOutcome
from goslim.report.render import to_html, to_junit, to_markdown
from goslim.verify.models import Checklist, CheckResult, CheckStatus


def _run(stages: StageRecorder, **more: object) -> SlimRun:
    return SlimRun(goslim_version="t", module_dir=".", started="now", stages=stages.outcomes, **more)


def _checklist(*statuses: CheckStatus) -> Checklist:
    results = tuple(
        CheckResult(id=f"check-{i}", title=f"check {i}", status=s, summary=s.value)
        for i, s in enumerate(statuses)
    )
    return Checklist(image="oci:x", runtime="runc", platform="linux/amd64", results=results, seconds=1.0)


def _junit_stages(run: SlimRun) -> ET.Element:
    suite = ET.fromstring(to_junit(run)).find("testsuite[@name='goslim.stages']")
    assert suite is not None
    return suite


def test_a_broken_policy_fails_the_stage_and_the_run_whatever_the_message_says() -> None:
    stages = StageRecorder()
    stages.run("scan", lambda: None)
    stages.note("scan", "all fine, nothing about any flag here")
    assert _exit_status(stages, None) is ExitStatus.OK
    _broke_policy(stages, "scan", "--fail-on low: GO-2022-1059")
    assert stages.outcomes[0].status == "failed"
    assert _exit_status(stages, None) is ExitStatus.CHECK_FAILED
    run = _run(stages, exit_status=1)
    assert _what_failed(run) == "scan: --fail-on low: GO-2022-1059"
    assert _junit_stages(run).get("failures") == "1"


def test_a_slow_stop_fails_the_deploy_stage_it_broke() -> None:
    stages = StageRecorder()
    stages.run("deploy files", lambda: {"kubernetes": "k8s.yaml"})
    _broke_policy(stages, "deploy files", "shutdown needed SIGKILL (--allow-slow-stop accepts it)")
    [outcome] = stages.outcomes
    assert outcome.status == "failed" and outcome.policy is not None
    assert _exit_status(stages, None) is ExitStatus.CHECK_FAILED


def test_failed_checks_fail_the_verify_stage_in_the_list_junit_and_report() -> None:
    """Before: `ok verify` and goslim.stages failures="0" while checks failed."""
    checklist = _checklist(CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.WARN, CheckStatus.FAIL)
    printed: list[StageOutcome] = []
    stages = StageRecorder(printed.append)

    def verify() -> Checklist:
        status, why = checklist_verdict(checklist)
        stages.judge("verify", status, why)
        return checklist

    stages.run("verify", verify)
    [outcome] = printed  # the terminal line is printed once, already with the verdict
    assert outcome.status == "failed"
    assert outcome.message == "2 checks failed: check-1, check-3"
    assert _exit_status(stages, checklist) is ExitStatus.CHECK_FAILED
    run = _run(stages, checklist=checklist, exit_status=1)
    suite = _junit_stages(run)
    assert suite.get("failures") == "1"
    assert suite.find("testcase[@name='verify']/failure") is not None
    assert "| verify | failed | 2 checks failed" in to_markdown(run)
    assert '<td class="failed">failed</td>' in to_html(run)
    assert _what_failed(run) == "verify checks check-1, check-3"


def test_warned_checks_warn_the_stage_without_failing_the_run() -> None:
    checklist = _checklist(CheckStatus.PASS, CheckStatus.WARN, CheckStatus.SKIP)
    assert checklist_verdict(checklist) == ("warned", "1 check warned: check-1")
    assert checklist_verdict(_checklist(CheckStatus.PASS, CheckStatus.SKIP)) == ("ok", "")
    stages = StageRecorder()
    stages.run("verify", lambda: stages.judge("verify", *checklist_verdict(checklist)))
    assert stages.outcomes[0].status == "warned"
    assert _exit_status(stages, checklist) is ExitStatus.OK
    run = _run(stages, checklist=checklist)
    assert _junit_stages(run).get("failures") == "0"
    assert '<td class="warned">warned</td>' in to_html(run)


def test_not_checked_is_its_own_status_and_fails_closed_only_under_a_policy() -> None:
    stages = StageRecorder()
    stages.run("scan", lambda: stages.judge("scan", "not checked", "vulnerabilities not checked: offline"))
    assert stages.outcomes[0].status == "not checked"
    assert _exit_status(stages, None) is ExitStatus.OK
    run = _run(stages)
    skipped = _junit_stages(run).find("testcase[@name='scan']/skipped")
    assert skipped is not None and skipped.get("message", "").startswith("not checked: ")
    assert '<td class="not-checked">not checked</td>' in to_html(run)

    closed = StageRecorder()

    def scan() -> None:
        closed.judge("scan", "not checked", "vulnerabilities not checked: offline")
        closed.judge("scan", "not checked", policy="--fail-on high: vulnerabilities not checked")

    closed.run("scan", scan)
    [outcome] = closed.outcomes
    assert outcome.status == "not checked" and outcome.policy is not None
    assert _exit_status(closed, None) is ExitStatus.CHECK_FAILED
    assert _junit_stages(_run(closed)).get("failures") == "1"


def test_a_verdict_never_softens_an_error_or_a_skip() -> None:
    stages = StageRecorder()
    stages.skip("verify", "needs an image")
    stages.judge("verify", "warned", "late remark")
    assert stages.outcomes[0].status == "skipped"
