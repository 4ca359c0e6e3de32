"""Images: flattened layers, base packages, partial SBOMs, .sbom attachment, SARIF, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from goslim.cli.app import main
from goslim.oci import FileEntry, Image, Platform, build_layer, new_config, write_oci_layout
from goslim.scan import ScanOutcome, run_scan
from goslim.scan.image_files import read_image_files
from goslim.scan.models import ScanReport, Vulnerability
from goslim.scan.sarif import to_sarif
from goslim.scan.target import os_packages
from goslim.sign.store import OciLayoutStore, parse_layout_location
from tests.unit.upx.elfdata import tiny_elf

OSV_FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "osv"
# UPX's l_info magic right after the program headers (offset 64 + 56 + 4) of a tiny static ELF.
UPX_LIKE = tiny_elf()[:124] + b"UPX!" + tiny_elf()[128:]


def make_image(entrypoint: str | None = "/app/server", binary: bytes = b"\x7fELF not really go") -> Image:
    base = build_layer(
        [
            FileEntry.dir("etc"),
            FileEntry.symlink("etc/os-release", "../usr/lib/os-release"),
            FileEntry.file("usr/lib/os-release", b'ID=debian\nVERSION_ID="12"\n'),
            FileEntry.file(
                "var/lib/dpkg/status.d/base-files",
                b"Package: base-files\nVersion: 12.4\nArchitecture: amd64\n",
            ),
            FileEntry.file("var/lib/dpkg/status.d/base-files.md5sums", b"abc  etc/x\n"),
            FileEntry.file(
                "var/lib/dpkg/status.d/tzdata", b"Package: tzdata\nVersion: 2024a\nArchitecture: all\n"
            ),
            FileEntry.file("var/lib/dpkg/status.d/gone", b"Package: gone\nVersion: 1\n"),
        ],
        mtime=0,
    )
    top_entries = [FileEntry.file("var/lib/dpkg/status.d/.wh.gone", b"")]
    if entrypoint:
        top_entries.append(FileEntry.file(entrypoint.lstrip("/"), binary, mode=0o755))
    top = build_layer(top_entries, mtime=0)
    config = new_config(
        Platform(os="linux", architecture="amd64"), entrypoint=[entrypoint] if entrypoint else None
    )
    return Image.build(config, [base, top])


def test_layers_are_flattened_with_whiteouts_and_symlinks(tmp_path: Path) -> None:
    files = read_image_files(make_image(), tmp_path)
    assert files.entrypoint == "app/server" and files.binary is not None
    assert files.binary.read_bytes() == b"\x7fELF not really go"
    assert "var/lib/dpkg/status.d/gone" not in files.records
    pkgs = os_packages(files.records)
    assert [(p.name, p.distro) for p in pkgs] == [("base-files", "debian"), ("tzdata", "debian")]


def test_image_scan_writes_partial_sboms_beside_and_attaches(tmp_path: Path) -> None:
    layout = tmp_path / "out" / "img"
    write_oci_layout(layout, make_image(binary=UPX_LIKE), tag="latest")
    outcome = run_scan(f"oci:{layout}:latest", db=OSV_FIXTURE)
    assert outcome.report.go_version is None and outcome.report.vulnerabilities == []
    assert outcome.report.binary == "/app/server"
    assert [s.path for s in outcome.sboms] == [
        tmp_path / "out" / "img_latest.cdx.json",
        tmp_path / "out" / "img_latest.spdx.json",
    ]
    assert all("UPX-packed" in s.partial_reasons[0] for s in outcome.sboms)
    cdx = json.loads(outcome.sboms[0].path.read_text())
    assert {c["name"] for c in cdx["components"]} == {"base-files", "tzdata"}
    store = OciLayoutStore(parse_layout_location(f"oci:{layout}"))
    digest = store.resolve()
    assert outcome.sboms[0].attached_tag == digest.replace(":", "-") + ".sbom"
    manifest = json.loads(store.get_tagged(outcome.sboms[0].attached_tag) or b"{}")
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        "application/vnd.cyclonedx+json",
        "text/spdx+json",
    ]
    # Scanning again (untagged location, attachments present) replaces the .sbom tag, still one image.
    again = run_scan(f"oci:{layout}", db=OSV_FIXTURE, sbom_formats=["spdx"])
    assert again.sboms[0].attached_tag == outcome.sboms[0].attached_tag
    assert len(json.loads(store.get_tagged(again.sboms[0].attached_tag) or b"{}")["layers"]) == 1


def test_image_without_entrypoint_is_partial(tmp_path: Path) -> None:
    layout = tmp_path / "img"
    write_oci_layout(layout, make_image(entrypoint=None), tag="v1")
    outcome = run_scan(f"oci:{layout}:v1", db=OSV_FIXTURE, out_dir=tmp_path / "sboms", attach_sboms=False)
    assert "no absolute entrypoint" in outcome.sboms[0].partial_reasons[0]
    assert outcome.sboms[0].attached_tag is None
    assert (tmp_path / "sboms" / "img_v1.cdx.json").is_file()


def test_sarif_shape() -> None:
    vuln = Vulnerability(
        id="GO-2023-2382",
        aliases=["CVE-2023-39326"],
        summary="s",
        url="https://x",
        severity="unknown",
        module="stdlib",
        version="go1.21.0",
        fixed_in="1.21.5",
        affected=[">=0, <1.20.12"],
        status="called",
        symbols_found=["net/http/internal.readChunkLine"],
    )
    report = ScanReport(
        target="app",
        binary="/abs/app",
        go_version="go1.21.0",
        main_module=None,
        modules=[],
        vulnerabilities=[vuln, vuln.model_copy(update={"status": "not-linked"})],
        db_source="d",
        db_entries=1,
        symbols_checked=True,
    )
    sarif = to_sarif(report)
    run = sarif["runs"][0]
    assert sarif["version"] == "2.1.0" and len(run["tool"]["driver"]["rules"]) == 1
    assert [r["level"] for r in run["results"]] == ["error", "note"]
    assert (
        run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "file:///abs/app"
    )
    assert "fixed in 1.21.5" in run["results"][0]["message"]["text"]


def test_cli_bad_inputs_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "Traceback" not in err
    binary = tmp_path / "app"
    binary.write_bytes(b"hello")
    assert main(["scan", str(binary), "--db", str(tmp_path / "missing-db")]) == 2
    assert "no such vulnerability database" in capsys.readouterr().err
    assert main(["scan", str(binary), "--db", str(OSV_FIXTURE), "--fail-on", "severe"]) == 2
    assert "unknown --fail-on 'severe'" in capsys.readouterr().err
    assert main(["scan", str(binary), "--db", str(OSV_FIXTURE), "--sbom", "swid"]) == 2
    assert "unknown SBOM format 'swid'" in capsys.readouterr().err


def test_cli_not_go_binary_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "script"
    binary.write_bytes(b"#!/bin/sh\necho hi\n")
    assert (
        main(["scan", str(binary), "--db", str(OSV_FIXTURE), "--json", "--sarif", str(tmp_path / "s.sarif")])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["report"]["go_version"] is None
    assert "has no Go build info" in out["sboms"][0]["partial_reasons"][0]
    assert json.loads((tmp_path / "s.sarif").read_text())["runs"][0]["results"] == []


def test_fail_on_fails_closed_when_nothing_was_checked() -> None:
    """No database: `--fail-on` counts the unchecked scan as a failure; without it the scan passes."""
    report = ScanReport(
        target="svc", binary="svc", go_version="go1.26.0", main_module=None, modules=[], vulnerabilities=[],
        db_source="(none)", db_entries=0, symbols_checked=True, not_checked="cannot download the database",
    )
    quiet = ScanOutcome(report=report, sboms=[], sarif=None, fail_on="none", policy_failures=[])
    assert quiet.policy_breach() is None
    closed = quiet.model_copy(update={"fail_on": "critical"})
    assert closed.policy_breach() == "--fail-on critical: vulnerabilities not checked, which fails closed"
    checked = closed.model_copy(update={"report": report.model_copy(update={"not_checked": None})})
    assert checked.policy_breach() is None
