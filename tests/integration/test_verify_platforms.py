"""`goslim verify` on an image index: amd64 natively, arm64 under qemu-user (no binfmt_misc)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from goslim.cli.app import main
from goslim.oci import read_oci_layout
from goslim.oci.image import Index
from goslim.verify import VerifyOptions
from goslim.verify.emulation import NoEmulator, find_emulator
from goslim.verify.platforms import verify_index
from tests.conftest import app_dir, need_tool

TWO = "linux/amd64,linux/arm64"
RUNTIME_ONLY = ("starts", "logs", "startup", "readiness", "liveness", "shutdown")


def need_qemu() -> None:
    need_tool("runc")
    if isinstance(find_emulator("arm64"), NoEmulator):
        pytest.skip("qemu-user-static is not installed (scripts/setup.sh installs it)")


def index_of(app: str, root: Path) -> Path:
    """`goslim image --platform linux/amd64,linux/arm64` of a fixture into an OCI layout."""
    need_tool("go")
    module = root / app
    shutil.copytree(app_dir(app), module)
    out = root / f"{app}-layout"
    assert main(["image", str(module), "--platform", TWO, "--to", f"oci:{out}:v1", "--json"]) == 0
    return out


@pytest.fixture(scope="module")
def hello_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return index_of("hello-api", tmp_path_factory.mktemp("verify-index"))


def verify_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    capsys.readouterr()
    code = main(["verify", *argv, "--json"])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def statuses(run: dict) -> dict[str, str]:
    return {r["id"]: r["status"] for r in run["checklist"]["results"]}


def test_both_platforms_run_and_arm64_answers_its_probes_under_qemu(hello_index, capsys) -> None:
    need_qemu()
    code, doc, _ = verify_json(capsys, f"oci:{hello_index}:v1")
    assert code == 0, doc
    runs = {r["platform"]: r for r in doc["runs"]}
    assert list(runs) == ["linux/amd64", "linux/arm64"]
    assert runs["linux/amd64"]["mode"] == "native"
    arm = runs["linux/arm64"]
    assert arm["mode"] == "emulated" and arm["emulator"].startswith("qemu-aarch64 version")
    ran = {k: v for k, v in statuses(arm).items() if k in RUNTIME_ONLY}
    assert ran == dict.fromkeys(RUNTIME_ONLY, "pass")
    observed = arm["checklist"]["observed"]
    assert observed["readiness"] and observed["liveness"]  # HTTP paths answered 2xx through the emulator
    assert any(s.startswith("emulated: linux/arm64 under qemu-aarch64") for s in observed["sandbox"])
    startup = next(r for r in arm["checklist"]["results"] if r["id"] == "startup")
    assert startup["measured"]["emulated"] is True and "not judged" in startup["summary"]
    assert arm["checklist"]["platform"] == "linux/arm64"


def test_platform_subset(hello_index, capsys) -> None:
    need_qemu()
    code, doc, _ = verify_json(capsys, f"oci:{hello_index}:v1", "--platform", "linux/arm64",
                               "--check", "starts")
    assert code == 0
    assert [r["platform"] for r in doc["runs"]] == ["linux/arm64"]


def test_a_platform_the_index_lacks_is_one_line(hello_index, capsys) -> None:
    code = main(["verify", f"oci:{hello_index}:v1", "--platform", "linux/s390x"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert "has no linux/s390x image (it has: linux/amd64, linux/arm64)" in err[0]


def test_without_an_emulator_the_row_says_not_run_and_why(hello_index) -> None:
    need_tool("runc")
    index = read_oci_layout(hello_index, "v1")
    assert isinstance(index, Index)
    missing = NoEmulator(architecture="arm64", reason="qemu-aarch64-static is not installed")
    result = verify_index(index, VerifyOptions(), label="hello", emulators={"arm64": missing})
    arm = result.runs[1]
    assert arm.mode == "not run" and arm.reason == "qemu-aarch64-static is not installed"
    ids = {r.id for r in arm.checklist.results}
    assert "starts" not in ids and "libraries" in ids  # static checks still judged
    assert result.runs[0].mode == "native"


def test_a_crash_only_on_arm64_fails_only_the_arm64_row(tmp_path, capsys) -> None:
    need_qemu()
    layout = index_of("crashes-on-arm64", tmp_path)
    junit = tmp_path / "verify.xml"
    code, doc, err = verify_json(capsys, f"oci:{layout}:v1", "--junit", str(junit))
    assert code == 1
    amd, arm = doc["runs"]
    assert statuses(amd)["starts"] == "pass" and not [s for s in statuses(amd).values() if s == "fail"]
    assert statuses(arm)["starts"] == "fail"
    assert arm["mode"] == "emulated"
    starts = next(r for r in arm["checklist"]["results"] if r["id"] == "starts")
    assert any("unaligned table on arm64" in e for e in starts["evidence"]) or "exited" in starts["summary"]
    assert "linux/arm64" in err and "linux/amd64:" not in err
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert [s.get("name").rsplit("(", 1)[-1] for s in suites] == ["linux/amd64)", "linux/arm64)"]
    assert suites[0].get("failures") == "0" and int(suites[1].get("failures")) >= 1
