"""`goslim slim --platform linux/amd64,linux/arm64`: one index, both verified, k8s pins the index."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from goslim.cli.app import main
from goslim.oci import layout_tags
from tests.conftest import app_dir, need_tool
from tests.integration.test_verify_platforms import need_qemu


def test_slim_two_platforms_pins_the_index_digest(registry, tmp_path: Path, capsys) -> None:
    need_tool("go")
    need_tool("skopeo")
    need_qemu()
    module = tmp_path / "hello-api"
    shutil.copytree(app_dir("hello-api"), module)
    ref = registry.ref("multiarch/slim", "v1")
    out = tmp_path / "report"
    code = main(["slim", str(module), "--platform", "linux/amd64,linux/arm64", "--no-ablation",
                 "--no-compare", "--to", ref, "--report", str(out), "--json"])
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
