"""The Docker manifest list form of an index: same blobs, Docker media types, zstd refused."""

from __future__ import annotations

import pytest

from goslim.oci import FileEntry, Image, build_layer, mediatypes, new_config
from goslim.oci.descriptor import Descriptor
from goslim.oci.errors import RegistryError
from goslim.oci.image import Index
from goslim.oci.index_docker import DockerFormatError, docker_index, refuses_oci_index
from goslim.oci.index_entries import is_platform_image
from goslim.platform import Platform


def image(arch: str, compression: str = "gzip") -> Image:
    layer = build_layer([FileEntry.file("etc/arch", arch.encode())], compression, mtime=0)
    return Image.build(new_config(Platform(os="linux", architecture=arch)), [layer])


def test_docker_list_keeps_the_blobs_and_the_platform_order() -> None:
    oci = Index.build([image("amd64"), image("arm64")])
    docker = docker_index(oci)
    assert docker.media_type == mediatypes.DOCKER_MANIFEST_LIST
    assert [str(i.platform) for i in docker.images] == ["linux/amd64", "linux/arm64"]
    for before, after in zip(oci.images, docker.images, strict=True):
        assert after.media_type == mediatypes.DOCKER_MANIFEST
        assert after.config_bytes == before.config_bytes  # the same image ID
        assert [la.digest for la in after.layers] == [la.digest for la in before.layers]
        assert {la.media_type for la in after.layers} == {mediatypes.DOCKER_LAYER_GZIP}
    assert docker_index(docker) is docker
    again = docker_index(Index.build([image("amd64"), image("arm64")]))
    assert again.digest == docker.digest  # deterministic


def test_zstd_layers_are_refused_in_one_line() -> None:
    with pytest.raises(DockerFormatError) as err:
        docker_index(Index.build([image("amd64", "zstd")]))
    assert "no zstd layers" in err.value.message and "\n" not in err.value.message


@pytest.mark.parametrize(("status", "code", "refused"), [
    (415, None, True), (400, "MANIFEST_INVALID", True), (400, "manifest_invalid", True),
    (400, "BLOB_UNKNOWN", False), (401, "UNAUTHORIZED", False), (500, None, False)])
def test_only_a_media_type_refusal_falls_back(status: int, code: str | None, refused: bool) -> None:
    assert refuses_oci_index(RegistryError("no", status=status, code=code)) is refused


def test_buildx_attestation_entries_are_no_platform() -> None:
    img = image("arm64")
    entry = img.descriptor(with_platform=True)
    nowhere = Platform(os="unknown", architecture="unknown")
    attestation = Descriptor(mediatypes.OCI_MANIFEST, img.digest, 10,
                             {"vnd.docker.reference.type": "attestation-manifest"}, nowhere)
    unknown = Descriptor(mediatypes.OCI_MANIFEST, img.digest, 10, {}, nowhere)
    assert is_platform_image(entry)
    assert not is_platform_image(attestation) and not is_platform_image(unknown)
