"""unpack_rootfs: whiteouts, modes, and refusal of entries that escape the root."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from goslim.errors import UserInputError
from goslim.oci import (
    BlobError,
    Digest,
    FileEntry,
    Image,
    Layer,
    Platform,
    UnsafeLayerError,
    build_layer,
    mediatypes,
    new_config,
    unpack_rootfs,
)

AMD64 = Platform(os="linux", architecture="amd64")


def _raw_layer(members: list[tuple[str, str, bytes | str]]) -> Layer:
    """A layer from hand-made tar entries: (name, type 'file'|'dir'|'sym'|'link', data-or-linkname)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.mode = 0o755 if kind == "dir" else 0o644
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, str(payload)
                tar.addfile(info)
            elif kind == "link":
                info.type, info.linkname = tarfile.LNKTYPE, str(payload)
                tar.addfile(info)
            else:
                data = payload if isinstance(payload, bytes) else payload.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return Layer.from_blob(mediatypes.OCI_LAYER, data=buf.getvalue())


def _image(*layers: Layer) -> Image:
    return Image.build(new_config(AMD64), list(layers))


def test_files_modes_and_owners(tmp_path: Path) -> None:
    layer = build_layer([
        FileEntry.file("usr/bin/app", b"bin", mode=0o755),
        FileEntry.file("etc/secret", b"s", mode=0o600, uid=65532, gid=65532),
        FileEntry.dir("tmp", mode=0o1777),
        FileEntry.symlink("bin", "usr/bin"),
    ])
    result = unpack_rootfs(_image(layer), tmp_path / "rootfs")
    root = result.rootfs
    assert (root / "usr/bin/app").read_bytes() == b"bin"
    assert (root / "usr/bin/app").stat().st_mode & 0o7777 == 0o755
    assert (root / "tmp").stat().st_mode & 0o7777 == 0o1777
    assert os.readlink(root / "bin") == "usr/bin"
    if os.geteuid() == 0:
        assert (root / "etc/secret").stat().st_uid == 65532
    assert result.entries == 7 and result.bytes == 4


def test_whiteouts_and_opaque(tmp_path: Path) -> None:
    lower = build_layer([FileEntry.file("a/keep", b"1"), FileEntry.file("a/gone", b"2"),
                         FileEntry.file("b/old", b"3"), FileEntry.file("c", b"4")])
    upper = _raw_layer([("a/.wh.gone", "file", b""), ("b/.wh..wh..opq", "file", b""),
                        ("b/new", "file", b"5"), (".wh.c", "file", b"")])
    root = unpack_rootfs(_image(lower, upper), tmp_path / "r").rootfs
    assert sorted(p.name for p in (root / "a").iterdir()) == ["keep"]
    assert sorted(p.name for p in (root / "b").iterdir()) == ["new"]
    assert not (root / "c").exists()


@pytest.mark.parametrize(
    ("members", "match"),
    [
        ([("../evil", "file", b"x")], r"'\.\.'"),
        ([("/etc/evil", "file", b"x")], "absolute path"),
        ([("link", "sym", "../../../etc"), ], "escapes the root"),
        ([("d", "dir", b""), ("d/link", "sym", "../../outside")], "escapes the root"),
        ([("hard", "link", "../../etc/passwd")], r"'\.\.'"),
    ],
)
def test_escaping_entries_are_refused(tmp_path: Path, members, match: str) -> None:
    dest = tmp_path / "rootfs"
    with pytest.raises(UnsafeLayerError, match=match):
        unpack_rootfs(_image(_raw_layer(members)), dest)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []  # the temp work dir is gone too


def test_write_through_symlink_stays_inside(tmp_path: Path) -> None:
    # An absolute symlink resolves inside the root, so writing through it is fine.
    layer = _raw_layer([("usr", "dir", b""), ("usr/lib", "dir", b""), ("lib", "sym", "/usr/lib"),
                        ("lib/x.so", "file", b"so")])
    root = unpack_rootfs(_image(layer), tmp_path / "r").rootfs
    assert (root / "usr/lib/x.so").read_bytes() == b"so"
    assert not (tmp_path / "usr").exists()


def test_dest_must_be_new_or_empty(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("keep me")
    with pytest.raises(UserInputError, match="not an empty directory"):
        unpack_rootfs(_image(build_layer([FileEntry.file("a", b"1")])), tmp_path / "busy")
    assert (tmp_path / "busy" / "file").read_text() == "keep me"


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_compressed_layer_is_one_error(tmp_path: Path, damage: str) -> None:
    good = build_layer([FileEntry.file("a", bytes(range(256)) * 100)])
    blob = good.read_bytes()
    blob = blob[:-10] if damage == "truncate" else blob[:30] + bytes([blob[30] ^ 0xFF]) + blob[31:]
    bad = Layer(good.media_type, Digest.of_bytes(blob), good.diff_id, len(blob), data=blob)
    with pytest.raises(BlobError, match=str(bad.digest)):
        unpack_rootfs(_image(bad), tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_wrong_diff_id_is_caught(tmp_path: Path) -> None:
    good = build_layer([FileEntry.file("a", b"1")])
    other = build_layer([FileEntry.file("a", b"2")])
    liar = Layer(good.media_type, good.digest, other.diff_id, good.size, data=good.read_bytes())
    with pytest.raises(BlobError, match="config says"):
        unpack_rootfs(_image(liar), tmp_path / "r")
    assert not (tmp_path / "r").exists()
