"""Interop with the real cosign against a local registry: each verifies the other's signatures and keys.

cosign is looked up on PATH, then in ~/.cache/goslim-tools (where `GOSLIM_COSIGN=1 scripts/setup.sh` or
``go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5`` puts it);
without it the tests skip and say why.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from goslim.binary import analyze
from goslim.cli.app import main
from goslim.image import ImageOptions, assemble
from goslim.oci import FileEntry, Image, Platform, RegistryClient, build_layer, new_config, write_oci_layout
from goslim.oci.remote import push
from goslim.scan import run_scan
from goslim.sign import (
    SignatureVerificationError,
    sign_blob,
    sign_image,
    verify_blob,
    verify_image,
    write_key_pair,
)
from goslim.sign.attest import PREDICATE_TYPES, attest_image, verify_attestation
from goslim.sign.store import LayoutLocation, OciLayoutStore
from tests.conftest import need_tool
from tests.integration.registry import RunningRegistry

PASSWORD = "interop-pw"
TOOLS_DIR = Path(os.environ.get("GOSLIM_TOOLS_DIR", Path.home() / ".cache" / "goslim-tools"))
COSIGN_TIMEOUT = 180
OSV = Path(__file__).resolve().parents[1] / "fixtures" / "osv"


def find_cosign() -> str:
    found = shutil.which("cosign") or (
        str(TOOLS_DIR / "cosign") if (TOOLS_DIR / "cosign").is_file() else None
    )
    if found is None:
        reason = (
            "cosign is not installed (Debian bookworm has no package); build it once with "
            "`GOBIN=/root/.cache/goslim-tools go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5`"
        )
        if os.environ.get("GOSLIM_COSIGN") == "1":
            pytest.fail(f"{reason}: scripts/setup.sh with GOSLIM_COSIGN=1 should have built it")
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def cosign(tmp_path_factory: pytest.TempPathFactory) -> CosignRunner:
    return CosignRunner(find_cosign(), tmp_path_factory.mktemp("cosign-home"))


class CosignRunner:
    """Runs cosign offline: key-based, no transparency log, password from COSIGN_PASSWORD."""

    def __init__(self, binary: str, home: Path) -> None:
        self.binary = binary
        self.home = home

    def run(
        self, *args: str, cwd: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "COSIGN_PASSWORD": PASSWORD,
            "HOME": str(self.home),
            "TUF_ROOT": str(self.home / "tuf"),
            "COSIGN_EXPERIMENTAL": "0",
        }
        proc = subprocess.run(
            [self.binary, *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            timeout=COSIGN_TIMEOUT,
            check=False,
        )
        if check and proc.returncode != 0:
            pytest.fail(f"cosign {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        return proc


def push_image(registry: RunningRegistry, repo: str, marker: str) -> tuple[str, str]:
    config = new_config(Platform(os="linux", architecture="amd64"))
    image = Image.build(config, [build_layer([FileEntry.file("etc/marker", marker.encode())], mtime=0)])
    with RegistryClient() as client:
        result = push(image, registry.ref(repo, "v1"), client)
    return registry.ref(repo, "v1"), result.digest


def test_cosign_verifies_goslim_signature(
    cosign: CosignRunner, registry: RunningRegistry, tmp_path: Path
) -> None:
    keys = write_key_pair(tmp_path, PASSWORD.encode())
    ref, digest = push_image(registry, "interop/goslim-signed", "goslim")
    sign_image(ref, keys.private_key, PASSWORD.encode())
    proc = cosign.run(
        "verify",
        "--key",
        str(keys.public_key),
        "--insecure-ignore-tlog=true",
        "--allow-insecure-registry",
        ref,
    )
    verified = json.loads(proc.stdout.strip().splitlines()[0])
    assert verified[0]["critical"]["image"]["docker-manifest-digest"] == digest


def test_goslim_verifies_cosign_signature(
    cosign: CosignRunner, registry: RunningRegistry, tmp_path: Path
) -> None:
    cosign.run("generate-key-pair", cwd=tmp_path)
    ref, digest = push_image(registry, "interop/cosign-signed", "cosign")
    cosign.run(
        "sign",
        "--key",
        str(tmp_path / "cosign.key"),
        "--tlog-upload=false",
        "--yes",
        "--allow-insecure-registry",
        f"{ref.rsplit(':', 1)[0]}@{digest}",
    )
    report = verify_image(ref, tmp_path / "cosign.pub")
    assert report.verified and report.image_digest == digest
    # cosign's encrypted private key loads in goslim too: sign the same image with it and let cosign check.
    sign_image(ref, tmp_path / "cosign.key", PASSWORD.encode())
    assert [c.valid for c in verify_image(ref, tmp_path / "cosign.pub").checks] == [True, True]
    cosign.run(
        "verify",
        "--key",
        str(tmp_path / "cosign.pub"),
        "--insecure-ignore-tlog=true",
        "--allow-insecure-registry",
        ref,
    )


def test_blob_signatures_interoperate(cosign: CosignRunner, tmp_path: Path) -> None:
    keys = write_key_pair(tmp_path / "goslim", PASSWORD.encode())
    blob = tmp_path / "server"
    blob.write_bytes(b"\x7fELF pretend server binary\n" * 100)
    signed = sign_blob(blob, keys.private_key, PASSWORD.encode())
    cosign.run(
        "verify-blob",
        "--key",
        str(keys.public_key),
        "--signature",
        str(signed.signature_path),
        "--insecure-ignore-tlog=true",
        str(blob),
    )
    other = tmp_path / "other"
    other.write_bytes(b"another file")
    proc = cosign.run("sign-blob", "--key", str(keys.private_key), "--tlog-upload=false", "--yes", str(other))
    (tmp_path / "other.sig").write_text(proc.stdout.strip().splitlines()[-1])
    assert verify_blob(other, keys.public_key).verified


def test_cosign_downloads_goslim_sbom(
    cosign: CosignRunner, registry: RunningRegistry, tmp_path: Path
) -> None:
    ref, _ = push_image(registry, "interop/sbom", "sbom")
    run_scan(ref, db=OSV, sbom_formats=["spdx"], out_dir=tmp_path)
    proc = cosign.run("download", "sbom", "--allow-insecure-registry", ref)
    assert json.loads(proc.stdout)["spdxVersion"] == "SPDX-2.3"


def test_cosign_verifies_goslim_attestations(
    cosign: CosignRunner, registry: RunningRegistry, tmp_path: Path
) -> None:
    """goslim's verification and SBOM attestations pass `cosign verify-attestation --type`."""
    keys = write_key_pair(tmp_path, PASSWORD.encode())
    ref, digest = push_image(registry, "interop/goslim-attested", "attested")
    goslim_type = PREDICATE_TYPES["goslim"]
    attest_image(ref, keys.private_key, PASSWORD.encode(), goslim_type,
                 {"passed": True, "checkSet": ["starts"]})
    attest_image(ref, keys.private_key, PASSWORD.encode(), PREDICATE_TYPES["cyclonedx"],
                 {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []})
    for kind, expected in ((goslim_type, "checkSet"), ("cyclonedx", "bomFormat")):
        proc = cosign.run("verify-attestation", "--key", str(keys.public_key), "--type", kind,
                          "--insecure-ignore-tlog=true", "--allow-insecure-registry", ref)
        envelope = json.loads(proc.stdout.strip().splitlines()[0])
        statement = json.loads(base64.b64decode(envelope["payload"]))
        assert statement["subject"][0]["digest"]["sha256"] == digest.removeprefix("sha256:")
        assert expected in statement["predicate"]
    other = write_key_pair(tmp_path / "other", PASSWORD.encode())
    refused = cosign.run("verify-attestation", "--key", str(other.public_key), "--type", goslim_type,
                         "--insecure-ignore-tlog=true", "--allow-insecure-registry", ref, check=False)
    assert refused.returncode != 0


