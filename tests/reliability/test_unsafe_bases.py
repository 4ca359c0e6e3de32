"""Hostile bases: tar-slip paths, escaping symlinks and escaping hardlinks are refused, nothing leaks out.

Each base is a real OCI layout or docker-archive written by goslim around a hand-made layer tar.
Used as ``--base`` it must be refused with one clear line (library and CLI), and unpacking it
(what ``goslim verify`` does before running an image) must refuse it too, writing nothing outside
the destination. A base whose absolute symlinks stay inside the root is accepted.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from goslim.binary import analyze
from goslim.errors import GoslimError
from goslim.image import assemble
from goslim.oci import (
    Image,
    Layer,
    mediatypes,
    new_config,
    read_image,
    write_docker_archive,
    write_oci_layout,
)
from goslim.oci.errors import UnsafeLayerError
from goslim.oci.unpack import unpack_rootfs
from goslim.platform import Platform
from tests.conftest import REPO, BuildFixture

pytestmark = pytest.mark.integration

Entry = tuple[str, str, str]  # (kind, name, linkname)
SENTINEL = "untouched\n"

CASES: dict[str, list[list[Entry]]] = {
    "dotdot": [[("file", "../x", "")]],
    "dotdot-nested": [[("dir", "a", ""), ("file", "a/../../x", "")]],
    "absolute": [[("file", "/abs", "")]],
    "symlink-then-write": [[("symlink", "link", "../../etc"), ("file", "link/passwd", "")]],
    "symlink-across-layers": [[("symlink", "link", "../../../etc")], [("file", "link/passwd", "")]],
    "deep-symlink": [[("dir", "a", ""), ("symlink", "a/up", "../.."), ("file", "a/up/x", "")]],
    "hardlink-dotdot": [[("link", "h", "../../etc/passwd")]],
    "hardlink-absolute": [[("link", "h", "/etc/passwd")]],
}


def _tar(entries: Sequence[Entry]) -> bytes:
    kinds = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
             "link": tarfile.LNKTYPE}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, linkname in entries:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kinds[kind], linkname
            info.mode = 0o755 if kind == "dir" else 0o644
            data = b"pwned\n" if kind == "file" else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return out.getvalue()


def hostile_image(layers: Sequence[Sequence[Entry]]) -> Image:
    """A base image: one harmless layer, then the hostile ones (uncompressed tars, written as-is)."""
    blobs = [_tar([("dir", "etc", ""), ("file", "etc/os-release", "")]), *(_tar(la) for la in layers)]
    made = [Layer.from_blob(mediatypes.OCI_LAYER, data=b) for b in blobs]
    return Image.build(new_config(Platform(os="linux", architecture="amd64"), created=0), made)


@pytest.fixture(scope="module")
def service(go_build: BuildFixture):
    binary = go_build("hello-api")
    return binary, analyze(Path(binary.path))


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """A sandbox with a decoy /etc/passwd one and two levels above where rootfs dirs go."""
    for decoy in (tmp_path / "etc", tmp_path / "work" / "etc"):
        decoy.mkdir(parents=True)
        (decoy / "passwd").write_text(SENTINEL)
    return tmp_path


def _write_base(box: Path, image: Image, kind: str) -> str:
    if kind == "oci":
        write_oci_layout(box / "base-layout", image, "evil")
        return f"oci:{box / 'base-layout'}:evil"
    write_docker_archive(box / "base.tar", image, ["example.com/evil:v1"])
    return f"docker-archive:{box / 'base.tar'}"


def _assert_nothing_escaped(box: Path) -> None:
    for decoy in (box / "etc" / "passwd", box / "work" / "etc" / "passwd"):
        assert decoy.read_text() == SENTINEL, f"{decoy} was overwritten"
    for leaked in ("x", "abs", "h", "work/x", "work/h", "work/a"):
        assert not (box / leaked).exists(), f"{box / leaked} was written outside the rootfs"
    assert not list((box / "work").glob(".rootfs.*")), "unpack left its temp directory behind"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["oci", "docker-archive"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_base_is_refused_by_image(box: Path, service, case: str, kind: str) -> None:
    binary, report = service
    location = _write_base(box, hostile_image(CASES[case]), kind)
    with pytest.raises(GoslimError) as caught:
        assemble(binary, report, location)
    assert "\n" not in caught.value.one_line()
    assert isinstance(caught.value, UnsafeLayerError), caught.value.one_line()
    _assert_nothing_escaped(box)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["oci", "docker-archive"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_base_is_refused_by_unpack(box: Path, case: str, kind: str) -> None:
    location = _write_base(box, hostile_image(CASES[case]), kind)
    image = read_image(location, "linux/amd64")
    with pytest.raises(UnsafeLayerError) as caught:
        unpack_rootfs(image, box / "work" / "rootfs")
    assert "\n" not in caught.value.one_line()
    assert not (box / "work" / "rootfs").exists()
    _assert_nothing_escaped(box)


@pytest.mark.timeout(180)
@pytest.mark.parametrize(("case", "kind"), [("dotdot", "docker-archive"), ("symlink-then-write", "oci"),
                                            ("hardlink-dotdot", "oci")])
def test_cli_refuses_hostile_base_in_one_line(box: Path, service, case: str, kind: str) -> None:
    binary, _report = service
    location = _write_base(box, hostile_image(CASES[case]), kind)
    out = box / "out-layout"
    argv = [str(REPO / ".venv" / "bin" / "goslim"), "image", str(binary.path), "--base", location,
            "--to", f"oci:{out}:v1"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=150, check=False)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error:") and "layer sha256:" in lines[0], done.stderr
    assert len(lines) <= 2, f"expected one line and a hint, got:\n{done.stderr}"
    assert not out.exists(), "a refused base must not produce an output layout"
    _assert_nothing_escaped(box)


@pytest.mark.timeout(120)
def test_absolute_symlink_inside_root_is_accepted(box: Path, service) -> None:
    binary, report = service
    layers = [[("dir", "usr", ""), ("dir", "usr/etc", ""), ("symlink", "cfg", "/usr/etc"),
               ("file", "cfg/app.conf", "")]]
    location = _write_base(box, hostile_image(layers), "oci")
    assembled = assemble(binary, report, location)
    rootfs = box / "work" / "rootfs"
    unpack_rootfs(assembled.image, rootfs)
    assert (rootfs / "usr" / "etc" / "app.conf").read_bytes() == b"pwned\n"
    _assert_nothing_escaped(box)


@pytest.mark.timeout(60)
def test_symlink_chain_that_escapes_is_refused_by_unpack(box: Path) -> None:
    """`a/up -> ..` is harmless, but `a/up/up2 -> ..` lands at the root and points above it."""
    image = hostile_image([[("dir", "a", ""), ("symlink", "a/up", ".."), ("symlink", "a/up/up2", "..")]])
    with pytest.raises(UnsafeLayerError, match="escapes the root"):
        unpack_rootfs(image, box / "work" / "rootfs")
    assert not (box / "work" / "rootfs").exists()
    _assert_nothing_escaped(box)
