"""An image index signed and attested as `cosign sign --recursive` does: the index and each platform's
manifest, checked by the real cosign (by digest, in a registry) and by goslim offline."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from goslim.cli.app import main
from goslim.oci.layout import layout_tags
from goslim.sign import write_key_pair
from goslim.sign.attest import PREDICATE_TYPES
from tests.conftest import app_dir, need_tool
from tests.integration.test_sign_cosign import PASSWORD, CosignRunner, find_cosign
from tests.integration.test_verify_platforms import need_qemu

TWO = "linux/amd64,linux/arm64"
GOSLIM_TYPE = PREDICATE_TYPES["goslim"]
COSIGN_OFFLINE = ("--insecure-ignore-tlog=true", "--allow-insecure-registry")


def goslim_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory, registry) -> tuple[str, str, dict[str, str]]:
    """hello-api for amd64+arm64 pushed as an index: (tagged ref, index digest, platform -> manifest)."""
    need_tool("go")
    need_tool("skopeo")
    root = tmp_path_factory.mktemp("sign-index")
    module = root / "hello-api"
    shutil.copytree(app_dir("hello-api"), module)
    ref = registry.ref("multiarch/signed", "v1")
    assert main(["image", str(module), "--platform", TWO, "--to", ref]) == 0
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                         capture_output=True, check=True, timeout=120).stdout
    doc = json.loads(raw)
    platforms = {f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
                 for m in doc["manifests"]}
    return ref, "sha256:" + hashlib.sha256(raw).hexdigest(), platforms


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory):
    return write_key_pair(tmp_path_factory.mktemp("index-keys"), PASSWORD.encode())


@pytest.fixture(scope="module")
def cosign_tool(tmp_path_factory: pytest.TempPathFactory) -> CosignRunner:
    return CosignRunner(find_cosign(), tmp_path_factory.mktemp("cosign-home"))


def by_digest(ref: str, digest: str) -> str:
    return f"{ref.rsplit(':', 1)[0]}@{digest}"


def test_cosign_verifies_the_index_and_each_platform_signed_by_goslim(
    pushed, keys, cosign_tool: CosignRunner, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    ref, index_digest, platforms = pushed
    code, doc = goslim_json(capsys, "sign", ref, "--key", str(keys.private_key))
    assert code == 0
    assert doc["image"]["image_digest"] == index_digest
    assert {p: s["image_digest"] for p, s in doc["platforms"].items()} == platforms
    for digest in (index_digest, *platforms.values()):
        proc = cosign_tool.run("verify", "--key", str(keys.public_key), *COSIGN_OFFLINE,
                               by_digest(ref, digest))
        claims = json.loads(proc.stdout.strip().splitlines()[0])
        assert [c["critical"]["image"]["docker-manifest-digest"] for c in claims] == [digest]
    code, report = goslim_json(capsys, "verify-signature", ref, "--key", str(keys.public_key))
    assert code == 0 and sorted(report["platforms"]) == sorted(platforms)


def test_each_platform_manifest_carries_its_own_checklist(
    pushed, keys, cosign_tool: CosignRunner, capsys, monkeypatch
) -> None:
    """`goslim verify INDEX --attest`: cosign reads a goslim attestation on the index and on each platform's
    manifest; the platform's one carries that platform's checklist, the index's a row per platform."""
    need_qemu()
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    ref, index_digest, platforms = pushed
    code, _ = goslim_json(capsys, "verify", ref, "--attest", "--key", str(keys.private_key), "--alive", "1")
    assert code == 0
    for what, digest in (("index", index_digest), *platforms.items()):
        proc = cosign_tool.run("verify-attestation", "--key", str(keys.public_key), "--type", GOSLIM_TYPE,
                          *COSIGN_OFFLINE, by_digest(ref, digest))
        envelope = json.loads(proc.stdout.strip().splitlines()[0])
        statement = json.loads(base64.b64decode(envelope["payload"]))
        assert statement["subject"][0]["digest"]["sha256"] == digest.removeprefix("sha256:")
        predicate = statement["predicate"]
        assert predicate["passed"] is True
        if what == "index":
            assert [(r["platform"], r["digest"], r["mode"]) for r in predicate["platforms"]] == [
                ("linux/amd64", platforms["linux/amd64"], "native"),
                ("linux/arm64", platforms["linux/arm64"], "emulated")]
        else:
            assert predicate["checklist"]["platform"] == what and predicate["platforms"] == []
    code, found = goslim_json(capsys, "verify-attestation", ref, "--key", str(keys.public_key))
    assert code == 0
    assert {p: a["predicate"]["checklist"]["platform"] for p, a in found["platforms"].items()} == {
        p: p for p in platforms}
    assert found["digests"] == platforms


def test_layout_index_signed_recursively_keeps_cosign_markers_on_the_index(
    pushed, keys, cosign_tool: CosignRunner, tmp_path: Path, capsys, monkeypatch
) -> None:
    """In an OCI layout each platform's signature is a plain sha256-<hex>.sig tag; cosign's --local-image
    reads the index's; a platform signature removed is refused by goslim naming the platform."""
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    ref, index_digest, platforms = pushed
    layout = tmp_path / "layout"
    subprocess.run(["skopeo", "copy", "--all", "--src-tls-verify=false", f"docker://{ref}",
                    f"oci:{layout}:v1"], capture_output=True, check=True, timeout=120)
    assert main(["sign", f"oci:{layout}:v1", "--key", str(keys.private_key)]) == 0
    tags = layout_tags(layout)
    for digest in (index_digest, *platforms.values()):
        assert digest.replace(":", "-") + ".sig" in tags
    proc = cosign_tool.run("verify", "--key", str(keys.public_key), "--insecure-ignore-tlog=true",
                      "--local-image", str(layout))
    assert json.loads(proc.stdout.strip().splitlines()[0])[0]["critical"]["image"][
        "docker-manifest-digest"] == index_digest
    # Take the arm64 signature away: the index's alone is not enough.
    arm_tag = platforms["linux/arm64"].replace(":", "-") + ".sig"
    index_json = json.loads((layout / "index.json").read_text())
    ref_name = "org.opencontainers.image.ref.name"
    index_json["manifests"] = [m for m in index_json["manifests"]
                               if (m.get("annotations") or {}).get(ref_name) != arm_tag]
    (layout / "index.json").write_text(json.dumps(index_json))
    capsys.readouterr()
    assert main(["verify-signature", f"oci:{layout}:v1", "--key", str(keys.public_key)]) == 1
    err = capsys.readouterr().err
    assert "(linux/arm64)" in err and "no signatures found" in err
