"""SBOM documents: CycloneDX validated by cyclonedx-python-lib, SPDX by spdx-tools; purls; partial SBOMs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from goslim.binary import BuildInfo, Module
from goslim.scan.models import OsPackage
from goslim.scan.ospkgs import parse_apk_installed, parse_dpkg_status, parse_os_release
from goslim.scan.sbom import SbomSubject, go_purl, make_sbom, sbom_file_name

BUILD_INFO = BuildInfo(
    go_version="go1.21.0",
    path="example.com/app/cmd/app",
    main=Module(path="example.com/app", version="v1.2.3"),
    deps=[
        Module(path="golang.org/x/text", version="v0.3.7", sum="h1:x"),
        Module(
            path="github.com/old/name",
            version="v1.0.0",
            replace=Module(path="github.com/new/name", version="v1.1.0"),
        ),
        Module(path="example.com/pseudo", version="v0.0.0-20230101000000-abcdefabcdef"),
    ],
)
PACKAGES = [
    OsPackage(name="base-files", version="12.4+deb12u5", arch="amd64", manager="dpkg", distro="debian"),
    OsPackage(name="tzdata", version="2024a-0+deb12u1", arch="all", manager="dpkg", distro="debian"),
    OsPackage(name="musl", version="1.2.4-r2", arch="x86_64", manager="apk", distro="alpine", license="MIT"),
]


def validate_spdx(text: str, tmp_path: Path) -> list:
    path = tmp_path / "doc.spdx.json"
    path.write_text(text)
    return validate_full_spdx_document(parse_file(str(path)))


def test_purls() -> None:
    assert go_purl("stdlib", "go1.21.0") == "pkg:golang/stdlib@1.21.0"
    assert go_purl("golang.org/x/text", "v0.3.7") == "pkg:golang/golang.org/x/text@v0.3.7"
    assert go_purl("example.com/app", "(devel)") == "pkg:golang/example.com/app"
    assert PACKAGES[0].purl == "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64"
    assert PACKAGES[2].purl == "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64"


@pytest.mark.parametrize("kind", ["binary", "image"])
def test_cyclonedx_is_valid_1_6(kind: str) -> None:
    subject = SbomSubject(
        name="127.0.0.1:5000/app:v1", kind=kind, sha256="ab" * 32, build_info=BUILD_INFO, os_packages=PACKAGES
    )
    doc = make_sbom(subject, "cyclonedx")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(doc.content) is None
    data = json.loads(doc.content)
    assert data["specVersion"] == "1.6"
    purls = {c["purl"] for c in data["components"]}
    assert {
        "pkg:golang/stdlib@1.21.0",
        "pkg:golang/golang.org/x/text@v0.3.7",
        "pkg:golang/github.com/new/name@v1.1.0",
        "pkg:golang/example.com/pseudo@v0.0.0-20230101000000-abcdefabcdef",
    } <= purls
    assert data["metadata"]["component"]["purl"] == "pkg:golang/example.com/app@v1.2.3"
    assert data["metadata"]["component"]["type"] == ("container" if kind == "image" else "application")
    assert doc.components == 7 and doc.file_name == "app_v1.cdx.json"


def test_cyclonedx_is_reproducible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    subject = SbomSubject(name="app", sha256="cd" * 32, build_info=BUILD_INFO)
    first, second = make_sbom(subject, "cyclonedx"), make_sbom(subject, "cyclonedx")
    assert first.content == second.content
    assert json.loads(first.content)["metadata"]["timestamp"].startswith("2023-11-14T22:13:20")


def test_spdx_is_valid_2_3(tmp_path: Path) -> None:
    subject = SbomSubject(name="app", sha256="ab" * 32, build_info=BUILD_INFO, os_packages=PACKAGES)
    doc = make_sbom(subject, "spdx")
    assert validate_spdx(doc.content, tmp_path) == []
    data = json.loads(doc.content)
    assert data["spdxVersion"] == "SPDX-2.3"
    locators = [r["referenceLocator"] for p in data["packages"] for r in p.get("externalRefs", [])]
    assert "pkg:golang/stdlib@1.21.0" in locators
    assert "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all" in locators
    depends = [r for r in data["relationships"] if r["relationshipType"] == "DEPENDS_ON"]
    assert len(depends) == len(data["packages"]) - 1 == 7
    assert doc.file_name == "app.spdx.json"


def test_partial_sbom_says_why(tmp_path: Path) -> None:
    reason = "app is UPX-packed: its Go build info and function table are compressed"
    subject = SbomSubject(name="app", sha256="ab" * 32, build_info=None, partial_reasons=[reason])
    cdx = make_sbom(subject, "cyclonedx")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(cdx.content) is None
    assert {"name": "goslim:partial", "value": reason} in json.loads(cdx.content)["properties"]
    assert cdx.partial_reasons == [reason] and cdx.components == 0
    spdx = make_sbom(subject, "spdx")
    assert validate_spdx(spdx.content, tmp_path) == []
    assert json.loads(spdx.content)["comment"] == f"Partial SBOM: {reason}"


def test_file_names() -> None:
    assert sbom_file_name("oci:/tmp/out/img:latest", "spdx") == "img_latest.spdx.json"
    assert sbom_file_name("server", "cyclonedx") == "server.cdx.json"


DPKG_STATUS = """Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy.

Package: removed-pkg
Status: deinstall ok config-files
Version: 1.0

Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl (3.0.11-1~deb12u2)
Version: 3.0.11-1~deb12u2
"""

APK_DB = """C:Q1abc=
P:musl
V:1.2.4-r2
A:x86_64
L:MIT
o:musl

P:busybox
V:1.36.1-r5
A:x86_64
L:GPL-2.0-only
"""


def test_package_databases() -> None:
    pkgs = parse_dpkg_status(DPKG_STATUS)
    assert [(p.name, p.version, p.source) for p in pkgs] == [
        ("base-files", "12.4+deb12u5", ""),
        ("libssl3", "3.0.11-1~deb12u2", "openssl"),
    ]
    distroless = parse_dpkg_status("Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n")
    assert [p.name for p in distroless] == ["tzdata"]
    apk = parse_apk_installed(APK_DB)
    assert [(p.name, p.version, p.license) for p in apk] == [
        ("musl", "1.2.4-r2", "MIT"),
        ("busybox", "1.36.1-r5", "GPL-2.0-only"),
    ]
    assert parse_os_release('ID=debian\nVERSION_ID="12"\n# c\n') == {"ID": "debian", "VERSION_ID": "12"}
