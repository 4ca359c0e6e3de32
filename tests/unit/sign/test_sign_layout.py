"""Sign and verify images in an OCI layout offline; blob signatures; tampering fails with one line."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from goslim.errors import UserInputError
from goslim.sign import (
    SignatureVerificationError,
    WrongPasswordError,
    sign_blob,
    sign_image,
    verify_blob,
    verify_image,
    write_key_pair,
)
from goslim.sign.image import SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE
from goslim.sign.keys import KeyPair
from goslim.sign.store import OciLayoutStore, parse_layout_location

PASSWORD = b"pw"


def _blob(root: Path, data: bytes) -> str:
    hexd = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "blobs" / "sha256" / hexd).write_bytes(data)
    return "sha256:" + hexd


def make_layout(root: Path, tag: str = "latest", marker: bytes = b"layer") -> str:
    """A tiny but valid OCI layout holding one image; returns the manifest digest."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    layer = _blob(root, marker)
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer]}}
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "size": len(config),
                "digest": _blob(root, config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": len(marker), "digest": layer}
            ],
        }
    ).encode()
    digest = _blob(root, manifest)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(index))
    return digest


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return write_key_pair(tmp_path_factory.mktemp("keys"), PASSWORD)


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return write_key_pair(tmp_path_factory.mktemp("other"), PASSWORD)


def _sig_manifest(root: Path, digest: str) -> dict:
    index = json.loads((root / "index.json").read_text())
    tag = digest.replace(":", "-") + ".sig"
    entry = next(
        m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == tag
    )
    return json.loads((root / "blobs" / "sha256" / entry["digest"].split(":")[1]).read_bytes())


def test_sign_and_verify_layout(tmp_path: Path, keys: KeyPair) -> None:
    root = tmp_path / "img"
    digest = make_layout(root)
    signed = sign_image(f"oci:{root}", keys.private_key, PASSWORD)
    assert signed.image_digest == digest
    assert signed.attachment.tag == "sha256-" + digest.split(":")[1] + ".sig"
    manifest = _sig_manifest(root, digest)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == SIMPLE_SIGNING_MEDIA_TYPE
    payload = (root / "blobs" / "sha256" / layer["digest"].split(":")[1]).read_bytes()
    body = json.loads(payload)
    assert body["critical"]["image"]["docker-manifest-digest"] == digest
    assert body["critical"]["type"] == "cosign container image signature"
    assert body["optional"] is None
    assert base64.b64decode(layer["annotations"][SIGNATURE_ANNOTATION])
    config = json.loads((root / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1]).read_bytes())
    assert config["rootfs"]["diff_ids"] == [layer["digest"]]

    report = verify_image(f"oci:{root}:latest", keys.public_key)
    assert report.verified and report.image_digest == digest
    # The signature tag is not mistaken for a second image.
    assert verify_image(f"oci:{root}", keys.public_key).verified


def test_signing_twice_appends_a_layer(tmp_path: Path, keys: KeyPair, other_keys: KeyPair) -> None:
    root = tmp_path / "img"
    digest = make_layout(root)
    sign_image(f"oci:{root}", keys.private_key, PASSWORD)
    sign_image(f"oci:{root}", other_keys.private_key, PASSWORD)
    assert len(_sig_manifest(root, digest)["layers"]) == 2
    assert verify_image(f"oci:{root}", other_keys.public_key).verified
    report = verify_image(f"oci:{root}", keys.public_key)
    assert [c.valid for c in report.checks] == [True, False]


def test_wrong_password_writes_nothing(tmp_path: Path, keys: KeyPair) -> None:
    root = tmp_path / "img"
    make_layout(root)
    before = (root / "index.json").read_bytes()
    with pytest.raises(WrongPasswordError):
        sign_image(f"oci:{root}", keys.private_key, b"nope")
    assert (root / "index.json").read_bytes() == before


def test_unsigned_image_fails(tmp_path: Path, keys: KeyPair) -> None:
    root = tmp_path / "img"
    make_layout(root)
    with pytest.raises(SignatureVerificationError, match="no signatures found"):
        verify_image(f"oci:{root}", keys.public_key)


def test_other_key_fails(tmp_path: Path, keys: KeyPair, other_keys: KeyPair) -> None:
    root = tmp_path / "img"
    make_layout(root)
    sign_image(f"oci:{root}", keys.private_key, PASSWORD)
    with pytest.raises(
        SignatureVerificationError, match="no matching signatures: layer 1: signature does not"
    ):
        verify_image(f"oci:{root}", other_keys.public_key)


