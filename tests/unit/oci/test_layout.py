"""OCI layout writer/reader: tags, skipping blobs, corrupt/missing blobs named, nothing damaged."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from goslim.errors import UserInputError
from goslim.oci import (
    BlobError,
    FileEntry,
    Image,
    Index,
    Platform,
    build_layer,
    layout_tags,
    new_config,
    read_layout_image,
    read_oci_layout,
    write_docker_archive,
    write_oci_layout,
)
from goslim.oci.layout import blob_path

AMD64 = Platform(os="linux", architecture="amd64")


def _image(content: bytes = b"hello", platform: Platform = AMD64) -> Image:
    layer = build_layer([FileEntry.file("app", content, mode=0o755)])
    return Image.build(new_config(platform, entrypoint=["/app"]), [layer])


def test_write_and_read_back(tmp_path: Path) -> None:
    img = _image()
    write_oci_layout(tmp_path / "out", img, tag="v1")
    assert json.loads((tmp_path / "out" / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    back = read_oci_layout(tmp_path / "out", "v1")
    assert isinstance(back, Image) and back.digest == img.digest
    assert back.layers[0].read_bytes() == img.layers[0].read_bytes()


def test_tags_are_kept_and_moved(tmp_path: Path) -> None:
    one, two = _image(b"1"), _image(b"2")
    write_oci_layout(tmp_path, one, tag="a")
    write_oci_layout(tmp_path, two, tag="b")
    write_oci_layout(tmp_path, two, tag="a")
    tags = layout_tags(tmp_path)
    assert {t: str(d.digest) for t, d in tags.items()} == {"a": str(two.digest), "b": str(two.digest)}
    with pytest.raises(UserInputError, match="holds 2 images"):
        read_oci_layout(tmp_path)
    with pytest.raises(UserInputError, match="tag 'zz' not found"):
        read_oci_layout(tmp_path, "zz")


def test_existing_blobs_are_skipped(tmp_path: Path) -> None:
    img = _image()
    write_oci_layout(tmp_path, img)
    path = blob_path(tmp_path, img.layers[0].digest)
    before = path.stat().st_mtime_ns
    write_oci_layout(tmp_path, img)
    assert path.stat().st_mtime_ns == before
    assert len(json.loads((tmp_path / "index.json").read_text())["manifests"]) == 1


def test_corrupt_and_missing_blobs_are_named(tmp_path: Path) -> None:
    img = _image()
    write_oci_layout(tmp_path, img, tag="v1")
    layer_path = blob_path(tmp_path, img.layers[0].digest)
    good = layer_path.read_bytes()
    layer_path.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(BlobError, match=str(img.layers[0].digest)):
        read_oci_layout(tmp_path, "v1")
    layer_path.unlink()
    with pytest.raises(BlobError, match=f"{img.layers[0].digest} is missing"):
        read_oci_layout(tmp_path, "v1")


def test_failed_write_leaves_index_intact(tmp_path: Path) -> None:
    old = _image(b"old")
    write_oci_layout(tmp_path, old, tag="v1")
    index_before = (tmp_path / "index.json").read_bytes()
    new = _image(b"new")
    bad_layer = new.layers[0]
    object.__setattr__(bad_layer, "data", b"tampered")  # simulate a blob that changed under us
    with pytest.raises(BlobError):
        write_oci_layout(tmp_path, new, tag="v1")
    assert (tmp_path / "index.json").read_bytes() == index_before
    assert not list((tmp_path / "blobs" / "sha256").glob(".*tmp"))
    assert read_oci_layout(tmp_path, "v1").digest == old.digest


def test_index_roundtrip_and_platform_pick(tmp_path: Path) -> None:
    a, b = _image(b"a"), _image(b"b", Platform(os="linux", architecture="arm64"))
    idx = Index.build([a, b])
    write_oci_layout(tmp_path, idx, tag="multi")
    back = read_oci_layout(tmp_path, "multi")
    assert isinstance(back, Index) and back.digest == idx.digest
    assert read_layout_image(tmp_path, "multi", "linux/arm64").digest == b.digest


def test_bad_tag_and_not_a_layout(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="invalid tag"):
        write_oci_layout(tmp_path, _image(), tag="bad tag")
    with pytest.raises(UserInputError, match="not an OCI image layout"):
        read_oci_layout(tmp_path / "nowhere")


def test_concurrent_writers_keep_every_tag(tmp_path: Path) -> None:
    images = {f"t{i}": _image(f"img{i}".encode()) for i in range(8)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda kv: write_oci_layout(tmp_path, kv[1], tag=kv[0]), images.items()))
    tags = layout_tags(tmp_path)
    assert {t: d.digest for t, d in tags.items()} == {t: img.digest for t, img in images.items()}


def test_unwritable_destination_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")  # a parent that is a file fails even for root
    with pytest.raises(UserInputError, match="cannot write OCI layout"):
        write_oci_layout(tmp_path / "a-file" / "layout", _image())
    with pytest.raises(UserInputError, match="cannot write docker-archive"):
        write_docker_archive(tmp_path / "a-file" / "img.tar", _image())


def test_untagged_read_skips_cosign_attachments(tmp_path: Path) -> None:
    """A signed layout still reads without a tag: .sig/.sbom manifests are attachments, not images."""
    image = _image(b"app")
    write_oci_layout(tmp_path, image, tag="v1")
    signature = _image(b"signature payload")
    write_oci_layout(tmp_path, signature, tag=f"sha256-{str(image.digest).split(':', 1)[1]}.sig")
    assert read_oci_layout(tmp_path).digest == image.digest
