"""`goslim slim --platform linux/amd64,linux/arm64`: one index, both verified, k8s pins the index."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from goslim.cli.app import main
from goslim.oci import layout_tags
from goslim.sign import write_key_pair
from tests.conftest import app_dir, need_tool
from tests.integration.test_verify_platforms import need_qemu

ARM64_ONLY = "GO-TEST-ARM64"


def arm64_only_db(root: Path) -> Path:
    """An OSV database with one stdlib entry whose vulnerable code exists only for GOARCH=arm64."""
    entry = {"schema_version": "1.3.1", "id": ARM64_ONLY, "modified": "0001-01-01T00:00:00Z",
             "aliases": [], "details": "test: net/http on arm64 only",
             "affected": [{"package": {"name": "stdlib", "ecosystem": "Go"},
                           "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}],
                           "ecosystem_specific": {"imports": [
                               {"path": "net/http", "goarch": ["arm64"]}]}}]}  # the whole package
    (root / "ID").mkdir(parents=True)
    (root / "ID" / f"{ARM64_ONLY}.json").write_text(json.dumps(entry))
    return root


def test_slim_two_platforms_pins_the_index_digest(registry, tmp_path: Path, capsys, monkeypatch) -> None:
    need_tool("go")
    need_tool("skopeo")
    need_qemu()
    module = tmp_path / "hello-api"
    shutil.copytree(app_dir("hello-api"), module)
    ref = registry.ref("multiarch/slim", "v1")
    out = tmp_path / "report"
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    keys = write_key_pair(tmp_path / "keys", b"pw")
    code = main(["slim", str(module), "--platform", "linux/amd64,linux/arm64", "--no-ablation",
                 "--no-compare", "--to", ref, "--report", str(out), "--json",
                 "--db", str(arm64_only_db(tmp_path / "osv")), "--key", str(keys.private_key)])
    capsys.readouterr()
    assert code == 0
    run = json.loads((out / "report.json").read_text())
    digest = run["index"]["digest"]
    assert [i["platform"] for i in run["index"]["images"]] == ["linux/amd64", "linux/arm64"]
    assert run["checklist"]["platform"] == "linux/amd64"
    [arm] = run["platform_checks"]["runs"]
    assert arm["platform"] == "linux/arm64" and arm["mode"] == "emulated" and arm["checklist"]["results"]
    assert all(r["status"] != "fail" for r in arm["checklist"]["results"])
    pushed = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                            capture_output=True, check=True, timeout=60).stdout
    assert "sha256:" + hashlib.sha256(pushed).hexdigest() == digest
    arm_sbom = Path(run["outputs"]["sbom cyclonedx (linux/arm64)"])
    arm_binary = run["index"]["images"][1]["binary"]["sha256"]
    assert arm_sbom.parent == out / "sbom" and arm_binary in arm_sbom.read_text()  # the arm64 binary's own
    journey = {j["label"]: j["size"] for j in run["journey"]}
    assert journey["linux/arm64 image to pull"] == run["index"]["images"][1]["stats"]["pull_size"]
    assert journey["index of 2 platforms, every blob once"] > journey["image to pull"]
    ablation = next(s for s in run["stages"] if s["stage"] == "ablation")
    assert ablation["status"] == "skipped"
    gc = next(s for s in run["stages"] if s["stage"] == "gc")
    assert "stale" not in (gc["message"] or "")  # the SBOM attached to the amd64 image stays
    amd_digest = run["index"]["images"][0]["digest"]
    assert f"{amd_digest.replace(':', '-')}.sbom" in layout_tags(out / "image")
    md = (out / "report.md").read_text()
    assert "| linux/arm64 |" in md and "emulated: qemu-aarch64" in md
    assert "Platforms of the image index" in (out / "report.html").read_text()
    k8s = (out / "deploy" / "k8s.yaml").read_text()
    assert f"image: {registry.host}/multiarch/slim@{digest}" in k8s
    # Each platform's binary is scanned with its own GOOS/GOARCH: the arm64-only entry is found on arm64.
    assert [v["id"] for v in run["scan"]["vulnerabilities"]] == []
    [arm_vuln] = run["platform_scans"]["linux/arm64"]["vulnerabilities"]
    assert arm_vuln["id"] == ARM64_ONLY and arm_vuln["status"] == "called"
    assert "| linux/arm64 |" in md and "1 called" in md
    # Signed and attested as cosign --recursive: each platform's manifest carries its own checklist and SBOM.
    capsys.readouterr()
    assert main(["verify-signature", ref, "--key", str(keys.public_key)]) == 0
    capsys.readouterr()
    assert main(["verify-attestation", ref, "--key", str(keys.public_key), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert {p: a["predicate"]["checklist"]["platform"] for p, a in found["platforms"].items()} == {
        "linux/amd64": "linux/amd64", "linux/arm64": "linux/arm64"}
    assert [r["mode"] for r in found["image"]["predicate"]["platforms"]] == ["native", "emulated"]
    assert main(["verify-attestation", ref, "--key", str(keys.public_key), "--type", "cyclonedx",
                 "--json"]) == 0
    boms = json.loads(capsys.readouterr().out)
    assert arm_binary in json.dumps(boms["platforms"]["linux/arm64"]["predicate"])
    assert arm_binary not in json.dumps(boms["platforms"]["linux/amd64"]["predicate"])
    # `goslim scan --platform` on the index: that platform's binary, its SBOM attached to its own manifest.
    osv = str(tmp_path / "osv")
    assert main(["scan", f"oci:{out / 'image'}", "--db", osv, "--platform", "linux/arm64",
                 "--out", str(tmp_path / "scan"), "--json"]) == 0
    assert [v["id"] for v in json.loads(capsys.readouterr().out)["report"]["vulnerabilities"]] == [ARM64_ONLY]
    arm_digest = run["index"]["images"][1]["digest"]
    assert f"{arm_digest.replace(':', '-')}.sbom" in layout_tags(out / "image")
    assert main(["scan", f"oci:{out / 'image'}", "--db", osv, "--out", str(tmp_path / "scan"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["report"]["vulnerabilities"] == []
    # The same slim again with --reuse-attestation: the same index digest, and each platform answered by
    # the checklist attested on its own manifest in the registry (arm64's emulated run too).
    args = ["slim", str(module), "--platform", "linux/amd64,linux/arm64", "--no-ablation", "--no-compare",
            "--to", ref, "--report", str(out), "--json", "--db", osv, "--key", str(keys.private_key),
            "--reuse-attestation"]
    assert main(args) == 0
    capsys.readouterr()
    again = json.loads((out / "report.json").read_text())
    assert again["index"]["digest"] == digest
    stage = {s["stage"]: s["message"] or "" for s in again["stages"]}
    assert f"reused the signed verification of {amd_digest} at {ref} (linux/amd64)" in stage["verify"]
    others = stage["verify platforms"]
    assert f"reused the signed verification of {arm_digest} at {ref} (linux/arm64)" in others
    assert "linux/arm64 emulated, reused: ok" in others
    [arm_again] = again["platform_checks"]["runs"]
    assert arm_again["reused"] and arm_again["checklist"]["results"] == arm["checklist"]["results"]
    assert again["checklist_reused"].startswith(f"reused the signed verification of {amd_digest}")
    report = (out / "report.md").read_text()  # each platform's row says its verdict was reused
    assert "| linux/amd64 | " in report and "reused: its attested native run" in report
    assert "| linux/arm64 | " in report and "reused: its attested emulated run" in report