def test_tampered_payload_fails(tmp_path: Path, keys: KeyPair) -> None:
    root = tmp_path / "img"
    digest = make_layout(root)
    sign_image(f"oci:{root}", keys.private_key, PASSWORD)
    layer = _sig_manifest(root, digest)["layers"][0]
    path = root / "blobs" / "sha256" / layer["digest"].split(":")[1]
    path.write_bytes(path.read_bytes().replace(b'"optional":null', b'"optional":{"x":"y"}'))
    with pytest.raises(SignatureVerificationError) as info:
        verify_image(f"oci:{root}", keys.public_key)
    assert "does not match its digest" in info.value.one_line()
    assert "\n" not in info.value.one_line()


def test_tampered_manifest_fails(tmp_path: Path, keys: KeyPair) -> None:
    """Swap the image for another: its digest changes and the signature no longer covers it."""
    root = tmp_path / "img"
    make_layout(root)
    sign_image(f"oci:{root}", keys.private_key, PASSWORD)
    index = json.loads((root / "index.json").read_text())
    sig_entries = [
        m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] != "latest"
    ]
    new_digest = make_layout(root, marker=b"evil layer")
    index2 = json.loads((root / "index.json").read_text())
    index2["manifests"] += sig_entries
    (root / "index.json").write_text(json.dumps(index2))
    with pytest.raises(SignatureVerificationError, match=f"no signatures found for {new_digest}"):
        verify_image(f"oci:{root}", keys.public_key)


def test_signature_moved_to_another_image_fails(tmp_path: Path, keys: KeyPair) -> None:
    """A valid signature copied under another image's tag is refused by the digest claim."""
    root = tmp_path / "img"
    digest = make_layout(root)
    sign_image(f"oci:{root}", keys.private_key, PASSWORD)
    sig = _sig_manifest(root, digest)
    new_digest = make_layout(root, marker=b"other")
    raw = json.dumps(sig).encode()
    store = OciLayoutStore(parse_layout_location(f"oci:{root}"))
    store.put_tagged(new_digest.replace(":", "-") + ".sig", raw, sig["mediaType"])
    with pytest.raises(SignatureVerificationError, match=f"signs {digest}, not this image"):
        verify_image(f"oci:{root}", keys.public_key)


def test_not_a_layout(tmp_path: Path, keys: KeyPair) -> None:
    with pytest.raises(UserInputError, match="not an OCI image layout"):
        sign_image(f"oci:{tmp_path}", keys.private_key, PASSWORD)
    with pytest.raises(UserInputError, match="cannot attach signatures or SBOMs to a docker-archive"):
        sign_image("docker-archive:/x.tar", keys.private_key, PASSWORD)


def test_blob_sign_verify_and_tamper(tmp_path: Path, keys: KeyPair, other_keys: KeyPair) -> None:
    binary = tmp_path / "app"
    binary.write_bytes(b"\x7fELF pretend binary")
    signed = sign_blob(binary, keys.private_key, PASSWORD)
    assert signed.signature_path == tmp_path / "app.sig"
    assert (tmp_path / "app.sha256").read_text() == f"{signed.sha256}  app\n"
    assert verify_blob(binary, keys.public_key).verified
    with pytest.raises(SignatureVerificationError, match="signature does not match"):
        verify_blob(binary, other_keys.public_key)
    binary.write_bytes(b"\x7fELF pretend binary!")
    with pytest.raises(SignatureVerificationError, match="sha256 mismatch"):
        verify_blob(binary, keys.public_key)
    (tmp_path / "app.sha256").unlink()
    with pytest.raises(SignatureVerificationError, match="signature does not match"):
        verify_blob(binary, keys.public_key)


def test_manifest_edited_in_place_fails(tmp_path: Path, keys: KeyPair) -> None:
    """The image manifest blob is rewritten on disk under its old digest: refused, whatever the signatures."""
    root = tmp_path / "img"
    digest = make_layout(root)
    sign_image(f"oci:{root}", keys.private_key, PASSWORD)
    blob = root / "blobs" / "sha256" / digest.split(":")[1]
    blob.write_bytes(blob.read_bytes().replace(b'"schemaVersion": 2', b'"schemaVersion": 2, "x": 1'))
    with pytest.raises(SignatureVerificationError, match=r"image manifest tampered: blob .* does not match"):
        verify_image(f"oci:{root}", keys.public_key)
