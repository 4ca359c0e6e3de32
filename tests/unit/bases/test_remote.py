"""Remote bases: the merged path listing honours whiteouts; the C library is detected."""

from __future__ import annotations

from goslim.bases.remote import detect_libc, list_paths, remote_base
from goslim.oci import FileEntry, Image, build_layer, new_config
from goslim.platform import Platform

AMD64 = Platform(os="linux", architecture="amd64")


def image(*layers: list[FileEntry]) -> Image:
    return Image.build(new_config(AMD64, env=["PATH=/bin"]), [build_layer(entries) for entries in layers])


def test_whiteouts_remove_paths() -> None:
    img = image(
        [FileEntry.file("/etc/a", b"a"), FileEntry.file("/var/x/1", b"1"), FileEntry.file("/var/x/2", b"2")],
        [FileEntry.file("/etc/.wh.a", b""), FileEntry.file("/var/x/.wh..wh..opq", b""),
         FileEntry.file("/var/x/3", b"3")],
    )
    paths, _ = list_paths(img)
    assert "/etc/a" not in paths and "/etc" in paths
    assert {"/var/x", "/var/x/3"} <= paths and "/var/x/1" not in paths


def test_musl_and_glibc_detection() -> None:
    assert detect_libc({"/lib/ld-musl-x86_64.so.1"}, {}).kind == "musl"
    assert detect_libc({"/usr/lib/x86_64-linux-gnu/libc.so.6"}, {}).kind == "glibc"
    assert detect_libc({"/etc/passwd"}, {}).kind == "none"


def test_remote_base_facts() -> None:
    img = image([FileEntry.file("/lib/ld-musl-x86_64.so.1", b"x"), FileEntry.symlink("/bin/sh", "busybox")])
    base = remote_base(img, "alpine", AMD64)
    assert base.libc.kind == "musl" and base.digest == str(img.digest)
    assert base.env == ["PATH=/bin"] and base.symlinks["/bin/sh"] == "busybox"
    assert base.contains("/lib/ld-musl-x86_64.so.1")
