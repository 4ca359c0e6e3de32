"""Remote bases: the merged path listing honours whiteouts; the C library is detected."""

from __future__ import annotations

import io
import tarfile

from goslim.bases.remote import detect_libc, list_paths, remote_base
from goslim.oci import FileEntry, Image, Layer, build_layer, mediatypes, new_config
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


def test_opaque_whiteout_after_its_siblings_hides_only_lower_layers() -> None:
    # Another tool's layer may list the opaque marker after entries of the same layer (OCI: a
    # whiteout applies to lower layers only, so those entries stay).
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("var/x/3", "var/x/.wh..wh..opq", "etc/b", "etc/.wh.b"):
            tar.addfile(tarfile.TarInfo(name), io.BytesIO(b""))
    upper = Layer.from_blob(mediatypes.OCI_LAYER_FOR["none"], data=buf.getvalue())
    lower = build_layer([FileEntry.file("/var/x/1", b"1"), FileEntry.file("/etc/a", b"a")])
    paths, _ = list_paths(Image.build(new_config(AMD64), [lower, upper]))
    assert {"/var/x/3", "/etc/b", "/etc/a"} <= paths and "/var/x/1" not in paths


def test_goslim_writes_whiteouts_before_the_entries_of_their_layer() -> None:
    entries = [FileEntry.file("/var/x/+3", b"3"), FileEntry.file("/var/x/.wh..wh..opq", b"")]
    layer = build_layer(entries, "none")
    with tarfile.open(fileobj=layer.open_uncompressed()) as tar:
        assert tar.getnames() == ["var", "var/x", "var/x/.wh..wh..opq", "var/x/+3"]
