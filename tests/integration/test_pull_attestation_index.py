"""A registry index as buildx pushes it: each platform's image plus an attestation manifest
(platform unknown/unknown, ``vnd.docker.reference.type: attestation-manifest``) that is never a platform."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest

from goslim.cli.app import main
from goslim.oci import (
    FileEntry,
    Image,
    RegistryClient,
    build_layer,
    mediatypes,
    new_config,
    pull,
    pull_image,
    push,
)
from goslim.oci.descriptor import canonical_json
from goslim.oci.digest import Digest
from goslim.oci.image import Index
from goslim.oci.index import available_platforms
from goslim.oci.layout import read_oci_layout
from goslim.oci.reference import ImageReference
from goslim.platform import Platform
from tests.conftest import need_tool

IN_TOTO = "application/vnd.in-toto+json"


def small_image(arch: str) -> Image:
    config = new_config(Platform(os="linux", architecture=arch))
    return Image.build(config, [build_layer([FileEntry.file("etc/arch", arch.encode())], mtime=0)])


def put_blob(client: RegistryClient, ref: ImageReference, data: bytes) -> dict:
    digest = Digest.of_bytes(data)
    client.upload_blob(ref, digest, len(data), lambda: io.BytesIO(data))
    return {"digest": str(digest), "size": len(data)}


def attestation_manifest(client: RegistryClient, ref: ImageReference, subject: Image) -> dict:
    """What buildx writes for --provenance: an image of in-toto statements about ``subject``."""
    statement = canonical_json({"_type": "https://in-toto.io/Statement/v0.1",
                                "predicateType": "https://slsa.dev/provenance/v0.2",
                                "subject": [{"digest": {"sha256": str(subject.digest).split(":")[1]}}],
                                "predicate": {}})
    layer = {"mediaType": IN_TOTO, **put_blob(client, ref, statement),
             "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}
    config = canonical_json({"architecture": "unknown", "os": "unknown", "config": {},
                             "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}})
    config_desc = {"mediaType": mediatypes.OCI_CONFIG, **put_blob(client, ref, config)}
    manifest = canonical_json({"schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST,
                               "config": config_desc, "layers": [layer]})
    digest = client.put_manifest(ref, str(Digest.of_bytes(manifest)), manifest, mediatypes.OCI_MANIFEST)
    return {"mediaType": mediatypes.OCI_MANIFEST, "digest": str(digest), "size": len(manifest),
            "platform": {"architecture": "unknown", "os": "unknown"},
            "annotations": {"vnd.docker.reference.digest": str(subject.digest),
                            "vnd.docker.reference.type": "attestation-manifest"}}


@pytest.fixture(scope="module")
def buildx_like(registry) -> tuple[str, bytes, dict[str, Image]]:
    """amd64 and arm64 images, each followed by its attestation manifest, under one tagged OCI index."""
    images = {arch: small_image(arch) for arch in ("amd64", "arm64")}
    ref = ImageReference.parse(registry.ref("multiarch/buildx-like", "v1"))
    entries = []
    with RegistryClient() as client:
        for image in images.values():
            push(image, ref.with_digest(image.digest), client)
            entries.append(image.descriptor(with_platform=True).to_dict())
        entries += [attestation_manifest(client, ref, image) for image in images.values()]
        index = canonical_json({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": entries})
        client.put_manifest(ref, "v1", index, mediatypes.OCI_INDEX)
    return str(ref), index, images


def test_pull_skips_attestation_manifests_and_keeps_the_index_digest(buildx_like, tmp_path: Path) -> None:
    ref, raw, images = buildx_like
    with RegistryClient() as client:
        found = pull(ref, client, cache_dir=tmp_path / "cache")
        assert isinstance(found, Index)
        assert found.digest == Digest.of_bytes(raw)  # the index bytes as the registry holds them
        assert [str(i.platform) for i in found.images] == ["linux/amd64", "linux/arm64"]
        assert pull_image(ref, client, platform="linux/arm64", cache_dir=tmp_path / "cache").digest == \
            images["arm64"].digest
        assert [str(p) for p in available_platforms(ref, client)] == ["linux/amd64", "linux/arm64"]


def test_inspect_and_layout_read_list_only_the_platforms(buildx_like, tmp_path: Path, capsys) -> None:
    need_tool("skopeo")
    ref, raw, _ = buildx_like
    capsys.readouterr()
    assert main(["inspect", ref, "--platform", "linux/arm64", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["platforms"] == ["linux/amd64", "linux/arm64"]
    layout = tmp_path / "copied"
    subprocess.run(["skopeo", "copy", "--all", "--src-tls-verify=false", f"docker://{ref}",
                    f"oci:{layout}:v1"], capture_output=True, check=True, timeout=120)
    found = read_oci_layout(layout, "v1")
    assert isinstance(found, Index) and found.digest == Digest.of_bytes(raw)
    assert [str(i.platform) for i in found.images] == ["linux/amd64", "linux/arm64"]
