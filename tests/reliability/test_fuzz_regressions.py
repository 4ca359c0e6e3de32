"""Inputs the fuzzer found that escaped as non-goslim exceptions (tracebacks); each is now one clean error.

Every case is the smallest hand-made form of a crash bench/fuzz reported, so it stays covered
even when a short fuzz run would not hit it again.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import struct
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from goslim.binary.elf import ElfImage
from goslim.errors import GoslimError
from goslim.oci import (
    Descriptor,
    Image,
    Index,
    RegistryClient,
    StaticKeychain,
    build_layer,
    new_config,
    pull_image,
    read_docker_archive,
    read_oci_layout,
    write_oci_layout,
)
from goslim.oci.descriptor import canonical_json, parse_json
from goslim.oci.digest import Digest
from goslim.oci.layer import FileEntry
from goslim.oci.layout import blob_path
from goslim.oci.unpack import unpack_rootfs
from goslim.platform import Platform
from tests.reliability.fuzz_seeds import layer_image_from_tar


@pytest.fixture(scope="module")
def image() -> Image:
    layer = build_layer([FileEntry.file("/etc/hello", b"hi\n")], "none", mtime=0)
    return Image.build(new_config(Platform(os="linux", architecture="amd64"), created=0), [layer])


def _with(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def test_deeply_nested_json_is_a_format_error() -> None:
    with pytest.raises(GoslimError):
        parse_json(b"[" * 100_000, what="manifest")


@pytest.mark.parametrize("urls", [5, 1.5, True, [1, 2]])
def test_descriptor_with_malformed_urls(urls: Any) -> None:
    raw = {"mediaType": "application/octet-stream", "digest": "sha256:" + "0" * 64, "size": 1, "urls": urls}
    with pytest.raises(GoslimError):
        Descriptor.from_dict(raw)


@pytest.mark.parametrize(("path", "value"), [
    (("mediaType",), {}),
    (("mediaType",), ["x"]),
    (("annotations",), 5),
    (("annotations",), ["a"]),
])
def test_manifest_with_wrong_types(image: Image, path: tuple[str, ...], value: Any) -> None:
    doc = _with(json.loads(image.manifest_bytes), path, value)
    with pytest.raises(GoslimError):
        made = Image(canonical_json(doc), image.config_bytes, image.layers)
        made.summary()
        _ = made.annotations


@pytest.mark.parametrize("diff_ids", [5, "sha256:" + "0" * 64, {"a": 1}])
def test_config_with_non_list_diff_ids(image: Image, diff_ids: Any) -> None:
    config = canonical_json(_with(json.loads(image.config_bytes), ("rootfs", "diff_ids"), diff_ids))
    doc = json.loads(image.manifest_bytes)
    doc["config"]["digest"], doc["config"]["size"] = str(Digest.of_bytes(config)), len(config)
    with pytest.raises(GoslimError):
        Image(canonical_json(doc), config, image.layers)


@pytest.mark.parametrize("manifests", [1.5, 7, "x", {"a": 1}])
def test_index_with_non_list_manifests(image: Image, manifests: Any) -> None:
    doc = _with(json.loads(Index.build([image]).index_bytes), ("manifests",), manifests)
    with pytest.raises(GoslimError):
        Index(canonical_json(doc), (image,))


def _layout_pointing_at(tmp_path: Path, image: Image, manifest: bytes, config: bytes | None = None) -> Path:
    root = tmp_path / "layout"
    write_oci_layout(root, image, "latest")
    for blob in (manifest, config):
        if blob is not None:
            blob_path(root, Digest.of_bytes(blob)).write_bytes(blob)
    entry = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": str(Digest.of_bytes(manifest)), "size": len(manifest)}
    (root / "index.json").write_bytes(canonical_json({"schemaVersion": 2, "manifests": [entry]}))
    return root


@pytest.mark.parametrize("manifest", [b'"just a string"', b"[1, 2]", b"7"])
def test_layout_manifest_that_is_not_an_object(tmp_path: Path, image: Image, manifest: bytes) -> None:
    root = _layout_pointing_at(tmp_path, image, manifest)
    with pytest.raises(GoslimError):
        read_oci_layout(root)


@pytest.mark.parametrize(("path", "value"), [(("mediaType",), ["x"]), (("layers",), 5), (("mediaType",), {})])
def test_layout_manifest_with_wrong_types(tmp_path: Path, image: Image, path: tuple[str, ...],
                                          value: Any) -> None:
    manifest = canonical_json(_with(json.loads(image.manifest_bytes), path, value))
    root = _layout_pointing_at(tmp_path, image, manifest)
    with pytest.raises(GoslimError):
        read_oci_layout(root)


@pytest.mark.parametrize("rootfs", ["x", 5, ["layers"]])
def test_layout_config_with_non_object_rootfs(tmp_path: Path, image: Image, rootfs: Any) -> None:
    config = canonical_json(_with(json.loads(image.config_bytes), ("rootfs",), rootfs))
    doc = json.loads(image.manifest_bytes)
    doc["config"]["digest"], doc["config"]["size"] = str(Digest.of_bytes(config)), len(config)
    root = _layout_pointing_at(tmp_path, image, canonical_json(doc), config)
    with pytest.raises(GoslimError):
        read_oci_layout(root)


def test_elf_with_section_table_offset_beyond_any_file() -> None:
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    # e_shoff far past what a C offset can hold, e_shentsize 64, e_shnum 0 (extended numbering)
    struct.pack_into("<HHIQQQIHHHHHH", header, 16, 2, 62, 1, 0, 0, 1 << 63, 0, 64, 56, 0, 64, 0, 0)
    with pytest.raises(GoslimError):
        ElfImage(bytes(header))


def _serve(manifest: bytes, media_type: str, blobs: dict[str, bytes]) -> RegistryClient:
    """A client whose transport answers like a registry holding ``manifest`` as app:v1 (in-process)."""

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v2/":
            return httpx.Response(200)
        if path.endswith("/manifests/v1"):
            return httpx.Response(200, content=manifest, headers={"Content-Type": media_type})
        blob = blobs.get(path.rsplit("/", 1)[1])
        return httpx.Response(200, content=blob) if blob is not None else httpx.Response(404)

    return RegistryClient(StaticKeychain({}), transport=httpx.MockTransport(handler), retries=0)


@pytest.mark.parametrize(("manifest", "media_type"), [
    (b'"a string"', "application/vnd.oci.image.manifest.v1+json"),
    (b"[[[[[[]]]]]]", "application/vnd.oci.image.manifest.v1+json"),
    (b"[" * 50_000, "application/vnd.oci.image.manifest.v1+json"),
    (b'{"schemaVersion": 2, "mediaType": ["x"]}', "application/json"),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": 1.5}',
     "application/vnd.oci.image.index.v1+json"),
])
def test_pulled_documents_with_wrong_shapes(tmp_path: Path, manifest: bytes, media_type: str) -> None:
    with _serve(manifest, media_type, {}) as client, pytest.raises(GoslimError):
        pull_image("127.0.0.1:5000/fuzz/app:v1", client, platform="linux/amd64", cache_dir=tmp_path)


@pytest.mark.parametrize(("field", "value"), [("layers", 5), ("config_rootfs", "x"), ("config_rootfs", [1])])
def test_pulled_manifest_with_wrong_layer_types(tmp_path: Path, image: Image, field: str, value: Any) -> None:
    config = image.config_bytes
    doc = json.loads(image.manifest_bytes)
    if field == "layers":
        doc["layers"] = value
    else:
        config = canonical_json(_with(json.loads(config), ("rootfs",), value))
        doc["config"]["digest"], doc["config"]["size"] = str(Digest.of_bytes(config)), len(config)
    blobs = {str(Digest.of_bytes(config)): config}
    with _serve(canonical_json(doc), doc["mediaType"], blobs) as client, pytest.raises(GoslimError):
        pull_image("127.0.0.1:5000/fuzz/app:v1", client, platform="linux/amd64", cache_dir=tmp_path)


def test_symlink_with_empty_target_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("a")
        info.type = tarfile.SYMTYPE
        tar.addfile(info)
    with pytest.raises(GoslimError, match="empty target"):
        unpack_rootfs(layer_image_from_tar(buf.getvalue()), tmp_path / "rootfs")
    assert list(tmp_path.iterdir()) == []


def _archive_with(tmp_path: Path, image: Image, manifest_json: Any, config: bytes | None = None) -> Path:
    """A docker-archive holding ``image``'s blobs and the given manifest.json document."""
    path = tmp_path / "image.tar"
    config = config if config is not None else image.config_bytes
    members = {"config.json": config, "manifest.json": json.dumps(manifest_json).encode()}
    members.update({f"{la.digest.hex}.tar": la.read_bytes() for la in image.layers})
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("item", [
    {"Layers": []},
    {"Config": "config.json", "Layers": 5},
    {"Config": ["config.json"], "Layers": []},
    {"Config": "config.json", "Layers": [], "RepoTags": 7},
])
def test_docker_archive_manifest_with_wrong_shapes(tmp_path: Path, image: Image,
                                                   item: dict[str, Any]) -> None:
    with pytest.raises(GoslimError):
        tag = "example.com/a:v1" if "RepoTags" in item else None
        read_docker_archive(_archive_with(tmp_path, image, [item]), tag)


@pytest.mark.parametrize("rootfs", ["x", 5, {"diff_ids": 5}])
def test_docker_archive_config_with_wrong_rootfs(tmp_path: Path, image: Image, rootfs: Any) -> None:
    config = canonical_json(_with(json.loads(image.config_bytes), ("rootfs",), rootfs))
    layers = [f"{la.digest.hex}.tar" for la in image.layers]
    archive = _archive_with(tmp_path, image, [{"Config": "config.json", "Layers": layers}], config)
    with pytest.raises(GoslimError):
        read_docker_archive(archive)


@pytest.mark.parametrize("cut", [3, 10, 200, 2000])
def test_truncated_compressed_docker_archive(tmp_path: Path, image: Image, cut: int) -> None:
    plain = _archive_with(tmp_path, image, [{"Config": "config.json", "Layers": []}]).read_bytes()
    packs = (("gz", gzip.compress(plain)), ("xz", lzma.compress(plain)),
             ("bz2", bz2.compress(plain)))
    for suffix, packed in packs:
        path = tmp_path / f"cut.tar.{suffix}"
        path.write_bytes(packed[:cut])
        with pytest.raises(GoslimError):
            read_docker_archive(path)
