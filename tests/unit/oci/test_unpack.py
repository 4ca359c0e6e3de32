"""unpack_rootfs: whiteouts, modes, and refusal of entries that escape the root."""

from __future__ import annotations

import io
import os
import stat
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
from goslim.oci.unpack import UnpackLimits, check_member

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


# -- the applier against hostile layers (the host-file hole of issue 13) ------------------------------

def _tar_layer(entries: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]) -> Layer:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in entries:
            info, data = item if isinstance(item, tuple) else (item, b"")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return Layer.from_blob(mediatypes.OCI_LAYER, data=buf.getvalue())


def _info(name: str, kind: bytes = tarfile.DIRTYPE, *, mode: int = 0o755, uid: int = 0, link: str = "",
          mtime: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.linkname, info.mtime = kind, mode, uid, uid, link, mtime
    return info


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A directory on the host that attacks aim at by absolute path."""
    path = tmp_path / "host" / "victimdir"
    path.mkdir(parents=True)
    os.chmod(path, 0o700)
    os.utime(path, (1_000_000, 1_000_000))
    return path


def _unchanged(path: Path) -> tuple[int, int, int, int]:
    st = os.lstat(path)
    return st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns


@pytest.mark.parametrize("layers", ["one", "two"])
def test_directory_metadata_never_follows_a_later_symlink(tmp_path: Path, victim: Path, layers: str) -> None:
    before = _unchanged(victim)
    made = [_info("x"), _info("x/victimdir", mode=0o777, uid=4242)]
    swap = [_info("x", tarfile.SYMTYPE, link=str(victim.parent))]
    image = _image(_tar_layer(made + swap)) if layers == "one" else _image(_tar_layer(made), _tar_layer(swap))
    result = unpack_rootfs(image, tmp_path / "r")
    assert _unchanged(victim) == before
    assert os.readlink(result.rootfs / "x") == str(victim.parent)
    assert any("x/victimdir" in note for note in result.notes)


def test_root_symlink_means_the_rootfs(tmp_path: Path, victim: Path) -> None:
    before = _unchanged(victim)
    inside = f"x{victim}"
    layer = _tar_layer([_info("x", tarfile.SYMTYPE, link="/"), _info(inside, mode=0o777, uid=4242)])
    root = unpack_rootfs(_image(layer), tmp_path / "r").rootfs
    assert _unchanged(victim) == before
    made = root / str(victim).lstrip("/")
    assert made.is_dir() and made.stat().st_mode & 0o777 == 0o777
    if os.geteuid() == 0:
        assert made.stat().st_uid == 4242


def test_symlink_chain_resolves_inside(tmp_path: Path, victim: Path) -> None:
    before = _unchanged(victim)
    layer = _tar_layer([_info("a", tarfile.SYMTYPE, link="b"), _info("b", tarfile.SYMTYPE, link=str(victim)),
                        (_info("a/file", tarfile.REGTYPE, mode=0o644), b"pwned")])
    root = unpack_rootfs(_image(layer), tmp_path / "r").rootfs
    assert _unchanged(victim) == before and list(victim.iterdir()) == []
    assert (root / str(victim).lstrip("/") / "file").read_bytes() == b"pwned"


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ([_info(".wh..", tarfile.REGTYPE)], "names no entry"),
        ([_info(".wh...", tarfile.REGTYPE)], "names no entry"),
        ([_info("etc/.wh.", tarfile.REGTYPE)], "names no entry"),
        ([_info(".wh..wh..opq", tarfile.REGTYPE)], "opaque whiteout at the image root"),
        ([_info("x", tarfile.SYMTYPE, link="../" * 5)], "escapes the root"),
        ([_info("s", tarfile.SYMTYPE, link="/etc/passwd"), _info("h", tarfile.LNKTYPE, link="s")],
         "not a regular file"),
        ([_info("d", tarfile.SYMTYPE, link="/etc"), _info("h", tarfile.LNKTYPE, link="d/passwd")],
         "not a regular file"),
    ],
)
def test_hostile_whiteouts_and_links_are_refused(tmp_path: Path, entries, match: str) -> None:
    dest = tmp_path / "work" / "rootfs"
    with pytest.raises(UnsafeLayerError, match=match):
        unpack_rootfs(_image(_tar_layer(entries)), dest)
    assert (tmp_path / "work").is_dir(), "the temp parent must survive a hostile whiteout"
    assert list((tmp_path / "work").iterdir()) == []


def test_whiteout_through_absolute_symlink_stays_inside(tmp_path: Path, victim: Path) -> None:
    (victim / "keep").write_text("keep")
    lower = _tar_layer([_info("x", tarfile.SYMTYPE, link=str(victim.parent))])
    upper = _tar_layer([_info("x/.wh.victimdir", tarfile.REGTYPE),
                        _info("x/other/.wh..wh..opq", tarfile.REGTYPE)])
    unpack_rootfs(_image(lower, upper), tmp_path / "r")
    assert (victim / "keep").read_text() == "keep"


def test_device_nodes_are_skipped_and_fifos_made(tmp_path: Path) -> None:
    dev = _info("dev/mem", tarfile.CHRTYPE, mode=0o666)
    dev.devmajor, dev.devminor = 1, 1
    result = unpack_rootfs(_image(_tar_layer([dev, _info("run/fifo", tarfile.FIFOTYPE, mode=0o640)])),
                           tmp_path / "r")
    assert result.skipped == ("dev/mem",)
    assert not (result.rootfs / "dev" / "mem").exists()
    fifo = (result.rootfs / "run" / "fifo").lstat()
    assert stat.S_ISFIFO(fifo.st_mode) and fifo.st_mode & 0o777 == 0o640


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_id_shift_moves_every_owner(tmp_path: Path) -> None:
    layer = _tar_layer([_info("etc", uid=0), (_info("etc/app", tarfile.REGTYPE, mode=0o644, uid=65532), b"x"),
                        _info("bin", tarfile.SYMTYPE, link="usr/bin", uid=7), _info("implied/dir/leaf")])
    root = unpack_rootfs(_image(layer), tmp_path / "r", id_shift=100_000).rootfs
    owners = {p.relative_to(root).as_posix(): (p.lstat().st_uid, p.lstat().st_gid) for p in root.rglob("*")}
    assert owners == {"etc": (100_000, 100_000), "etc/app": (165_532, 165_532), "bin": (100_007, 100_007),
                      "implied": (100_000, 100_000), "implied/dir": (100_000, 100_000),
                      "implied/dir/leaf": (100_000, 100_000)}
    assert (root.stat().st_uid, root.stat().st_gid) == (100_000, 100_000)


def test_byte_budget_names_the_layer(tmp_path: Path) -> None:
    small = build_layer([FileEntry.file("a", b"1")])
    zeros = build_layer([FileEntry.file("big", bytes(8 << 20))])  # 8 MiB of zeros: a few KB gzipped
    limits = UnpackLimits(ratio=20, slack_bytes=1 << 20)
    with pytest.raises(UnsafeLayerError, match=r"layer sha256:\w+ \(2 of 2\) unpacks past the image's"):
        unpack_rootfs(_image(small, zeros), tmp_path / "r", limits=limits)
    assert list(tmp_path.iterdir()) == []


def test_absolute_byte_cap(tmp_path: Path) -> None:
    layer = build_layer([FileEntry.file("f", os.urandom(200_000))])
    with pytest.raises(UnsafeLayerError, match=r"budget of 0\.1 MiB"):
        unpack_rootfs(_image(layer), tmp_path / "r", limits=UnpackLimits(max_bytes=100_000))


def test_entry_limit_names_the_layer(tmp_path: Path) -> None:
    layer = build_layer([FileEntry.file(f"f{i}", b"") for i in range(20)])
    with pytest.raises(UnsafeLayerError, match=r"\(1 of 1\) takes the image past 10 tar entries"):
        unpack_rootfs(_image(layer), tmp_path / "r", limits=UnpackLimits(max_entries=10))


def test_oversize_pax_header_is_refused(tmp_path: Path) -> None:
    head = tarfile.TarInfo("././@PaxHeader")
    head.type, head.size = tarfile.XHDTYPE, 64 << 20
    raw = head.tobuf(format=tarfile.USTAR_FORMAT) + bytes(64 << 20) + bytes(1024)
    layer = Layer.from_blob(mediatypes.OCI_LAYER, data=raw)
    with pytest.raises(UnsafeLayerError, match="tar header of 67108864 bytes"):
        unpack_rootfs(_image(layer), tmp_path / "r")


def test_result_counts_what_was_unpacked(tmp_path: Path) -> None:
    layer = build_layer([FileEntry.file("a", b"12345"), FileEntry.file("b/c", b"678")], compression="zstd")
    result = unpack_rootfs(_image(layer), tmp_path / "r")
    assert result.bytes == 8
    assert result.uncompressed_bytes == len(layer.open_uncompressed().read())


def test_check_member_refuses_the_same_whiteouts() -> None:
    layer = build_layer([FileEntry.file("a", b"1")])
    for name in (".wh..", ".wh...", ".wh..wh..opq", "x/.wh."):
        with pytest.raises(UnsafeLayerError):
            check_member(_info(name, tarfile.REGTYPE), layer)
    assert check_member(_info("x/.wh.y", tarfile.REGTYPE), layer) == "x/.wh.y"
