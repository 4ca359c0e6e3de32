"""A policy failure is a typed outcome of the stage that ran, never found by searching message text."""

from __future__ import annotations

from goslim.cli.slim import _what_failed
from goslim.errors import ExitStatus
from goslim.pipeline import StageRecorder, _broke_policy, _exit_status
from goslim.report.models import SlimRun


def test_a_broken_policy_fails_the_run_whatever_the_message_says() -> None:
    stages = StageRecorder()
    stages.run("scan", lambda: None)
    stages.note("scan", "all fine, nothing about any flag here")
    assert _exit_status(stages, None) is ExitStatus.OK
    _broke_policy(stages, "scan", "--fail-on low: GO-2022-1059")
    assert _exit_status(stages, None) is ExitStatus.CHECK_FAILED
    run = SlimRun(goslim_version="t", module_dir=".", started="now", stages=stages.outcomes, exit_status=1)
    assert _what_failed(run) == "scan: --fail-on low: GO-2022-1059"


def test_a_slow_stop_is_a_policy_of_the_deploy_stage() -> None:
    stages = StageRecorder()
    stages.run("deploy files", lambda: {"kubernetes": "k8s.yaml"})
    _broke_policy(stages, "deploy files", "shutdown needed SIGKILL (--allow-slow-stop accepts it)")
    [outcome] = stages.outcomes
    assert outcome.status == "ok" and outcome.policy is not None
    assert _exit_status(stages, None) is ExitStatus.CHECK_FAILED