def test_goslim_verifies_cosign_attestation(
    cosign: CosignRunner, registry: RunningRegistry, tmp_path: Path
) -> None:
    cosign.run("generate-key-pair", cwd=tmp_path)
    ref, digest = push_image(registry, "interop/cosign-attested", "cosign-attested")
    predicate = tmp_path / "predicate.json"
    predicate.write_text(json.dumps({"passed": True, "note": "written by cosign"}))
    cosign.run("attest", "--key", str(tmp_path / "cosign.key"), "--type", PREDICATE_TYPES["goslim"],
               "--predicate", str(predicate), "--tlog-upload=false", "--yes", "--allow-insecure-registry",
               f"{ref.rsplit(':', 1)[0]}@{digest}")
    found = verify_attestation(ref, tmp_path / "cosign.pub", PREDICATE_TYPES["goslim"])
    assert found.valid and found.predicate == {"passed": True, "note": "written by cosign"}


def test_cosign_reads_goslim_verify_attest_on_layout_and_registry(
    cosign: CosignRunner, registry: RunningRegistry, go_build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`goslim verify --attest` on a real image: cosign verifies the attestation in the OCI layout
    (`--local-image`) and, after a push, in the registry; a tampered predicate is refused by both."""
    need_tool("runc")
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    keys = write_key_pair(tmp_path / "keys", PASSWORD.encode())
    binary = go_build("hello-api")
    assembled = assemble(binary, analyze(binary.path), "static", ImageOptions(ports=[8080]))
    layout = tmp_path / "layout"
    write_oci_layout(layout, assembled.image, "v1")
    assert main(["verify", f"oci:{layout}:v1", "--alive", "1", "--grace", "2", "--attest",
                 "--key", str(keys.private_key)]) == 0
    goslim_type = PREDICATE_TYPES["goslim"]
    flags = ["--key", str(keys.public_key), "--type", goslim_type, "--insecure-ignore-tlog=true"]
    proc = cosign.run("verify-attestation", *flags, "--local-image", str(layout))
    statement = json.loads(base64.b64decode(json.loads(proc.stdout.strip().splitlines()[0])["payload"]))
    assert statement["subject"][0]["digest"]["sha256"] == str(assembled.digest).removeprefix("sha256:")
    predicate = statement["predicate"]
    assert predicate["passed"] is True and predicate["runtime"].startswith("runc")
    assert {c["id"] for c in predicate["checks"]} >= {"starts", "shutdown"}
    assert predicate["checklist"]["needs"]["ca_roots"]["answer"] in ("needed", "not needed", "carried")

    ref = registry.ref("interop/verified", "v1")
    with RegistryClient() as client:
        push(assembled.image, ref, client)
    fast = ["--alive", "1", "--grace", "2"]
    assert main(["verify", ref, *fast, "--attest", "--key", str(keys.private_key)]) == 0
    cosign.run("verify-attestation", *flags, "--allow-insecure-registry", ref)
    downloaded = cosign.run("download", "attestation", "--allow-insecure-registry", ref)
    kinds = [json.loads(base64.b64decode(json.loads(line)["payload"]))["predicateType"]
             for line in downloaded.stdout.splitlines() if line.strip()]
    assert kinds == [goslim_type]

    # Rewrite the layout's envelope (a failed check turned into a pass) without re-signing it.
    store = OciLayoutStore(LayoutLocation(layout, "v1"))
    tag = store.resolve().replace(":", "-") + ".att"
    manifest = json.loads(store.get_tagged(tag) or b"{}")
    envelope = json.loads(store.get_blob(manifest["layers"][0]["digest"]))
    body = json.loads(base64.b64decode(envelope["payload"]))
    body["predicate"]["passed"] = not body["predicate"]["passed"]
    envelope["payload"] = base64.b64encode(json.dumps(body).encode()).decode()
    forged = json.dumps(envelope).encode()
    manifest["layers"][0].update(digest=store.put_blob(forged, "x"), size=len(forged))
    store.put_tagged(tag, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    refused = cosign.run("verify-attestation", *flags, "--local-image", str(layout), check=False)
    assert refused.returncode != 0
    with pytest.raises(SignatureVerificationError, match="tampered"):
        verify_attestation(f"oci:{layout}:v1", keys.public_key, goslim_type)
