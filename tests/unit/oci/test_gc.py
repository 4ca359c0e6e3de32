"""Layout garbage collection: a re-run leaves one image per tag and no orphaned attachments."""

from __future__ import annotations

from pathlib import Path

from goslim.oci import (
    FileEntry,
    Image,
    Index,
    Platform,
    build_layer,
    layout_tags,
    new_config,
    write_oci_layout,
)
from goslim.oci.gc import collect_garbage
from goslim.oci.layout import blob_path, read_oci_layout
from goslim.sign.attach import ArtifactLayer, attach
from goslim.sign.store import LayoutLocation, OciLayoutStore

AMD64 = Platform(os="linux", architecture="amd64")


def _image(content: bytes) -> Image:
    layer = build_layer([FileEntry.file("app", content, mode=0o755)])
    return Image.build(new_config(AMD64, entrypoint=["/app"]), [layer])


def _sbom(layout: Path, image: Image, text: bytes) -> str:
    store = OciLayoutStore(LayoutLocation(layout, None))
    layer = ArtifactLayer(text, "application/vnd.cyclonedx+json")
    return attach(store, str(image.digest), ".sbom", [layer], append=False).tag


def _blobs(layout: Path) -> set[str]:
    return {p.name for p in (layout / "blobs" / "sha256").iterdir()}


def test_rerun_keeps_one_image_and_its_own_attachment(tmp_path: Path) -> None:
    layout = tmp_path / "image"
    old, new = _image(b"old build"), _image(b"new build")
    write_oci_layout(layout, old, tag="latest")
    old_tag = _sbom(layout, old, b'{"run": 1}')
    write_oci_layout(layout, new, tag="latest")  # the re-run moves the tag
    new_tag = _sbom(layout, new, b'{"run": 2}')

    result = collect_garbage(layout)

    assert result.removed_tags == (old_tag,)
    assert set(layout_tags(layout)) == {"latest", new_tag}
    assert not blob_path(layout, old.digest).exists()
    assert not blob_path(layout, old.layers[0].digest).exists()
    back = read_oci_layout(layout, "latest")
    assert isinstance(back, Image) and back.digest == new.digest  # everything it needs is still there
    assert result.removed_blobs >= 4 and result.freed_bytes > 0
    assert "1 stale attachment" in result.describe()


def test_nothing_to_collect_changes_nothing(tmp_path: Path) -> None:
    layout = tmp_path / "image"
    img = _image(b"only")
    write_oci_layout(layout, img, tag="latest")
    _sbom(layout, img, b"{}")
    before = _blobs(layout)
    index_before = (layout / "index.json").read_bytes()

    result = collect_garbage(layout)

    assert result.describe() == "nothing to remove"
    assert _blobs(layout) == before
    assert (layout / "index.json").read_bytes() == index_before


def test_other_tagged_images_and_writer_temp_files_are_kept(tmp_path: Path) -> None:
    layout = tmp_path / "image"
    one, two = _image(b"1"), _image(b"2")
    write_oci_layout(layout, one, tag="v1")
    write_oci_layout(layout, two, tag="v2")
    temp = layout / "blobs" / "sha256" / ".blob.x.tmp"
    temp.write_bytes(b"in flight")

    assert collect_garbage(layout).removed_blobs == 0
    assert temp.exists()
    assert {str(d.digest) for d in layout_tags(layout).values()} == {str(one.digest), str(two.digest)}


def test_a_tagged_index_keeps_the_attachments_of_its_platform_images(tmp_path: Path) -> None:
    layout = tmp_path / "image"
    amd = _image(b"amd64 build")
    arm = Image.build(new_config(Platform(os="linux", architecture="arm64"), entrypoint=["/app"]),
                      [build_layer([FileEntry.file("app", b"arm64 build", mode=0o755)])])
    write_oci_layout(layout, Index.build([amd, arm]), tag="latest")
    sbom_tag = _sbom(layout, amd, b'{"platform": "linux/amd64"}')  # scan attaches to this machine's image

    result = collect_garbage(layout)

    assert result.removed_tags == ()
    assert sbom_tag in layout_tags(layout)
    back = read_oci_layout(layout, "latest")
    assert isinstance(back, Index)
    assert [str(i.platform) for i in back.images] == ["linux/amd64", "linux/arm64"]
