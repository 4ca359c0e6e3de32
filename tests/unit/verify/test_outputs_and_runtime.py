"""JUnit/Markdown output, flag/config merging, and the runtime wrapper with a fake runner."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from goslim.config import ServiceConfig, VerifyConfig
from goslim.contract_resolve import parse_flags, resolve_contract
from goslim.errors import ToolError, ToolMissingError, UserInputError
from goslim.runner import ProcessResult
from goslim.verify import options_from_config as build_options
from goslim.verify.export import to_junit, to_markdown
from goslim.verify.models import Checklist, CheckResult, CheckStatus
from goslim.verify.runtime import ID_PREFIX, OciRuntime, sweep_temp_dirs
from tests.fakes import ScriptedRunner


def _checklist() -> Checklist:
    results = (
        CheckResult(id="starts", title="starts", status=CheckStatus.PASS, summary="ok", seconds=1.0),
        CheckResult(
            id="logs", title="logs", status=CheckStatus.WARN, summary="wrote nothing", evidence=("e",)
        ),
        CheckResult(
            id="shutdown",
            title="shutdown",
            status=CheckStatus.FAIL,
            summary="needed SIGKILL | x",
            evidence=("SIGTERM sent", "exit: killed by SIGKILL (status 137)"),
        ),
        CheckResult(id="startup", title="startup", status=CheckStatus.SKIP, summary="no port"),
    )
    return Checklist(
        image="oci:x:t",
        runtime="runc 1.1",
        platform="linux/amd64",
        results=results,
        seconds=3.5,
        deliberate_wait_seconds=3.0,
    )


def test_checklist_verdict_and_counts():
    cl = _checklist()
    assert not cl.ok and [r.id for r in cl.failed] == ["shutdown"]
    assert cl.counts() == {"pass": 1, "warn": 1, "fail": 1, "skip": 1}
    with pytest.raises(KeyError):
        cl.result("size")


def test_junit_maps_statuses():
    root = ET.fromstring(to_junit(_checklist()).split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "4" and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["shutdown"].find("failure").get("message") == "needed SIGKILL | x"  # type: ignore[union-attr]
    assert "status 137" in (cases["shutdown"].find("failure").text or "")  # type: ignore[union-attr]
    assert cases["startup"].find("skipped") is not None
    assert "warn: wrote nothing" in (cases["logs"].find("system-out").text or "")  # type: ignore[union-attr]


def test_markdown_table_and_evidence():
    md = to_markdown(_checklist())
    assert "**FAILED**" in md and "| ❌ | shutdown | needed SIGKILL \\| x |" in md
    assert "### Evidence" in md and "exit: killed by SIGKILL (status 137)" in md


def test_flags_override_goslim_yaml():
    cfg = VerifyConfig(grace_seconds=10, checks=["static"], max_image_mb=5)
    service = ServiceConfig(ports=[8080], health="/live")
    contract = resolve_contract(parse_flags(ports=[9090], env=["A=b=c"], writable=["/cache"]), service)
    opts = build_options(cfg, contract, grace=2.0)
    assert (opts.port, opts.health, opts.grace_seconds, opts.checks) == (9090, "/live", 2.0, ("static",))
    assert opts.max_image_mb == 5 and opts.extra_env == {"A": "b=c"} and opts.writable == ("/cache",)
    with pytest.raises(UserInputError):
        build_options(cfg, check=["bogus"])


class FakeRunner(ScriptedRunner):
    """Answers runc subcommands from a table."""

    def __init__(self, present: bool = True, listing: str = "[]") -> None:
        super().__init__(installed=present)
        self.listing = listing

    def answer(self, argv: tuple[str, ...]) -> ProcessResult:
        out = self.listing if argv[1] == "list" else "runc version 1.1.5\ncommit: x\n"
        return ProcessResult(argv, 0, out, "", 0.0)


def test_missing_runtime_says_how_to_install():
    with pytest.raises(ToolMissingError) as err:
        OciRuntime("runc", FakeRunner(present=False))
    assert "apt-get install runc" in (err.value.hint or "")
    with pytest.raises(UserInputError, match="unknown OCI runtime"):
        OciRuntime("docker", FakeRunner())


def test_version_and_ids():
    rt = OciRuntime("runc", FakeRunner())
    assert rt.version() == "runc 1.1.5"
    assert rt.new_id().startswith(ID_PREFIX) and rt.new_id() != rt.new_id()


def test_start_errors_are_explained():
    rt = OciRuntime("crun", FakeRunner())
    err = rt._start_error(1, "cgroups in hybrid mode not supported, drop all controllers from cgroupv2")
    assert isinstance(err, ToolError) and "hybrid" in err.message and "runc" in (err.hint or "")
    assert isinstance(rt._start_error(1, "exec /app/x: exec format error"), UserInputError)
    denied = rt._start_error(
        1, 'msg="runc run failed: unable to start container process: exec /x: permission denied"'
    )
    assert isinstance(denied, UserInputError) and "not executable" in denied.message
    generic = rt._start_error(1, "some other failure")
    assert isinstance(generic, ToolError) and generic.stderr_tail == "some other failure"


def test_sweep_removes_only_containers_of_dead_goslims(tmp_path: Path):
    dead, alive = 2**22 + 12345, os.getpid()
    bundle = tmp_path / "goslim-verify-bundle-x"
    bundle.mkdir()
    listing = (
        f'[{{"id": "{ID_PREFIX}{dead}-ab12", "bundle": "{bundle}"}},'
        f' {{"id": "{ID_PREFIX}{alive}-cd34", "bundle": "/nowhere"}}, {{"id": "someone-else"}}]'
    )
    runner = FakeRunner(listing=listing)
    swept = OciRuntime("runc", runner).sweep_leftovers()
    assert swept == [f"{ID_PREFIX}{dead}-ab12"]
    assert ("kill", f"{ID_PREFIX}{dead}-ab12", "KILL") in [c[1:] for c in runner.calls]
    assert not any(f"{alive}-cd34" in " ".join(c) for c in runner.calls)
    assert not bundle.exists()


def test_sweep_temp_dirs_of_dead_processes(tmp_path: Path):
    dead = tmp_path / f"goslim-verify-rootfs-{2**22 + 12345}-abc"
    mine = tmp_path / f"goslim-verify-bundle-{os.getpid()}-abc"
    other = tmp_path / "unrelated-1-abc"
    for d in (dead, mine, other):
        d.mkdir()
    assert sweep_temp_dirs(tmp_path) == [dead]
    assert mine.exists() and other.exists()
