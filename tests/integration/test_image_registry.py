"""Remote bases: a base pushed to a local registry (by skopeo) and built on by reference."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from goslim.binary import analyze
from goslim.cli.app import main
from goslim.image import assemble
from goslim.oci import (
    FileEntry,
    Image,
    Index,
    build_layer,
    new_config,
    write_docker_archive,
    write_oci_layout,
)
from goslim.platform import Platform
from tests.conftest import need_tool

LOADER = Path("/lib64/ld-linux-x86-64.so.2")
LIBC = Path("/lib/x86_64-linux-gnu/libc.so.6")


def skopeo(*args: str) -> str:
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, check=True, timeout=120).stdout


def push_base(image: Image, tmp: Path, ref: str) -> str:
    """Write an OCI layout and copy it to the registry with skopeo; returns the manifest digest there."""
    write_oci_layout(tmp / "base-layout", image, "1")
    skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp / 'base-layout'}:1", f"docker://{ref}")
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                         capture_output=True, check=True, timeout=60).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def glibc_mini(arch: str = "amd64") -> Image:
    """A tiny glibc base made from this machine's loader and libc."""
    entries = [
        FileEntry.from_path(str(LOADER), LOADER.resolve(), mode=0o755),
        FileEntry.from_path(str(LIBC), LIBC.resolve(), mode=0o755),
        FileEntry.file("/etc/passwd", b"root:x:0:0:root:/root:/sbin/nologin\n"),
    ]
    cfg = new_config(Platform(os="linux", architecture=arch), env=["PATH=/usr/bin:/bin"], workdir="/")
    cfg["history"] = [{"created_by": "test: glibc-mini"}]
    return Image.build(cfg, [build_layer(entries)])


@pytest.fixture(scope="module")
def pushed(registry, tmp_path_factory):
    need_tool("skopeo")
    if not (LOADER.exists() and LIBC.exists()):
        pytest.skip("this machine has no x86-64 glibc to make a base from")
    tmp = tmp_path_factory.mktemp("bases")
    ref = registry.ref("glibc-mini", "1")
    return ref, push_base(glibc_mini(), tmp, ref)


def test_dynamic_binary_on_a_glibc_base_by_reference(go_build, pushed) -> None:
    ref, digest = pushed
    dyn = go_build("cgo-dynamic", profile="default", cgo=True)
    assembled = assemble(dyn, analyze(dyn.path), ref)
    assert assembled.base.digest == digest and assembled.base.libc.kind == "glibc"
    assert assembled.labels["org.opencontainers.image.base.digest"] == digest
    assert assembled.labels["org.opencontainers.image.base.name"] == ref
    assert len(assembled.image.layers) == 2


def test_cli_builds_on_a_registry_base_and_pushes(go_build, pushed, registry, capsys) -> None:
    ref, digest = pushed
    hello = go_build("hello-api")
    dest = registry.ref("hello-api", "v1")
    code = main(["image", str(hello.path), "--base", ref, "--to", dest, "--json"])
    assert code == 0, capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    assert doc["assembled"]["base"]["digest"] == digest
    manifest = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{dest}"))
    base_manifest = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}"))
    assert manifest["layers"][0]["digest"] == base_manifest["layers"][0]["digest"]
    assert manifest["annotations"]["org.opencontainers.image.base.digest"] == digest


def test_base_for_another_architecture_only(go_build, registry, tmp_path, capsys) -> None:
    need_tool("skopeo")
    ref = registry.ref("arm-only", "1")
    push_base(glibc_mini("arm64"), tmp_path, ref)
    hello = go_build("hello-api")
    code = main(["image", str(hello.path), "--base", ref, "--to", f"oci:{tmp_path / 'out'}"])
    err = capsys.readouterr().err
    assert code == 2 and "arm64" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_unpullable_base_is_one_line(go_build, registry, tmp_path, capsys) -> None:
    hello = go_build("hello-api")
    code = main(["image", str(hello.path), "--base", registry.ref("does-not-exist", "1"),
                 "--to", f"oci:{tmp_path / 'out'}"])
    err = capsys.readouterr().err
    assert code != 0 and "error:" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_docker_archive_output_loads_in_skopeo(go_build, tmp_path, capsys) -> None:
    need_tool("skopeo")
    hello = go_build("hello-api")
    archive = tmp_path / "hello.tar"
    code = main(["image", str(hello.path), "--to", f"docker-archive:{archive}", "--tag", "t1"])
    assert code == 0, capsys.readouterr().err
    info = json.loads(skopeo("inspect", f"docker-archive:{archive}"))
    assert info["Architecture"] == "amd64" and len(info["Layers"]) == 2


def test_docker_archive_base(go_build, tmp_path) -> None:
    if not (LOADER.exists() and LIBC.exists()):
        pytest.skip("this machine has no x86-64 glibc to make a base from")
    base = glibc_mini()
    archive = tmp_path / "base.tar"
    write_docker_archive(archive, base, ("glibc-mini:1",))
    dyn = go_build("cgo-dynamic", profile="default", cgo=True)
    assembled = assemble(dyn, analyze(dyn.path), f"docker-archive:{archive}")
    assert assembled.base.libc.kind == "glibc"
    assert assembled.image.layers[0].diff_id == base.layers[0].diff_id


def test_same_binary_same_digest_twice(go_build, tmp_path, capsys) -> None:
    hello = go_build("hello-api")
    digests = []
    for name in ("a", "b"):
        assert main(["image", str(hello.path), "--to", f"oci:{tmp_path / name}", "--json"]) == 0
        digests.append(json.loads(capsys.readouterr().out)["assembled"]["digest"])
    assert digests[0] == digests[1]


def test_platform_picked_from_a_multi_arch_index(go_build, registry, tmp_path) -> None:
    need_tool("skopeo")
    if not (LOADER.exists() and LIBC.exists()):
        pytest.skip("this machine has no x86-64 glibc to make a base from")
    arm, amd = glibc_mini("arm64"), glibc_mini("amd64")
    write_oci_layout(tmp_path / "multi", Index.build([arm, amd]), "1")
    ref = registry.ref("multi", "1")
    skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{tmp_path / 'multi'}:1", f"docker://{ref}")
    hello = go_build("hello-api")
    report = analyze(hello.path)
    for spec in (ref, f"oci:{tmp_path / 'multi'}:1"):
        assembled = assemble(hello, report, spec)
        assert assembled.base.digest == str(amd.digest), spec
        assert assembled.platform == "linux/amd64"
