"""goslim's OCI layout and docker-archive, read by independent tools (skopeo, umoci)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from goslim import gzipstream
from goslim.oci import (
    FileEntry,
    Image,
    Platform,
    build_layer,
    new_config,
    read_docker_archive,
    read_image,
    unpack_rootfs,
    write_docker_archive,
    write_oci_layout,
)
from tests.conftest import need_tool

AMD64 = Platform(os="linux", architecture="amd64")
TIMEOUT = 120


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=True)


def _image_from_binary(binary: Path, compression: str = "gzip") -> Image:
    layer = build_layer(
        [
            FileEntry.from_path("usr/local/bin/app", binary, mode=0o755),
            FileEntry.file("etc/app/config.json", b'{"port": 8080}\n', mode=0o640, uid=0, gid=65532),
            FileEntry.dir("data", mode=0o700, uid=65532, gid=65532),
            FileEntry.dir("tmp", mode=0o1777),
            FileEntry.symlink("app", "/usr/local/bin/app"),
        ],
        compression,  # type: ignore[arg-type]
    )
    config = new_config(AMD64, entrypoint=["/usr/local/bin/app"], user="65532:65532", exposed_ports=[8080],
                        env={"PATH": "/usr/local/bin"})
    return Image.build(config, [layer])


@pytest.fixture(scope="module")
def hello_binary(go_build) -> Path:
    return go_build("hello-api").path


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_skopeo_reads_layout(tmp_path: Path, hello_binary: Path, compression: str) -> None:
    need_tool("skopeo")
    image = _image_from_binary(hello_binary, compression)
    write_oci_layout(tmp_path / "layout", image, tag="v1")
    raw = _run("skopeo", "inspect", "--raw", f"oci:{tmp_path / 'layout'}:v1").stdout
    assert raw.encode() == image.manifest_bytes
    info = json.loads(_run("skopeo", "inspect", f"oci:{tmp_path / 'layout'}:v1").stdout)
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    assert info["Layers"] == [str(image.layers[0].digest)]
    config = json.loads(_run("skopeo", "inspect", "--config", f"oci:{tmp_path / 'layout'}:v1").stdout)
    assert config["config"]["User"] == "65532:65532"
    assert config["rootfs"]["diff_ids"] == [str(image.layers[0].diff_id)]


def test_skopeo_reads_docker_archive_and_copies_it(tmp_path: Path, hello_binary: Path) -> None:
    need_tool("skopeo")
    image = _image_from_binary(hello_binary)
    archive = write_docker_archive(tmp_path / "img.tar", image, ["example.com/hello:v1"])
    info = json.loads(_run("skopeo", "inspect", f"docker-archive:{archive}").stdout)
    assert info["RepoTags"] == [] or "example.com/hello:v1" in str(info)
    assert info["Architecture"] == "amd64"
    config = json.loads(_run("skopeo", "inspect", "--config", f"docker-archive:{archive}").stdout)
    assert config["rootfs"]["diff_ids"] == [str(image.layers[0].diff_id)]
    # skopeo converts the archive to a layout (re-serialising the config): same settings and layer contents.
    _run("skopeo", "copy", f"docker-archive:{archive}", f"oci:{tmp_path / 'copied'}:x")
    copied = read_image(f"oci:{tmp_path / 'copied'}:x")
    assert copied.config["config"]["Entrypoint"] == ["/usr/local/bin/app"]
    assert copied.diff_ids == image.diff_ids
    back = read_docker_archive(archive)
    assert back.digest == image.digest


def test_we_read_skopeos_docker_archive(tmp_path: Path, hello_binary: Path) -> None:
    need_tool("skopeo")
    image = _image_from_binary(hello_binary)
    write_oci_layout(tmp_path / "layout", image, tag="v1")
    archive = tmp_path / "by-skopeo.tar"
    _run("skopeo", "copy", f"oci:{tmp_path / 'layout'}:v1", f"docker-archive:{archive}:example.com/hello:v1")
    theirs = read_image(f"docker-archive:{archive}")
    assert theirs.diff_ids == image.diff_ids
    assert theirs.config["config"]["User"] == "65532:65532"
    theirs_root = unpack_rootfs(theirs, tmp_path / "r1").rootfs
    assert _tree(theirs_root) == _tree(unpack_rootfs(image, tmp_path / "r2").rootfs)


def test_umoci_unpacks_exactly_our_files(tmp_path: Path, hello_binary: Path) -> None:
    need_tool("umoci")
    if os.geteuid() != 0:
        pytest.skip("umoci unpack without --rootless needs root to keep owners")
    image = _image_from_binary(hello_binary)
    write_oci_layout(tmp_path / "layout", image, tag="v1")
    _run("umoci", "unpack", "--image", f"{tmp_path / 'layout'}:v1", str(tmp_path / "bundle"))
    theirs = _tree(tmp_path / "bundle" / "rootfs")
    assert theirs == {
        "app": ("l", 0o777, 0, 0),
        "data": ("d", 0o700, 65532, 65532),
        "etc": ("d", 0o755, 0, 0),
        "etc/app": ("d", 0o755, 0, 0),
        "etc/app/config.json": ("f", 0o640, 0, 65532),
        "tmp": ("d", 0o1777, 0, 0),
        "usr": ("d", 0o755, 0, 0),
        "usr/local": ("d", 0o755, 0, 0),
        "usr/local/bin": ("d", 0o755, 0, 0),
        "usr/local/bin/app": ("f", 0o755, 0, 0),
    }
    assert (tmp_path / "bundle/rootfs/usr/local/bin/app").read_bytes() == hello_binary.read_bytes()
    assert os.readlink(tmp_path / "bundle/rootfs/app") == "/usr/local/bin/app"
    # goslim's own unpacker produces the same tree.
    ours = unpack_rootfs(image, tmp_path / "ours").rootfs
    assert _tree(ours) == theirs


def test_same_image_from_two_dirs_with_different_mtimes(tmp_path: Path, hello_binary: Path) -> None:
    digests = set()
    for i, stamp in enumerate([1_000_000, 1_700_000_000]):
        work = tmp_path / f"work{i}" / ("nested/" * i)
        work.mkdir(parents=True)
        copy = work / "hello"
        shutil.copyfile(hello_binary, copy)
        copy.chmod(0o700 if i else 0o755)
        os.utime(copy, (stamp, stamp))
        image = _image_from_binary(copy)
        write_oci_layout(work / "layout", image, tag="v1")
        digests.add(str(image.digest))
        assert read_image(f"oci:{work / 'layout'}:v1").digest == image.digest
    assert len(digests) == 1


def _tree(root: Path) -> dict[str, tuple[str, int, int, int]]:
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        kind = "l" if path.is_symlink() else "d" if path.is_dir() else "f"
        out[str(path.relative_to(root))] = (kind, st.st_mode & 0o7777, st.st_uid, st.st_gid)
    return out


def test_libdeflate_layers_are_reproducible_and_read_by_skopeo_and_umoci(
    tmp_path: Path, hello_binary: Path
) -> None:
    """Gzip layers are several libdeflate members: the same bytes twice, read back by both tools."""
    need_tool("skopeo")
    need_tool("umoci")
    first, second = _image_from_binary(hello_binary), _image_from_binary(hello_binary)
    assert first.digest == second.digest
    blob = first.layers[0].read_bytes()
    assert blob == second.layers[0].read_bytes()
    if gzipstream.backend() == "libdeflate-12":
        assert blob.count(b"\x1f\x8b\x08\x00\x00\x00\x00\x00") >= 2  # a 6 MB binary spans two members
    write_oci_layout(tmp_path / "layout", first, tag="v1")
    _run("skopeo", "copy", "oci:" + str(tmp_path / "layout") + ":v1", "dir:" + str(tmp_path / "dir"))
    assert (tmp_path / "dir" / first.layers[0].digest.hex).read_bytes() == blob
    _run("umoci", "unpack", "--image", f"{tmp_path / 'layout'}:v1", str(tmp_path / "bundle"))
    assert (tmp_path / "bundle" / "rootfs" / "usr/local/bin/app").read_bytes() == hello_binary.read_bytes()
