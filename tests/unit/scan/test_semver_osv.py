"""Version ordering, Go version names, OSV parsing and database loading (dir, zip, corrupt entries)."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import httpx
import pytest

from goslim.scan.cvss import cvss3_base_score
from goslim.scan.errors import VulnDbError
from goslim.scan.osv import Affected, Range, fixed_in, is_affected, parse_entry
from goslim.scan.semver import go_to_semver, parse_semver
from goslim.scan.vulndb import fetch_vulndb, load_vulndb

OSV_FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "osv"


def v(text: str):
    parsed = parse_semver(text)
    assert parsed is not None, text
    return parsed


def test_semver_ordering() -> None:
    ordered = [
        "0",
        "0.3.7",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.21.0-0",
        "1.21.0",
        "1.21.5",
        "1.22.0-rc.1",
        "1.22.0",
    ]
    versions = [v(t) for t in ordered]
    assert versions == sorted(versions)
    assert v("v0.3.7") == v("0.3.7")
    assert v("0.0.0-20230101000000-abcdefabcdef") < v("0.0.1")  # pseudo-versions are pre-releases
    assert parse_semver("(devel)") is None
    assert parse_semver("1.2") is None


@pytest.mark.parametrize(
    ("go", "semver"),
    [
        ("go1.21.0", "1.21.0"),
        ("go1.21", "1.21.0"),
        ("go1.9", "1.9.0"),
        ("go1.22rc1", "1.22.0-rc.1"),
        ("go1.20beta1", "1.20.0-beta.1"),
        ("go1.24.0 X:boringcrypto", "1.24.0"),
        ("devel go1.23-abc", None),
        ("", None),
    ],
)
def test_go_to_semver(go: str, semver: str | None) -> None:
    assert go_to_semver(go) == semver


def test_ranges_and_fixed_versions() -> None:
    aff = Affected(
        module="stdlib",
        ranges=(Range(introduced="0", fixed="1.20.12"), Range(introduced="1.21.0-0", fixed="1.21.5")),
    )
    assert is_affected(aff, v("1.21.0"))
    assert is_affected(aff, v("1.21.0-rc.2"))  # 1.21.0-0 starts before every 1.21 pre-release
    assert is_affected(aff, v("1.20.11"))
    assert not is_affected(aff, v("1.20.12"))
    assert not is_affected(aff, v("1.21.5"))
    assert not is_affected(aff, v("1.26.8"))
    assert fixed_in(aff, v("1.21.0")) == "1.21.5"
    assert fixed_in(aff, v("1.19.0")) == "1.20.12"
    unfixed = Affected(module="m", ranges=(Range(introduced="1.0.0"),))
    assert is_affected(unfixed, v("9.9.9")) and fixed_in(unfixed, v("9.9.9")) is None


def test_real_fixture_entries_parse() -> None:
    db = load_vulndb(OSV_FIXTURE)
    assert db.notes == []
    ids = {e.id: e for e in db.entries}
    assert set(ids) == {"GO-2023-2382", "GO-2024-2887", "GO-2023-2043", "GO-2022-1059"}
    e = ids["GO-2023-2382"]
    assert e.cves == ["CVE-2023-39326"]
    assert e.severity == "unknown"  # Go vulndb gives no severity
    assert e.affected[0].imports[0].path == "net/http/internal"
    assert "chunkedReader.Read" in e.affected[0].imports[0].symbols
    assert ids["GO-2022-1059"].summary.startswith(
        "An attacker may cause"
    )  # no summary: first line of details


def test_corrupt_entries_are_skipped_with_a_note(tmp_path: Path) -> None:
    shutil.copytree(OSV_FIXTURE / "ID", tmp_path / "ID")
    (tmp_path / "ID" / "GO-2099-0001.json").write_text("{not json")
    (tmp_path / "ID" / "GO-2099-0002.json").write_text(json.dumps({"id": "GO-2099-0002"}))
    bad_version = {
        "id": "GO-2099-0003",
        "affected": [
            {
                "package": {"name": "m", "ecosystem": "Go"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "banana"}]}],
            }
        ],
    }
    (tmp_path / "ID" / "GO-2099-0003.json").write_text(json.dumps(bad_version))
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "modules.json").write_text("[]")  # index files are not entries
    db = load_vulndb(tmp_path)
    assert len(db.entries) == 4
    assert len(db.notes) == 3
    assert any("GO-2099-0001.json" in n for n in db.notes)
    assert any("no affected list" in n for n in db.notes)
    assert any("banana" in n for n in db.notes)


def test_zip_database(tmp_path: Path) -> None:
    archive = tmp_path / "vulndb.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in (OSV_FIXTURE / "ID").glob("*.json"):
            zf.write(p, f"ID/{p.name}")
        zf.writestr("ID/broken.json", "[]")
    db = load_vulndb(archive)
    assert len(db.entries) == 4 and db.notes == ["skipped ID/broken.json: not a JSON object"]


def test_bad_db_paths(tmp_path: Path) -> None:
    with pytest.raises(VulnDbError, match="no such vulnerability database"):
        load_vulndb(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(VulnDbError, match="neither a directory nor a zip"):
        load_vulndb(tmp_path / "file.txt")


def test_fetch_from_a_vuln_go_dev_style_server() -> None:
    entry = json.loads((OSV_FIXTURE / "ID" / "GO-2022-1059.json").read_text())

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/index/modules.json":
            return httpx.Response(
                200,
                json=[
                    {"path": "golang.org/x/text", "vulns": [{"id": "GO-2022-1059"}]},
                    {"path": "other", "vulns": [{"id": "GO-0000-0000"}]},
                ],
            )
        if request.url.path == "/ID/GO-2022-1059.json":
            return httpx.Response(200, json=entry)
        return httpx.Response(404)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        db = fetch_vulndb(["stdlib", "golang.org/x/text"], "https://vuln.example", client)
    assert [e.id for e in db.entries] == ["GO-2022-1059"]


def test_offline_download_is_one_clear_error() -> None:
    with pytest.raises(VulnDbError) as info:
        fetch_vulndb(["stdlib"], "http://127.0.0.1:9")
    assert "cannot download the Go vulnerability database from http://127.0.0.1:9" in info.value.one_line()
    assert "--db PATH" in (info.value.hint or "")


def test_parse_entry_severity_words() -> None:
    base = {"id": "GHSA-x", "affected": []}
    assert parse_entry({**base, "database_specific": {"severity": "MODERATE"}}).severity == "medium"
    assert parse_entry({**base, "severity": [{"type": "CVSS_V3", "score": "9.8"}]}).severity == "critical"
    assert (
        parse_entry({**base, "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N"}]}).severity
        == "unknown"
    )


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.8),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", None),
        ("CVSS:3.1/AV:X/AC:L", None),
    ],
)
def test_cvss3_base_scores(vector: str, score: float | None) -> None:
    assert cvss3_base_score(vector) == score


def test_cvss_vector_sets_severity() -> None:
    entry = parse_entry(
        {
            "id": "GHSA-y",
            "affected": [],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
        }
    )
    assert entry.severity == "high"
