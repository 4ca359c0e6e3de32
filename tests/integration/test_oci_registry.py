"""Pushing to and pulling from a real docker-registry on 127.0.0.1, checked with skopeo."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from goslim.cli.app import main
from goslim.oci import (
    Credential,
    DockerConfigKeychain,
    FileEntry,
    Image,
    ImageReference,
    Index,
    Platform,
    RegistryAuthError,
    RegistryClient,
    RegistryError,
    StaticKeychain,
    build_layer,
    new_config,
    pull,
    pull_image,
    push,
    read_image,
    write_oci_layout,
)
from tests.conftest import need_tool
from tests.integration.registry import RunningRegistry

AMD64 = Platform(os="linux", architecture="amd64")
ARM64 = Platform(os="linux", architecture="arm64")
TIMEOUT = 120
REPO = Path(__file__).resolve().parents[2]


def _image(tag: bytes, platform: Platform = AMD64, extra: bytes = b"") -> Image:
    layers = [build_layer([FileEntry.file("app", b"binary:" + tag + b"x" * 50_000, 0o755)])]
    if extra:
        layers.append(build_layer([FileEntry.file("blob.bin", extra)], "none"))
    return Image.build(new_config(platform, entrypoint=["/app"]), layers)


def _skopeo(*argv: str) -> str:
    done = subprocess.run(["skopeo", *argv], capture_output=True, text=True, timeout=TIMEOUT, check=True)
    return done.stdout


def _client(reg: RunningRegistry, **kw) -> RegistryClient:
    creds = {reg.host: Credential(reg.username, reg.password)} if reg.username else {}
    return RegistryClient(StaticKeychain(creds), **kw)


def test_push_then_skopeo_copy_and_pull_back(registry: RunningRegistry, tmp_path: Path) -> None:
    need_tool("skopeo")
    image = _image(b"roundtrip")
    with _client(registry) as client:
        result = push(image, registry.ref("oci/roundtrip", "v1"), client)
        assert result.digest == str(image.digest)
        assert set(result.blobs.values()) == {"uploaded"}
        assert client.list_tags(ImageReference.parse(registry.ref("oci/roundtrip"))) == ["v1"]
        again = push(image, registry.ref("oci/roundtrip", "v1"), client)
        assert set(again.blobs.values()) == {"exists"}
        pulled = pull_image(registry.ref("oci/roundtrip", "v1"), client, cache_dir=tmp_path / "cache")
    assert pulled.digest == image.digest
    assert [la.read_bytes() for la in pulled.layers] == [la.read_bytes() for la in image.layers]
    raw = _skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{registry.ref('oci/roundtrip', 'v1')}")
    assert raw.encode() == image.manifest_bytes
    _skopeo("copy", "--src-tls-verify=false", f"docker://{registry.ref('oci/roundtrip', 'v1')}",
            f"oci:{tmp_path / 'copy'}:v1")
    copied = read_image(f"oci:{tmp_path / 'copy'}:v1")
    assert copied.digest == image.digest


def test_skopeo_copy_of_our_layout_matches_our_push(registry: RunningRegistry, tmp_path: Path) -> None:
    need_tool("skopeo")
    image = _image(b"layout")
    write_oci_layout(tmp_path / "layout", image, tag="v1")
    _skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'layout'}:v1",
            f"docker://{registry.ref('oci/by-skopeo', 'v1')}")
    with _client(registry) as client:
        theirs = client.get_manifest(ImageReference.parse(registry.ref("oci/by-skopeo", "v1")))
        ours = push(image, registry.ref("oci/by-goslim", "v1"), client)
    assert str(theirs.digest) == ours.digest == str(image.digest)


def test_htpasswd_registry_with_docker_config(auth_registry: RunningRegistry, tmp_path: Path) -> None:
    need_tool("skopeo")
    image = _image(b"auth")
    ref = auth_registry.ref("oci/private", "v1")
    with RegistryClient(StaticKeychain({})) as anonymous, pytest.raises(RegistryAuthError) as info:
        push(image, ref, anonymous)
    assert "requires credentials" in info.value.message and "docker login" in (info.value.hint or "")
    with RegistryClient(StaticKeychain({auth_registry.host: Credential("goslim", "wrong")})) as bad, \
            pytest.raises(RegistryAuthError, match="refused the credentials"):
        push(image, ref, bad)
    # Credentials the way users have them: ~/.docker/config.json (here via an explicit config dir).
    token = base64.b64encode(f"{auth_registry.username}:{auth_registry.password}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {auth_registry.host: {"auth": token}}}))
    with RegistryClient(DockerConfigKeychain(tmp_path)) as client:
        result = push(image, ref, client)
        assert pull_image(ref, client, cache_dir=tmp_path / "cache").digest == image.digest
    raw = _skopeo("inspect", "--tls-verify=false", "--creds",
                  f"{auth_registry.username}:{auth_registry.password}", "--raw", f"docker://{ref}")
    assert json.loads(raw)["config"]["digest"] == str(image.config_descriptor.digest)
    assert result.digest == str(image.digest)


def test_index_push_and_platform_pull(registry: RunningRegistry, tmp_path: Path) -> None:
    need_tool("skopeo")
    amd, arm = _image(b"multi-amd"), _image(b"multi-arm", ARM64)
    index = Index.build([amd, arm])
    ref = registry.ref("oci/multi", "v1")
    with _client(registry) as client:
        push(index, ref, client)
        assert pull_image(ref, client, platform="linux/arm64", cache_dir=tmp_path / "c").digest == arm.digest
        whole = pull(ref, client, cache_dir=tmp_path / "c")
    assert isinstance(whole, Index) and whole.digest == index.digest
    raw = _skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{ref}")
    assert raw.encode() == index.index_bytes
    info = json.loads(_skopeo("inspect", "--tls-verify=false", "--override-arch", "arm64", f"docker://{ref}"))
    assert info["Architecture"] == "arm64"
    assert info["Layers"] == [str(la.digest) for la in arm.layers]


def test_docker_schema2_image_roundtrip(registry: RunningRegistry, tmp_path: Path) -> None:
    need_tool("skopeo")
    layer = build_layer([FileEntry.file("app", b"docker-typed", 0o755)]).with_media_type(
        "application/vnd.docker.image.rootfs.diff.tar.gzip")
    image = Image.build(new_config(AMD64, entrypoint=["/app"]), [layer], docker_media_types=True)
    ref = registry.ref("oci/docker-typed", "v1")
    with _client(registry) as client:
        push(image, ref, client)
        back = pull_image(ref, client, cache_dir=tmp_path / "c")
    assert back.digest == image.digest and back.media_type == image.media_type
    info = json.loads(_skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{ref}"))
    assert info["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    top = back.with_layers([build_layer([FileEntry.file("extra", b"1")])])
    assert {la.media_type for la in top.layers} == {"application/vnd.docker.image.rootfs.diff.tar.gzip"}


def test_cross_repo_mount(registry: RunningRegistry) -> None:
    image = _image(b"mount")
    with _client(registry) as client:
        push(image, registry.ref("oci/mount-src", "v1"), client)
        result = push(image, registry.ref("oci/mount-dst", "v1"), client, mount_from=["oci/mount-src"])
    assert set(result.blobs.values()) == {"mounted"}


def test_unreachable_and_missing(registry: RunningRegistry) -> None:
    unreachable = pytest.raises(RegistryError, match=r"cannot reach registry 127\.0\.0\.1:9")
    with RegistryClient(StaticKeychain({}), retries=1, backoff=0.01) as client, unreachable:
        push(_image(b"x"), "127.0.0.1:9/oci/none:v1", client)
    with _client(registry) as client, pytest.raises(RegistryError, match="MANIFEST_UNKNOWN"):
        pull_image(registry.ref("oci/never-pushed", "v1"), client)


PUSHER = textwrap.dedent(
    """
    import sys
    from goslim.oci import RegistryClient, StaticKeychain, push, read_oci_layout
    image = read_oci_layout(sys.argv[1], "v2")
    def progress(digest, sent, total):
        print(f"{digest} {sent} {total}", flush=True)
    with RegistryClient(StaticKeychain({}), chunk_size=256 * 1024) as client:
        push(image, sys.argv[2], client, progress=progress, jobs=1)  # one blob at a time: a known kill point
    print("done", flush=True)
    """
)


def test_push_killed_mid_blob_leaves_tag_and_rerun_skips(registry: RunningRegistry, tmp_path: Path) -> None:
    ref = registry.ref("oci/killed", "v1")
    old = _image(b"old")
    big = os.urandom(6 * 1024 * 1024)
    new = _image(b"new", extra=big)
    with _client(registry) as client:
        push(old, ref, client)
    write_oci_layout(tmp_path / "layout", new, tag="v2")
    big_digest = str(new.layers[1].digest)
    proc = subprocess.Popen([sys.executable, "-c", PUSHER, str(tmp_path / "layout"), ref],
                            stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            digest, sent, _total = line.split()
            if digest == big_digest and int(sent) >= 1024 * 1024:
                proc.send_signal(signal.SIGKILL)
                break
        else:
            pytest.fail("the push finished before it could be killed")
    finally:
        proc.kill()
        proc.wait(timeout=30)
    with _client(registry) as client:
        r = ImageReference.parse(ref)
        assert client.get_manifest(r).digest == old.digest  # tag untouched
        assert not client.blob_exists(r, new.layers[1].digest)
        result = push(new, ref, client)
        assert client.get_manifest(r).digest == new.digest
    assert result.blobs[str(new.layers[0].digest)] == "exists"
    assert result.blobs[big_digest] == "uploaded"


def test_cli_inspect_reads_registry_index(registry: RunningRegistry, capsys: pytest.CaptureFixture) -> None:
    amd, arm = _image(b"cli-amd"), _image(b"cli-arm", ARM64)
    index = Index.build([amd, arm])
    ref = registry.ref("oci/cli-inspect", "v1")
    with _client(registry) as client:
        push(index, ref, client)
    assert main(["inspect", "--json", "--platform", "linux/arm64", ref]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["digest"] == str(arm.digest) and data["index_digest"] == str(index.digest)
    assert data["platforms"] == ["linux/amd64", "linux/arm64"]
    assert main(["inspect", "--platform", "linux/s390x", ref]) == 2
    assert "no image for platform linux/s390x" in capsys.readouterr().err
