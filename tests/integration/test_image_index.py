"""Multi-platform images: an amd64+arm64 OCI image index of the example, read by skopeo and umoci."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from goslim.binary import analyze
from goslim.cli.app import main
from goslim.oci import FileEntry, Image, build_layer, new_config, write_oci_layout
from goslim.platform import Platform
from tests.conftest import need_tool
from tests.integration.test_verify_platforms import need_qemu

ROOT = Path(__file__).resolve().parents[2]
TWO = "linux/amd64,linux/arm64"
EM_AARCH64, EM_X86_64 = 183, 62


def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(args), capture_output=True, check=True, timeout=180)


def elf_machine(path: Path) -> int:
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF"
    return int.from_bytes(head[18:20], "little")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_tool("go")
    module = tmp_path_factory.mktemp("index") / "hello-api"
    shutil.copytree(ROOT / "examples" / "hello-api", module)
    return module


@pytest.fixture(scope="module")
def index_layout(example: Path) -> Path:
    """`goslim image --platform linux/amd64,linux/arm64` into an OCI layout, with its --json document."""
    out = example.parent / "layout"
    code = main(["image", str(example), "--platform", TWO, "--to", f"oci:{out}:v1", "--json"])
    assert code == 0
    return out


def image_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_skopeo_reads_both_platforms_and_the_index_digest(index_layout, example, capsys) -> None:
    need_tool("skopeo")
    out = index_layout
    raw = run("skopeo", "inspect", "--raw", f"oci:{out}:v1").stdout
    doc = json.loads(raw)
    assert doc["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [(m["platform"]["os"], m["platform"]["architecture"]) for m in doc["manifests"]] == [
        ("linux", "amd64"), ("linux", "arm64")]
    # Deterministic: building again gives the same index, byte for byte.
    again = image_json(capsys, "image", str(example), "--platform", TWO, "--to", f"oci:{out}-again:v1",
                       "--json")
    assert again["index"]["digest"] == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert [a["platform"] for a in again["index"]["images"]] == ["linux/amd64", "linux/arm64"]
    for arch in ("amd64", "arm64"):
        seen = json.loads(run("skopeo", "inspect", "--override-arch", arch, f"oci:{out}:v1").stdout)
        assert seen["Architecture"] == arch


def test_copy_all_round_trips_through_a_registry_with_the_same_digest(index_layout, registry) -> None:
    need_tool("skopeo")
    out = index_layout
    raw = run("skopeo", "inspect", "--raw", f"oci:{out}:v1").stdout
    ref = registry.ref("multiarch/copied", "v1")
    run("skopeo", "copy", "--all", "--dest-tls-verify=false", f"oci:{out}:v1", f"docker://{ref}")
    pulled = run("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}").stdout
    assert hashlib.sha256(pulled).hexdigest() == hashlib.sha256(raw).hexdigest()
    back = out.parent / "back"
    run("skopeo", "copy", "--all", "--src-tls-verify=false", f"docker://{ref}", f"oci:{back}:v1")
    assert run("skopeo", "inspect", "--raw", f"oci:{back}:v1").stdout == raw


def test_goslim_pushes_the_same_index_to_a_registry(index_layout, example, registry, capsys) -> None:
    need_tool("skopeo")
    out = index_layout
    raw = run("skopeo", "inspect", "--raw", f"oci:{out}:v1").stdout
    ref = registry.ref("multiarch/pushed", "v1")
    doc = image_json(capsys, "image", str(example), "--platform", TWO, "--to", ref, "--json")
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    assert doc["location"] == f"{ref}@{digest}"
    pulled = run("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}").stdout
    assert pulled == raw


def test_umoci_unpacks_each_platform(index_layout) -> None:
    need_tool("skopeo")
    need_tool("umoci")
    out = index_layout
    for arch, machine in (("amd64", EM_X86_64), ("arm64", EM_AARCH64)):
        # umoci 0.4 reads one manifest per tag: skopeo picks the platform out of the index first.
        single = out.parent / f"single-{arch}"
        run("skopeo", "copy", "--override-arch", arch, f"oci:{out}:v1", f"oci:{single}:{arch}")
        bundle = out.parent / f"bundle-{arch}"
        run("umoci", "unpack", "--rootless", "--image", f"{single}:{arch}", str(bundle))
        config = json.loads((bundle / "config.json").read_text())
        entry = config["process"]["args"][0]
        assert elf_machine(bundle / "rootfs" / entry.lstrip("/")) == machine


def test_docker_archive_takes_one_platform_and_says_which(example, tmp_path, capsys) -> None:
    tar = tmp_path / "one.tar"
    doc = image_json(capsys, "image", str(example), "--platform", TWO, "--to", f"docker-archive:{tar}",
                     "--json")
    assert "linux/amd64 only of 2 platforms" in doc["location"]
    manifest = json.loads(run("tar", "-xOf", str(tar), "manifest.json").stdout)
    assert len(manifest) == 1


def test_remote_base_without_arm64_is_refused_in_one_line(example, registry, tmp_path, capsys) -> None:
    need_tool("skopeo")
    cfg = new_config(Platform(os="linux", architecture="amd64"), env=["PATH=/bin"], workdir="/")
    cfg["history"] = [{"created_by": "test: amd64-only base"}]
    base = Image.build(cfg, [build_layer([FileEntry.file("/etc/hostname", b"base\n")])])
    write_oci_layout(tmp_path / "base", base, "1")
    ref = registry.ref("multiarch/amd64-only", "1")
    run("skopeo", "copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'base'}:1", f"docker://{ref}")
    capsys.readouterr()
    never = tmp_path / "never"
    code = main(["image", str(example), "--base", ref, "--platform", TWO, "--to", f"oci:{never}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert "has no linux/arm64 image (it has: linux/amd64)" in err[0]
    assert not (tmp_path / "never").exists()


def test_inspect_lists_the_platforms_of_a_layout_index(index_layout, capsys) -> None:
    doc = image_json(capsys, "inspect", f"oci:{index_layout}:v1", "--platform", "linux/arm64", "--json")
    assert doc["platform"] == "linux/arm64"
    assert doc["platforms"] == ["linux/amd64", "linux/arm64"]
    raw = run("skopeo", "inspect", "--raw", f"oci:{index_layout}:v1").stdout
    assert doc["index_digest"] == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_tz_embed_builds_every_platform_with_the_embedded_zoneinfo(example, tmp_path, capsys) -> None:
    """`--tz embed` with several platforms: each platform's binary is built with -tags timetzdata, no
    image carries zoneinfo files, and the arm64 one (which loads a zone at start) starts under qemu."""
    out = tmp_path / "embed"
    doc = image_json(capsys, "image", str(example), "--platform", TWO, "--tz", "embed",
                     "--to", f"oci:{out}:v1", "--json")
    for image in doc["index"]["images"]:
        info = analyze(Path(image["binary"]["path"])).build_info
        assert info is not None and "timetzdata" in info.settings.get("-tags", ""), image["platform"]
        assert info.settings["GOARCH"] == image["platform"].split("/")[1]
        zoneinfo = next(p for p in image["base"]["provisions"] if p["item"] == "zoneinfo")
        assert not zoneinfo["included"] and "embed" in zoneinfo["reason"]
    need_qemu()
    capsys.readouterr()
    assert main(["verify", f"oci:{out}:v1", "--platform", "linux/arm64", "--check", "starts", "--json"]) == 0
    [arm] = json.loads(capsys.readouterr().out)["runs"]
    assert arm["mode"] == "emulated" and arm["checklist"]["results"][0]["status"] == "pass"
