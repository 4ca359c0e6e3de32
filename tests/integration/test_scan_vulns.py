"""The scanner on real binaries: vulnscan-app built by go1.21.0 is flagged, the current Go's build is not.

The old toolchain comes through the Go module proxy (GOTOOLCHAIN=go1.21.0); the test skips with
the reason when it cannot be fetched. The OSV data are real Go vulndb entries (tests/fixtures/osv).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from goslim.cli.app import main
from goslim.errors import ToolError
from goslim.gobuild import Binary
from goslim.oci import (
    FileEntry,
    Image,
    Platform,
    build_layer,
    new_config,
    write_docker_archive,
    write_oci_layout,
)
from goslim.runner import SubprocessRunner
from goslim.scan import load_vulndb, run_scan, scan_binary
from tests.conftest import BuildFixture, app_dir, need_tool

OSV = Path(__file__).resolve().parents[1] / "fixtures" / "osv"
OLD_GO = "go1.21.0"
STDLIB_FLAGGED = {"GO-2023-2382", "GO-2024-2887"}


@pytest.fixture(scope="session")
def old_go_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vulnscan-app built once by go1.21.0 (slim flags: stripped, so symbols come from pclntab only)."""
    go = need_tool("go")
    out = tmp_path_factory.mktemp("old-go") / "vulnscan-app"
    env = {"GOTOOLCHAIN": OLD_GO, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}
    try:
        SubprocessRunner().run(
            [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(out), "."],
            cwd=app_dir("vulnscan-app"),
            env=env,
            timeout=900,
        )
    except ToolError as exc:
        pytest.skip(
            f"cannot build with GOTOOLCHAIN={OLD_GO} (module proxy unreachable?): {exc.stderr_tail[-300:]}"
        )
    return out


@pytest.fixture(scope="session")
def new_go_binary(go_build: BuildFixture) -> Binary:
    return go_build("vulnscan-app")


def test_old_go_build_is_flagged_with_symbol_evidence(old_go_binary: Path) -> None:
    report = scan_binary(old_go_binary, OSV)
    assert report.go_version == OLD_GO and report.symbols_checked
    by_id = {v.id: v for v in report.vulnerabilities}
    assert STDLIB_FLAGGED | {"GO-2022-1059", "GO-2023-2043"} == set(by_id)
    for vid in STDLIB_FLAGGED:
        assert by_id[vid].status == "called" and by_id[vid].module == "stdlib"
    assert "net/http/internal.chunkedReader.Read" in by_id["GO-2023-2382"].symbols_found
    assert by_id["GO-2024-2887"].symbols_found == ["net/netip.Addr.IsLoopback"]
    assert by_id["GO-2024-2887"].fixed_in == "1.21.11" and by_id["GO-2024-2887"].aliases == ["CVE-2024-24790"]
    # html/template is affected in go1.21.0 but never linked into this program.
    assert by_id["GO-2023-2043"].status == "not-linked"
    assert by_id["GO-2022-1059"].status == "called"
    assert by_id["GO-2022-1059"].symbols_found == ["golang.org/x/text/language.ParseAcceptLanguage"]


def test_current_go_build_is_not_flagged_for_the_stdlib(new_go_binary: Binary) -> None:
    report = scan_binary(new_go_binary.path, load_vulndb(OSV))
    assert report.go_version == new_go_binary.go_version
    assert [v.module for v in report.vulnerabilities] == ["golang.org/x/text"]  # the module pin is still old


