"""Zoneinfo at the precision of the binary, with real go, runc and goslim's image and verify stages.

Local time only: no zoneinfo. Constant zone names: only those files (aliases with their targets) and
UTC, and the run proves them. A TZ in the run contract: that zone goes in, and the run proves it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from goslim.binary import NeedAnswer, analyze
from goslim.binary.needs import LOCAL_TIME_NOTE
from goslim.config import ImageConfig
from goslim.contract import RunContract
from goslim.dockerfile.generate import DockerfileSpec, render_dockerfile
from goslim.image import ImageOptions, assemble
from goslim.oci import write_oci_layout
from goslim.verify import CheckStatus, VerifyOptions, verify_image
from tests.conftest import need_tool

pytestmark = pytest.mark.timeout(300)
RUN = VerifyOptions(port=8080, health="/healthz", readiness="/healthz", alive_seconds=1.0, grace_seconds=5.0)
ZONE_DIR = "/usr/share/zoneinfo/"


def zone_files(assembled) -> dict[str, str]:
    """In-image zoneinfo entries of the base: path below the zoneinfo dir -> kind."""
    return {f.path.removeprefix(ZONE_DIR): f.kind for f in assembled.base.files
            if f.path.startswith(ZONE_DIR) and f.kind != "dir"}


def verified(assembled, where: Path):
    need_tool("runc")
    write_oci_layout(where, assembled.image, "t")
    checklist = verify_image(f"oci:{where}:t", RUN)
    failed = {r.id: (r.summary, r.evidence) for r in checklist.results if r.status is CheckStatus.FAIL}
    assert failed == {}, failed
    return checklist


def test_local_time_only_gets_no_zoneinfo_and_says_why(go_build, tmp_path: Path) -> None:
    binary = go_build("local-time")
    report = analyze(binary.path)
    need = report.needs.zoneinfo
    assert need.answer is NeedAnswer.NOT_NEEDED and LOCAL_TIME_NOTE in need.detail
    assembled = assemble(binary, report, "static")
    assert zone_files(assembled) == {}
    provision = next(p for p in assembled.base.provisions if p.item == "zoneinfo")
    assert not provision.included and LOCAL_TIME_NOTE in provision.reason
    checklist = verified(assembled, tmp_path / "img")
    assert checklist.result("zoneinfo").status is CheckStatus.PASS


def test_named_zones_get_only_those_files_and_verify_runs_them(go_build, tmp_path: Path) -> None:
    binary = go_build("named-zones")
    report = analyze(binary.path)
    need = report.needs.zoneinfo
    assert need.needed and need.names == ["Asia/Shanghai", "Europe/Paris", "US/Pacific"]
    assert "main.main" in need.detail
    assembled = assemble(binary, report, "static")
    files = zone_files(assembled)
    names = {"Asia/Shanghai", "Europe/Paris", "US/Pacific", "UTC"}
    assert names <= set(files)
    # An alias comes with what it points at, and nothing else comes along.
    extra = set(files) - names
    assert extra <= {"America/Los_Angeles", "Etc/UTC", "Asia/Chongqing"}, extra
    if files["US/Pacific"] == "symlink":
        assert "America/Los_Angeles" in files
    provision = next(p for p in assembled.base.provisions if p.item == "zoneinfo")
    assert provision.included and provision.files <= 6 and "only Asia/Shanghai" in provision.reason
    # The image runs (the program exits 1 if a zone is missing) and verify names the zones it checked.
    zoneinfo = verified(assembled, tmp_path / "img").result("zoneinfo")
    assert zoneinfo.status is CheckStatus.PASS
    assert "Asia/Shanghai, Europe/Paris, US/Pacific" in zoneinfo.summary
    # The Dockerfile states the same rule.
    spec = DockerfileSpec(module_path="example.com/named-zones", go_version="1.22", binary_name="named-zones",
                          package=".", needs=report.needs)
    assert "only Asia/Shanghai, Europe/Paris, US/Pacific, UTC" in render_dockerfile(spec)


def test_named_zones_missing_a_file_fails_verify(go_build, tmp_path: Path) -> None:
    """Without the zones (scratch), verify fails both statically and by running the program."""
    need_tool("runc")
    binary = go_build("named-zones")
    assembled = assemble(binary, analyze(binary.path), "scratch")
    write_oci_layout(tmp_path / "img", assembled.image, "t")
    checklist = verify_image(f"oci:{tmp_path / 'img'}:t", RUN)
    assert checklist.result("zoneinfo").status is CheckStatus.FAIL


def test_tz_in_the_run_contract_brings_its_zone(go_build, tmp_path: Path) -> None:
    binary = go_build("local-time")
    report = analyze(binary.path)
    contract = RunContract(name="local-time", env={"TZ": "Asia/Tokyo"}, ports=(8080,),
                           sources={"env": "flag"})
    options = ImageOptions.from_config(ImageConfig(), contract)
    assembled = assemble(binary, report, "static", options)
    assert set(zone_files(assembled)) >= {"Asia/Tokyo", "UTC"}
    assert len(zone_files(assembled)) <= 3
    assert assembled.needs["zoneinfo"] is NeedAnswer.NEEDED
    # The program exits 1 when TZ did not load, so a passing run proves the zone is there.
    zoneinfo = verified(assembled, tmp_path / "img").result("zoneinfo")
    assert zoneinfo.status is CheckStatus.PASS and "Asia/Tokyo" in zoneinfo.summary
    assert any("TZ=Asia/Tokyo" in e for e in zoneinfo.evidence)
    # Without the zone in the image, the same run with TZ fails, in the static check and in the run.
    bare = assemble(binary, report, "static")
    write_oci_layout(tmp_path / "bare", bare.image, "t")
    with_tz = RUN.model_copy(update={"extra_env": {"TZ": "Asia/Tokyo"}})
    checklist = verify_image(f"oci:{tmp_path / 'bare'}:t", with_tz)
    assert checklist.result("zoneinfo").status is CheckStatus.FAIL


def test_arm64_build_names_the_same_zones(go_build) -> None:
    binary = go_build("named-zones", platform="linux/arm64")
    need = analyze(binary.path).needs.zoneinfo
    assert need.needed and need.names == ["Asia/Shanghai", "Europe/Paris", "US/Pacific"]


def test_zone_name_from_the_environment_keeps_every_zone(go_build) -> None:
    """The bundled example reads its zone name from DISPLAY_TZ: any zone may load, so all go in."""
    binary = go_build("hello-api")
    report = analyze(binary.path)
    need = report.needs.zoneinfo
    assert need.needed and need.names is None and "not a constant" in need.detail
    assert len(zone_files(assemble(binary, report, "static"))) > 500
