"""The image stage and verify read one answer per need, from goslim.binary, and never disagree.

Real go, upx and runc: a binary that carries its own CA roots (x509roots/fallback), a UPX-packed
entrypoint (verify reads an unpacked copy), and scratch images whose warnings match verify's verdict.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from goslim.binary import NeedAnswer, analyze
from goslim.gobuild import Binary
from goslim.image import ImageOptions, assemble
from goslim.oci import write_oci_layout
from goslim.verify import CheckStatus, VerifyOptions, verify_image
from tests.conftest import need_tool

pytestmark = pytest.mark.timeout(300)
FAST = VerifyOptions(alive_seconds=1.0, grace_seconds=2.0)
STATIC_ONLY = VerifyOptions(checks=("libraries", "ca-roots", "zoneinfo", "users"))
CARRIED_ROOTS = "not needed: the binary carries its own roots (x509roots/fallback)"


def layout_of(assembled, where: Path) -> str:
    write_oci_layout(where, assembled.image, "t")
    return f"oci:{where}:t"


def test_x509roots_fallback_passes_image_and_verify_with_one_verdict(go_build, tmp_path: Path) -> None:
    need_tool("runc")
    binary = go_build("x509fallback-app")
    report = analyze(binary.path)
    roots = report.needs.ca_roots
    assert roots.answer is NeedAnswer.CARRIED and roots.verdict == CARRIED_ROOTS
    assert any("x509roots/fallback" in e for e in roots.evidence)

    assembled = assemble(binary, report, "static", ImageOptions(ports=[8080]))
    bundle = next(p for p in assembled.base.provisions if p.item == "ca-bundle")
    assert not bundle.included and bundle.reason == CARRIED_ROOTS
    assert assembled.needs["ca_roots"] is NeedAnswer.CARRIED and assembled.warnings == []

    checklist = verify_image(layout_of(assembled, tmp_path / "img"), FAST)
    failed = {r.id: r.summary for r in checklist.results if r.status is CheckStatus.FAIL}
    assert failed == {}
    ca = checklist.result("ca-roots")
    assert ca.status is CheckStatus.PASS and CARRIED_ROOTS in ca.summary
    assert f"binary: {CARRIED_ROOTS}" in ca.evidence


def test_upx_packed_entrypoint_is_judged_on_its_real_needs(go_build, tmp_path: Path) -> None:
    upx = need_tool("upx")
    built = go_build("needs-roots")
    packed_path = tmp_path / "needs-roots"
    subprocess.run([upx, "-q", "-1", "-o", str(packed_path), str(built.path)], check=True, timeout=300)
    packed = Binary.from_file(
        packed_path, name="needs-roots", package=built.package, module_dir=built.module_dir,
        platform=built.platform, profile=built.profile, go_version=built.go_version, env=built.env,
        flags=built.flags,
    )
    report = analyze(packed_path)  # the packed file, through a `upx -d` copy
    assert report.upx_packed and report.analyzed_unpacked_copy
    assert report.needs == analyze(built.path).needs

    on_scratch = assemble(packed, report, "scratch")
    assert any("CA roots" in w for w in on_scratch.warnings)
    checklist = verify_image(layout_of(on_scratch, tmp_path / "scratch"), STATIC_ONLY)
    ca = checklist.result("ca-roots")
    assert ca.status is CheckStatus.FAIL  # the same answer the image stage warned about
    assert any(e.startswith("binary: needed") for e in ca.evidence)
    assert any("crypto/x509" in e for e in ca.evidence)
    assert any("upx -d" in e for e in ca.evidence)

    on_static = assemble(packed, report, "static")
    ca = verify_image(layout_of(on_static, tmp_path / "static"), STATIC_ONLY).result("ca-roots")
    assert ca.status is CheckStatus.PASS and any(e.startswith("binary: needed") for e in ca.evidence)


@pytest.mark.parametrize("app", ["needs-zoneinfo", "no-needs", "x509fallback-app", "needs-roots", "leaky"])
def test_scratch_warnings_and_verify_verdicts_agree(go_build, tmp_path: Path, app: str) -> None:
    binary = go_build(app)
    report = analyze(binary.path)
    assembled = assemble(binary, report, "scratch")
    checklist = verify_image(layout_of(assembled, tmp_path / "img"), STATIC_ONLY)
    needs = report.needs
    for check, words, need in (
        ("ca-roots", "CA roots", needs.ca_roots),
        ("zoneinfo", "time zones", needs.zoneinfo),
        ("users", "looks up users", needs.passwd),
    ):
        warned = any(words in w for w in assembled.warnings)
        result = checklist.result(check)
        assert warned == (result.status in (CheckStatus.FAIL, CheckStatus.WARN)), (check, assembled, result)
        assert f"binary: {need.verdict}" in result.evidence
    if app == "needs-zoneinfo":
        assert checklist.result("zoneinfo").status is CheckStatus.FAIL
    if app == "no-needs":
        assert assembled.warnings == [] and checklist.result("zoneinfo").status is CheckStatus.PASS