def test_cli_fail_on_json_sarif_and_valid_sboms(
    old_go_binary: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "vulnscan-app"
    shutil.copy2(old_go_binary, binary)
    code = main(
        [
            "scan",
            str(binary),
            "--db",
            str(OSV),
            "--fail-on",
            "high",
            "--sarif",
            str(tmp_path / "r.sarif"),
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    out = json.loads(captured.out)
    assert set(out["policy_failures"]) == STDLIB_FLAGGED | {"GO-2022-1059"}
    assert "at or above --fail-on high" in captured.err and "Traceback" not in captured.err
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == STDLIB_FLAGGED | {
        "GO-2022-1059",
        "GO-2023-2043",
    }
    cdx = (tmp_path / "vulnscan-app.cdx.json").read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(cdx) is None
    purls = {c["purl"] for c in json.loads(cdx)["components"]}
    assert purls == {"pkg:golang/stdlib@1.21.0", "pkg:golang/golang.org/x/text@v0.3.7"}
    spdx = parse_file(str(tmp_path / "vulnscan-app.spdx.json"))
    assert validate_full_spdx_document(spdx) == []


def test_upx_packed_binary_is_scanned_through_an_unpacked_copy(
    old_go_binary: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upx = need_tool("upx")
    packed = tmp_path / "packed"
    SubprocessRunner().run([upx, "-q", "-1", "-o", str(packed), str(old_go_binary)], timeout=300)
    before = packed.read_bytes()
    assert main(["scan", str(packed), "--db", str(OSV), "--sbom", "cyclonedx", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["report"]
    assert report["go_version"] == "go1.21.0" and report["symbols_checked"]
    assert any("upx -d" in n for n in report["notes"])
    cdx = json.loads((tmp_path / "packed.cdx.json").read_text())
    purls = {c.get("purl") for c in cdx["components"]}
    assert "pkg:golang/golang.org/x/text@v0.3.7" in purls
    assert packed.read_bytes() == before  # the packed file itself is never touched


def test_image_with_packed_entrypoint_is_read_unpacked(old_go_binary: Path, tmp_path: Path) -> None:
    upx = need_tool("upx")
    packed = tmp_path / "server"
    SubprocessRunner().run([upx, "-q", "-1", "-o", str(packed), str(old_go_binary)], timeout=300)
    image = Image.build(
        new_config(Platform(os="linux", architecture="amd64"), entrypoint=["/server"]),
        [build_layer([FileEntry.from_path("server", packed)], mtime=0)],
    )
    layout = tmp_path / "img"
    write_oci_layout(layout, image, tag="packed")
    # The packed entrypoint alone is read through a `upx -d` copy: the same findings as the build's binary.
    alone = run_scan(f"oci:{layout}:packed", db=OSV, sbom_formats=["cyclonedx"])
    assert alone.sboms[0].partial_reasons == [] and any("upx -d" in n for n in alone.report.notes)
    assert {v.id for v in alone.report.vulnerabilities} >= STDLIB_FLAGGED
    full = run_scan(f"oci:{layout}:packed", db=OSV, sbom_formats=["cyclonedx"], unpacked=old_go_binary)
    assert full.sboms[0].partial_reasons == []
    assert {v.id for v in full.report.vulnerabilities} >= STDLIB_FLAGGED
    assert full.sboms[0].attached_tag == f"sha256-{image.digest.hex}.sbom"


def test_docker_archive_image_is_scanned_but_not_attached(new_go_binary: Binary, tmp_path: Path) -> None:
    image = Image.build(
        new_config(Platform(os="linux", architecture="amd64"), entrypoint=["/app/server"]),
        [build_layer([FileEntry.from_path("app/server", new_go_binary.path)], mtime=0)],
    )
    archive = tmp_path / "img.tar"
    write_docker_archive(archive, image, repo_tags=("example.com/vulnscan:v1",))
    outcome = run_scan(f"docker-archive:{archive}", db=OSV, sbom_formats=["spdx"], out_dir=tmp_path)
    assert [v.id for v in outcome.report.vulnerabilities] == ["GO-2022-1059"]
    assert outcome.sboms[0].attached_tag is None
    assert any("docker-archive cannot carry them" in n for n in outcome.report.notes)
    assert (tmp_path / "img.tar.spdx.json").is_file()
