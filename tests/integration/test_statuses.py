"""Statuses that say what happened, and outputs that do not pile up (issue 15).

- `goslim scan` with no database and no network writes its SBOMs, says the vulnerabilities were
  `not checked` and why, and fails closed under `--fail-on`. "No network" is a network namespace
  the test creates (`unshare -n`), so nothing leaves the machine.
- Re-running `goslim slim` leaves one image per tag, one SBOM attachment (one layer per SBOM type)
  for that image and no blob nothing references; the gc stage says what it removed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from goslim.cli.app import main
from goslim.scan.sbom import SBOM_FORMATS
from tests.conftest import EXAMPLE_DIR, REPO, BuildFixture, need_tool

OSV = REPO / "tests" / "fixtures" / "osv"
REF_NAME = "org.opencontainers.image.ref.name"


def _offline_goslim(*args: str) -> subprocess.CompletedProcess[str]:
    """goslim in a fresh network namespace: no route anywhere, as on an air-gapped runner."""
    unshare = need_tool("unshare")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [unshare, "--net", sys.executable, "-m", "goslim", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)
    if proc.returncode != 0 and "unshare failed" in proc.stderr:
        pytest.skip(f"cannot create a network namespace here: {proc.stderr.strip()}")
    return proc


@pytest.fixture
def binary(go_build: BuildFixture, tmp_path: Path) -> Path:
    built = go_build("no-needs")
    copy = tmp_path / "svc"
    shutil.copy2(built.path, copy)
    return copy


def test_scan_sbom_works_offline_without_a_database(binary: Path, tmp_path: Path) -> None:
    out = tmp_path / "sbom"
    proc = _offline_goslim("scan", str(binary), "--sbom", "cyclonedx", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "vulnerabilities not checked" in proc.stdout
    assert "cannot download the Go vulnerability database" in proc.stdout
    assert "no known vulnerabilities" not in proc.stdout
    cdx = json.loads((out / "svc.cdx.json").read_text())
    assert any(c.get("purl", "").startswith("pkg:golang/stdlib@") for c in cdx["components"])


def test_scan_without_a_database_fails_closed_under_fail_on(binary: Path, tmp_path: Path) -> None:
    out = tmp_path / "sbom"
    proc = _offline_goslim("scan", str(binary), "--fail-on", "high", "--out", str(out), "--json")
    assert proc.returncode == 1, proc.stderr
    assert "fails closed" in proc.stderr and "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)["report"]
    assert report["not_checked"].startswith("cannot download the Go vulnerability database")
    assert {p.name for p in out.iterdir()} == {"svc.cdx.json", "svc.spdx.json"}  # the SBOMs are still written


def test_a_database_the_user_named_must_exist(binary: Path, tmp_path: Path, capsys) -> None:
    code = main(["scan", str(binary), "--db", str(tmp_path / "missing"), "--out", str(tmp_path)])
    assert code == 2
    assert "no such vulnerability database" in capsys.readouterr().err


def _blobs_reachable(layout: Path) -> set[str]:
    """Hex digests reachable from index.json, walked here independently of goslim.oci.gc."""
    seen: set[str] = set()
    pending = list(json.loads((layout / "index.json").read_text())["manifests"])
    while pending:
        desc = pending.pop()
        hexd = desc["digest"].removeprefix("sha256:")
        if hexd in seen:
            continue
        seen.add(hexd)
        if "manifest" in desc["mediaType"] or "index" in desc["mediaType"]:
            doc = json.loads((layout / "blobs" / "sha256" / hexd).read_text())
            pending += [doc["config"], *doc.get("layers", [])] if "config" in doc else []
            pending += doc.get("manifests", [])
    return seen


def test_rerun_replaces_its_sbom_attachment_and_collects_the_layout(tmp_path: Path, capsys) -> None:
    for tool in ("go", "runc"):
        need_tool(tool)
    module = tmp_path / "hello-api"
    shutil.copytree(EXAMPLE_DIR, module, ignore=shutil.ignore_patterns("dist", "goslim-report"))
    # Static checks only: the layout, not the service's behaviour, is what this test is about.
    config = (module / "goslim.yaml").read_text()
    (module / "goslim.yaml").write_text(config + "verify:\n  skip: [runtime, probes]\n")
    out = tmp_path / "report"
    base = ["slim", str(module), "--report", str(out), "--db", str(OSV), "--no-ablation", "--no-compare"]
    layout = out / "image"

    assert main(base) == 0, capsys.readouterr().err
    first = json.loads((layout / "index.json").read_text())["manifests"]
    # A changed service (another env in its config): the tag moves to a new image digest.
    assert main([*base, "--env", "RERUN=1"]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    run = json.loads((out / "report.json").read_text())
    gc = next(s for s in run["stages"] if s["stage"] == "gc")
    assert gc["status"] == "ok", gc
    assert gc["message"].startswith("removed 1 stale attachment and ")
    assert "unreferenced blobs" in gc["message"]
    assert "1 stale attachment" in err  # said on the terminal too
    # And the same service again: same digest, the SBOM attachment is replaced, not added to.
    assert main([*base, "--env", "RERUN=1"]) == 0, capsys.readouterr().err

    entries = json.loads((layout / "index.json").read_text())["manifests"]
    tags = {e["annotations"][REF_NAME]: e for e in entries}
    assert len(tags) == len(entries) == 2, sorted(tags)
    image = tags["latest"]
    assert image["digest"] != next(e for e in first if e["annotations"][REF_NAME] == "latest")["digest"]
    sbom_tag = f"{image['digest'].replace(':', '-')}.sbom"
    assert sbom_tag in tags
    sbom = json.loads((layout / "blobs" / "sha256" / tags[sbom_tag]["digest"][7:]).read_text())
    media_types = [layer["mediaType"] for layer in sbom["layers"]]
    assert len(media_types) == len(set(media_types)) == len(SBOM_FORMATS)

    on_disk = {p.name for p in (layout / "blobs" / "sha256").iterdir()}
    assert on_disk == _blobs_reachable(layout)
    # An independent reader still reads what is left.
    need_tool("skopeo")
    subprocess.run(["skopeo", "inspect", f"oci:{layout}:latest"], capture_output=True, check=True)


def test_slim_without_a_database_is_not_checked_and_fails_closed(tmp_path: Path) -> None:
    """Before: `ok scan` with db_entries 0 and exit 0 although --fail-on was set."""
    for tool in ("go", "runc"):
        need_tool(tool)
    module = tmp_path / "hello-api"
    shutil.copytree(EXAMPLE_DIR, module, ignore=shutil.ignore_patterns("dist", "goslim-report"))
    config = (module / "goslim.yaml").read_text()
    checks = "verify:\n  skip: [runtime, probes]\nscan:\n  fail_on: high\n"
    (module / "goslim.yaml").write_text(config + checks)
    out = tmp_path / "report"
    proc = _offline_goslim("slim", str(module), "--report", str(out), "--no-ablation", "--no-compare")
    assert proc.returncode == 1, proc.stderr
    assert "not checked scan" in proc.stderr and "Traceback" not in proc.stderr
    run = json.loads((out / "report.json").read_text())
    scan = next(s for s in run["stages"] if s["stage"] == "scan")
    assert scan["status"] == "not checked"
    assert scan["message"].startswith("vulnerabilities not checked: cannot download")
    assert scan["policy"] == "--fail-on high: vulnerabilities not checked, which fails closed"
    assert run["scan"]["not_checked"]
    assert all(Path(p).is_file() for p in run["sbom"].values()) and len(run["sbom"]) == len(SBOM_FORMATS)
    junit = ET.fromstring((out / "junit.xml").read_text()).find("testsuite[@name='goslim.stages']")
    assert junit is not None and junit.get("failures") == "1"
    assert '<td class="not-checked">not checked</td>' in (out / "report.html").read_text()
