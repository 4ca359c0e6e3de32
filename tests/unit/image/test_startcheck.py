"""compare's start verdict and its detail come from verify's checks, so they can never disagree."""

from __future__ import annotations

from goslim.image.startcheck import start_from_checklist
from goslim.verify.models import Checklist, CheckResult, CheckStatus

P, F, S = CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.SKIP


def _checklist(*results: tuple[str, CheckStatus, str]) -> Checklist:
    return Checklist(
        image="oci:x:t",
        runtime="runc",
        platform="linux/amd64",
        results=tuple(
            CheckResult(id=i, title=i, status=st, summary=summary, evidence=(f"log: {i} line",))
            for i, st, summary in results
        ),
        seconds=1.0,
    )


def test_a_failed_readiness_check_decides_and_is_the_detail() -> None:
    start = start_from_checklist(
        _checklist(
            ("starts", P, "started in 20 ms, alive for 1s"),
            ("startup", P, "TCP :8080 opened after 0.1s"),
            ("readiness", F, "GET :8080/healthz answered 503 every time"),
        )
    )
    assert not start.started
    assert start.detail == "GET :8080/healthz answered 503 every time"  # never "200 OK" beside starts: false
    assert start.verdicts == {"starts": "pass", "startup": "pass", "readiness": "fail"}


def test_an_early_exit_is_the_detail_and_its_log_lines_the_tail() -> None:
    start = start_from_checklist(
        _checklist(
            ("starts", F, "exited after 0.1s with exit code 1"),
            ("startup", S, "not probed: exited with exit code 1 before it listened (see starts)"),
        )
    )
    assert not start.started and start.detail == "exited after 0.1s with exit code 1"
    assert start.log_tail == "starts line"


def test_a_ready_service_is_started_with_the_readiness_summary() -> None:
    start = start_from_checklist(
        _checklist(
            ("starts", P, "started in 20 ms, alive for 1s"),
            ("readiness", P, "GET :9100/-/ready answered 200 after 0.2s"),
            ("shutdown", F, "no SIGTERM handler: exit code 2"),
        )
    )
    assert start.started
    assert start.detail == "GET :9100/-/ready answered 200 after 0.2s; no SIGTERM handler: exit code 2"
