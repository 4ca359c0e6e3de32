"""goslim verify on real images built with goslim.image/goslim.oci, through the API and the CLI.

Also: Ctrl-C during a run leaves nothing behind (a killed goslim: tests/security/test_interrupts.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from goslim.binary import analyze
from goslim.image import ImageOptions, assemble
from goslim.oci import write_image, write_oci_layout
from goslim.oci.archive import write_docker_archive
from goslim.verify import CheckStatus, VerifyOptions, verify_image
from goslim.verify.runtime import ID_PREFIX, OciRuntime
from tests.conftest import need_tool

pytestmark = pytest.mark.timeout(180)
GOSLIM = [sys.executable, "-m", "goslim"]
FAST = VerifyOptions(alive_seconds=1.0, grace_seconds=2.0)


@pytest.fixture(autouse=True)
def _no_leftovers():
    need_tool("runc")
    yield
    mine = [c["id"] for c in OciRuntime("runc").list() if c["id"].startswith(f"{ID_PREFIX}{os.getpid()}-")]
    assert mine == []


@pytest.fixture(scope="module")
def hello_layout(go_build, tmp_path_factory) -> str:
    binary = go_build("hello-api")
    assembled = assemble(binary, analyze(binary.path), "static", ImageOptions(ports=[8080]))
    path = tmp_path_factory.mktemp("verify-image") / "layout"
    write_oci_layout(path, assembled.image, "t")
    return f"oci:{path}:t"


def containers_of(pid: int) -> list[str]:
    return [c["id"] for c in OciRuntime("runc").list() if c["id"].startswith(f"{ID_PREFIX}{pid}-")]


def temp_dirs_of(pid: int) -> list[str]:
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    return [
        p.name
        for p in tmp.iterdir()
        if p.name.startswith(("goslim-verify-bundle-", "goslim-verify-rootfs-"))
        and p.name.split("-")[3] == str(pid)
    ]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GOSLIM, "verify", *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def test_example_image_passes_every_check(hello_layout):
    cl = verify_image(hello_layout, FAST)
    assert {r.id: r.summary for r in cl.results if r.status is not CheckStatus.PASS} == {}
    assert cl.image == hello_layout and cl.image_digest and cl.image_digest.startswith("sha256:")
    size = cl.result("size")
    assert (
        "compressed layers" in size.evidence[0]
        and size.measured["image_bytes"] < size.measured["binary_bytes"]
    )
    assert cl.result("non-root").measured["uid"] == 65532
    assert temp_dirs_of(os.getpid()) == []


def test_docker_archive_and_image_value(go_build, tmp_path):
    binary = go_build("hello-api")
    assembled = assemble(binary, analyze(binary.path), "static", ImageOptions(ports=[8080]))
    archive = tmp_path / "hello.tar"
    write_docker_archive(archive, assembled.image, repo_tags=("hello:t",))
    cl = verify_image(f"docker-archive:{archive}", FAST.model_copy(update={"checks": ("starts", "static")}))
    assert cl.ok and len(cl.results) == 9
    by_value = verify_image(assembled, FAST.model_copy(update={"checks": ("non-root",)}))
    assert by_value.ok and by_value.image_digest == str(assembled.image.digest)


def test_cli_table_junit_markdown_and_exit_0(hello_layout, tmp_path):
    junit, md = tmp_path / "verify.xml", tmp_path / "verify.md"
    res = run_cli(
        hello_layout,
        "--alive",
        "1",
        "--grace",
        "2",
        "--junit",
        str(junit),
        "--markdown",
        str(md),
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert "goslim verify" in res.stdout and "shutdown" in res.stdout and "17 pass" in res.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "17" and suite.get("failures") == "0"
    assert "| ✅ | readiness |" in md.read_text()


def test_cli_json_is_one_document(hello_layout, tmp_path):
    res = run_cli(
        hello_layout, "--alive", "1", "--check", "runtime", "--skip", "limits", "--json", cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [r["id"] for r in doc["results"]][:2] == ["starts", "logs"] and len(doc["results"]) == 8
    assert all(r["status"] == "pass" for r in doc["results"])


def test_cli_failing_image_exits_1_after_the_table(go_build, tmp_path):
    roots = go_build("needs-roots")
    img = assemble(roots, analyze(roots.path), "scratch", ImageOptions(ports=[8080]))
    write_oci_layout(tmp_path / "bad", img.image, "t")
    junit = tmp_path / "bad.xml"
    res = run_cli(
        f"oci:{tmp_path / 'bad'}:t", "--alive", "1", "--grace", "1", "--junit", str(junit), cwd=tmp_path
    )
    assert res.returncode == 1
    assert "ca-roots" in res.stdout and "fail" in res.stdout  # the table came first
    # Under the table, the cause: the service's own log line for the failed start.
    assert any(line.strip().startswith("log: ") for line in res.stdout.splitlines()), res.stdout
    assert "check(s) failed" in res.stderr and "ca-roots" in res.stderr and "Traceback" not in res.stderr
    failures = {
        c.get("name") for c in ET.parse(junit).getroot().iter("testcase") if c.find("failure") is not None
    }
    assert {"starts", "ca-roots"} <= failures


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["oci:/nonexistent/layout:t"], "error:"),
        (["rootfs:/nonexistent"], "--image-config"),
        (["oci:/nonexistent:t", "--check", "bogus"], "unknown check 'bogus'"),
        (["oci:/nonexistent:t", "--runtime", "docker"], "unknown runtime 'docker'"),
        (["oci:/nonexistent:t", "--env", "NOEQUALS"], "not KEY=VALUE"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(args, expected, tmp_path):
    res = run_cli(*args, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert expected in res.stderr and "Traceback" not in res.stderr
    assert res.stderr.count("error:") == 1


def test_cli_port_that_never_opens(hello_layout, tmp_path):
    (tmp_path / "goslim.yaml").write_text(
        "verify:\n  port: 9999\n  startup: {kind: tcp, period_seconds: 0.1, failure_threshold: 10}\n"
    )
    res = run_cli(hello_layout, "--alive", "1", "--check", "startup", cwd=tmp_path)
    assert res.returncode == 1
    assert "port 9999 never opened" in res.stdout and "listening: 8080" in res.stdout


def _start_cli_and_wait_for_container(layout: str, tmp_path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*GOSLIM, "verify", layout, "--alive", "60"],
        cwd=tmp_path,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not containers_of(proc.pid):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the container never appeared"
        time.sleep(0.2)
    time.sleep(0.5)
    return proc


def test_ctrl_c_cleans_up_container_bundle_and_rootfs(hello_layout, tmp_path):
    proc = _start_cli_and_wait_for_container(hello_layout, tmp_path)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert containers_of(proc.pid) == [] and temp_dirs_of(proc.pid) == []


def test_sigterm_to_goslim_cleans_up(hello_layout, tmp_path):
    proc = _start_cli_and_wait_for_container(hello_layout, tmp_path)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert containers_of(proc.pid) == [] and temp_dirs_of(proc.pid) == []


def test_registry_reference(go_build, registry, tmp_path):
    binary = go_build("hello-api")
    assembled = assemble(binary, analyze(binary.path), "static", ImageOptions(ports=[8080]))
    ref = registry.ref("verify-hello", "t")
    write_image(ref, assembled.image)
    cl = verify_image(ref, FAST.model_copy(update={"checks": ("starts", "shutdown", "static")}))
    assert cl.ok and cl.image_digest == str(assembled.image.digest)
    res = run_cli(registry.ref("verify-missing", "t"), "--check", "static", cwd=tmp_path)
    assert res.returncode in (2, 3) and res.stderr.count("error:") == 1 and "Traceback" not in res.stderr


def test_image_for_another_architecture_is_one_line(go_build, tmp_path):
    arm = go_build("hello-api", platform="linux/arm64")
    img = assemble(arm, analyze(arm.path), "scratch", ImageOptions(ports=[8080]))
    write_oci_layout(tmp_path / "arm", img.image, "t")
    res = run_cli(f"oci:{tmp_path / 'arm'}:t", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert "linux/arm64 but this machine is linux/amd64" in res.stderr and "Traceback" not in res.stderr
    static_only = run_cli(f"oci:{tmp_path / 'arm'}:t", "--check", "no-shell,setuid", "--json", cwd=tmp_path)
    assert static_only.returncode == 0 and json.loads(static_only.stdout)["platform"] == "linux/arm64"
