"""Signatures and SBOMs on a real registry (docker-registry on 127.0.0.1), read back by goslim and skopeo."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from goslim.cli.app import main
from goslim.oci import (
    FileEntry,
    Image,
    ImageReference,
    Platform,
    RegistryClient,
    build_layer,
    new_config,
    write_oci_layout,
)
from goslim.oci.remote import push
from goslim.scan import run_scan
from goslim.sign import SignatureVerificationError, sign_image, verify_image, write_key_pair
from goslim.sign.attach import ArtifactLayer, attach, existing_layers
from goslim.sign.keys import KeyPair
from goslim.sign.registry_store import RegistryStore
from tests.conftest import BuildFixture, need_tool
from tests.integration.registry import RunningRegistry

PASSWORD = "it-pw"
OSV = Path(__file__).resolve().parents[1] / "fixtures" / "osv"


def small_image(marker: str, binary: Path | None = None) -> Image:
    entries = [FileEntry.file("etc/marker", marker.encode())]
    if binary is not None:
        entries.append(FileEntry.from_path("app/server", binary))
    config = new_config(
        Platform(os="linux", architecture="amd64"), entrypoint=["/app/server"] if binary else None
    )
    return Image.build(config, [build_layer(entries, mtime=0)])


def push_image(registry: RunningRegistry, repo: str, image: Image, tag: str = "v1") -> str:
    with RegistryClient() as client:
        return push(image, registry.ref(repo, tag), client).digest


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return write_key_pair(tmp_path_factory.mktemp("it-keys"), PASSWORD.encode())


def test_sign_and_verify_on_registry_via_cli(
    registry: RunningRegistry,
    keys: KeyPair,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    digest = push_image(registry, "goslim-sign/cli", small_image("cli"))
    ref = registry.ref("goslim-sign/cli", "v1")
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    assert main(["sign", ref, "--key", str(keys.private_key), "--json"]) == 0
    signed = json.loads(capsys.readouterr().out)
    assert signed["image_digest"] == digest
    assert signed["attachment"]["tag"] == digest.replace(":", "-") + ".sig"
    assert main(["verify-signature", ref, "--key", str(keys.public_key)]) == 0
    assert "1 of 1 signature(s) match" in capsys.readouterr().out
    # The payload names the repository and the digest, as cosign writes it.
    store = RegistryStore(ImageReference.parse(ref))
    (layer,) = existing_layers(store, signed["attachment"]["tag"])
    payload = json.loads(store.get_blob(layer["digest"]))
    assert payload["critical"]["identity"]["docker-reference"] == f"{registry.host}/goslim-sign/cli"
    assert payload["critical"]["image"]["docker-manifest-digest"] == digest
    # An independent reader sees the signature image.
    skopeo = need_tool("skopeo")
    out = subprocess.run(
        [
            skopeo,
            "inspect",
            "--tls-verify=false",
            "--raw",
            f"docker://{registry.host}/goslim-sign/cli:{signed['attachment']['tag']}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert json.loads(out)["layers"][0]["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"


def test_retagged_image_fails_verification(
    registry: RunningRegistry,
    keys: KeyPair,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Someone pushes different content under the signed tag: the new digest has no signature."""
    ref = registry.ref("goslim-sign/retag", "v1")
    push_image(registry, "goslim-sign/retag", small_image("good"))
    sign_image(ref, keys.private_key, PASSWORD.encode())
    evil = push_image(registry, "goslim-sign/retag", small_image("evil"))
    assert main(["verify-signature", ref, "--key", str(keys.public_key)]) == 1
    err = capsys.readouterr().err
    assert f"no signatures found for {evil}" in err and "Traceback" not in err


def test_tampered_payload_fails_verification(registry: RunningRegistry, keys: KeyPair) -> None:
    """A signature layer whose payload was swapped (signature kept) does not verify."""
    ref = registry.ref("goslim-sign/payload", "v1")
    digest = push_image(registry, "goslim-sign/payload", small_image("payload"))
    signed = sign_image(ref, keys.private_key, PASSWORD.encode())
    store = RegistryStore(ImageReference.parse(ref))
    (layer,) = existing_layers(store, signed.attachment.tag)
    forged = store.get_blob(layer["digest"]).replace(b'"optional":null', b'"optional":{"approved":"yes"}')
    attach(
        store, digest, ".sig", [ArtifactLayer(forged, layer["mediaType"], layer["annotations"])], append=False
    )
    with pytest.raises(SignatureVerificationError) as info:
        verify_image(ref, keys.public_key)
    assert "signature does not match the payload" in info.value.one_line()


def test_image_scan_attaches_sbom_to_registry(registry: RunningRegistry, go_build: BuildFixture) -> None:
    binary = go_build("vulnscan-app")
    ref = registry.ref("goslim-scan/app", "v1")
    digest = push_image(registry, "goslim-scan/app", small_image("scan", binary.path))
    outcome = run_scan(ref, db=OSV, out_dir=Path(binary.path).parent / "sboms")
    assert outcome.report.binary == "/app/server"
    assert [v.id for v in outcome.report.vulnerabilities] == ["GO-2022-1059"]
    tag = digest.replace(":", "-") + ".sbom"
    assert outcome.sboms[0].attached_tag == tag
    store = RegistryStore(ImageReference.parse(ref))
    layers = existing_layers(store, tag)
    assert [d["mediaType"] for d in layers] == ["application/vnd.cyclonedx+json", "text/spdx+json"]
    cdx = json.loads(store.get_blob(layers[0]["digest"]))
    assert "pkg:golang/golang.org/x/text@v0.3.7" in {c["purl"] for c in cdx["components"]}


def test_offline_layout_signature_travels_with_skopeo(
    registry: RunningRegistry, keys: KeyPair, tmp_path: Path
) -> None:
    """Sign an OCI layout offline, copy image and signature tag with skopeo, verify on the registry."""
    skopeo = need_tool("skopeo")
    layout = tmp_path / "layout"
    digest = str(write_oci_layout(layout, small_image("offline"), tag="v1").digest)
    signed = sign_image(f"oci:{layout}:v1", keys.private_key, PASSWORD.encode())
    assert verify_image(f"oci:{layout}:v1", keys.public_key).verified
    dest = f"{registry.host}/goslim-sign/offline"
    for tag in ("v1", signed.attachment.tag):
        subprocess.run(
            [skopeo, "copy", "--dest-tls-verify=false", f"oci:{layout}:{tag}", f"docker://{dest}:{tag}"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    report = verify_image(f"{dest}:v1", keys.public_key)
    assert report.verified and report.image_digest == digest
