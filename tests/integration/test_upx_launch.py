"""goslim.launch with real processes: ready detection, memory sampling, isolation, stopping."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from goslim.launch import (
    LaunchError,
    Sandbox,
    describe_exit,
    read_rss,
    run_then_signal,
    run_to_exit,
    start_until_ready,
)
from goslim.probe import ProbeSpec
from goslim.report.symbolize import goroutine_dump
from tests.conftest import BuildFixture

ENV = {"PATH": "/usr/bin:/bin"}


def test_first_output_line_is_ready_and_memory_is_sampled(tmp_path: Path):
    run = start_until_ready(["/bin/sh", "-c", "echo up; exec sleep 30"], env=ENV, cwd=tmp_path, timeout_s=10)
    assert run.ok and run.how == "first output line" and run.seconds is not None
    assert run.rss is not None and run.rss.rss_kib > 0
    assert run.output_tail == "up"


def test_a_crash_before_ready_is_not_ready(tmp_path: Path):
    run = start_until_ready(["/bin/sh", "-c", "kill -SEGV $$"], env=ENV, cwd=tmp_path, timeout_s=10)
    assert not run.ok and "SIGSEGV" in run.detail


def test_silent_program_counts_as_ready_once_settled(tmp_path: Path):
    run = start_until_ready(["/bin/sleep", "30"], env=ENV, cwd=tmp_path, settle_s=0.3, timeout_s=10)
    assert run.ok and run.how.startswith("still running") and run.rss is not None


def test_private_network_has_only_loopback_and_it_is_up(tmp_path: Path):
    run = run_to_exit(
        ["/bin/cat", "/proc/net/dev"],
        env=ENV,
        cwd=tmp_path,
        timeout_s=10,
        sandbox=Sandbox(private_network=True),
    )
    interfaces = [line.split(":")[0].strip() for line in run.stdout.splitlines()[2:]]
    assert run.returncode == 0 and interfaces == ["lo"]


def test_timeout_kills_and_says_so(tmp_path: Path):
    run = run_to_exit(["/bin/sleep", "30"], env=ENV, cwd=tmp_path, timeout_s=0.3)
    assert run.timed_out and run.describe() == "timed out"
    assert describe_exit(-11) == "killed by SIGSEGV" and describe_exit(2) == "exit 2"


def test_probe_reaches_a_server_inside_its_namespace_and_it_is_stopped(
    go_build: BuildFixture, tmp_path: Path
):
    echo = go_build("upx-echo")
    # Two launches on the same port back to back: each has its own namespace, nothing clashes.
    for _ in range(2):
        run = start_until_ready(
            [str(echo.path)],
            env={**ENV, "PORT": "9000"},
            cwd=tmp_path,
            probe=ProbeSpec("tcp", 9000),
            timeout_s=15,
        )
        assert run.ok, run.detail
        assert run.how == "probe TCP :9000" and run.rss is not None and run.rss.file_kib > 0
    assert read_rss(2**22 + 7) is None


def test_write_exec_denial_leaves_a_plain_go_binary_running(go_build: BuildFixture, tmp_path: Path):
    echo = go_build("upx-echo")
    run = run_to_exit(
        [str(echo.path), "-h"], env=ENV, cwd=tmp_path, timeout_s=10, sandbox=Sandbox(deny_write_exec=True)
    )
    if run.returncode is not None and run.returncode < 0:
        pytest.fail(f"an unpacked Go binary should run under PR_SET_MDWE: {run.describe()}")
    assert "greeting" in run.stderr


def test_run_then_signal_reports_how_the_program_ended(tmp_path: Path) -> None:
    run = run_then_signal(
        ["sleep", "30"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        after_s=0.2,
        signum=signal.SIGTERM,
        sandbox=Sandbox(),
    )
    assert run.returncode == -signal.SIGTERM and run.describe() == "killed by SIGTERM"
    assert 0.2 <= run.seconds < 10
    with pytest.raises(LaunchError, match="cannot run"):
        run_then_signal(
            [str(tmp_path / "missing")],
            env={},
            cwd=tmp_path,
            after_s=0,
            signum=signal.SIGTERM,
            sandbox=Sandbox(),
        )


def test_goroutine_dump_of_a_stripped_build_is_symbolised(go_build) -> None:
    evidence = goroutine_dump(go_build("hello-api").path)
    assert evidence.symbolised, evidence.detail
    assert evidence.frames[0].startswith("main.")
