"""Assembly without Go: a small file stands in for the binary, facts stand in for analyze."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from tests.reports import make_report

from goslim.bases import IncompatibleBaseError
from goslim.binary import BinaryReport
from goslim.gobuild import Binary
from goslim.image import EntrypointCollisionError, ImageOptions, assemble
from goslim.oci import FileEntry, Image, build_layer, new_config
from goslim.platform import Platform

AMD64 = Platform(os="linux", architecture="amd64")


@pytest.fixture
def binary(tmp_path) -> Binary:
    path = tmp_path / "svc"
    path.write_bytes(b"\x7fELF" + b"pretend go binary " * 64)
    return Binary.from_file(
        path, name="svc", package="example.com/svc", module_dir=tmp_path, platform=AMD64,
        profile="slim", go_version="go1.26", env={}, flags=["-ldflags=-X=main.version=1.2.3"],
    )


def facts(ca=False, tz=False, **kw) -> BinaryReport:
    return make_report("amd64", ca=ca, tz=tz, **kw)


def layer_names(image: Image, index: int) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(image.layers[index].open_uncompressed().read())) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_static_default_config(binary) -> None:
    out = assemble(binary, facts(ca=True), "static")
    cfg = out.image.config["config"]
    assert cfg["Entrypoint"] == ["/app/svc"] and cfg["User"] == "65532:65532"
    assert "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" in cfg["Env"]
    assert any(e.startswith("PATH=") for e in cfg["Env"])
    assert cfg["Labels"]["org.opencontainers.image.version"] == "1.2.3"
    assert cfg["Labels"]["org.opencontainers.image.base.name"] == "static"
    assert out.image.annotations["org.opencontainers.image.title"] == "svc"
    assert len(out.image.layers) == 2 and len(out.image.config["history"]) == 2
    app = layer_names(out.image, 1)["app/svc"]
    assert (app.mode, app.uid, app.gid) == (0o755, 0, 0)
    assert "etc/ssl/certs/ca-certificates.crt" in layer_names(out.image, 0)
    assert out.stats.pull_size == out.image.size and out.stats.disk_size > out.stats.content_bytes
    json.dumps(out.model_dump(mode="json"))  # serialisable for --json and the pipeline


def test_no_needs_no_bundle_no_ssl_env(binary) -> None:
    out = assemble(binary, facts(), "static")
    names = layer_names(out.image, 0)
    assert "etc/ssl/certs/ca-certificates.crt" not in names and "etc/passwd" in names
    assert not any(n.startswith("usr/share/zoneinfo") for n in names)
    assert not any(e.startswith("SSL_CERT_FILE") for e in out.env)


def test_scratch_has_only_the_app_layer(binary) -> None:
    out = assemble(binary, facts(ca=True), "scratch")
    assert len(out.image.layers) == 1 and out.stats.files == 1


def test_same_inputs_same_digest(binary, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = assemble(binary, facts(ca=True, tz=True), "static")
    b = assemble(binary, facts(ca=True, tz=True), "static")
    assert a.digest == b.digest
    assert a.image.config["created"] == "2023-11-14T22:13:20Z"


def test_zstd_layers(binary) -> None:
    out = assemble(binary, facts(), "static", ImageOptions(compression="zstd"))
    assert all(la.media_type.endswith("+zstd") for la in out.image.layers)


def test_dynamic_binary_refused_on_scratch(binary) -> None:
    dyn = facts(static=False, interpreter="/lib64/ld-linux-x86-64.so.2", needed_libs=["libc.so.6"],
                libc="glibc")
    with pytest.raises(IncompatibleBaseError, match="ld-linux-x86-64"):
        assemble(binary, dyn, "scratch")


def fake_base(entries: list[FileEntry], env=("PATH=/bin",)) -> Image:
    cfg = new_config(AMD64, env=list(env), workdir="/srv")
    cfg["history"] = [{"created_by": "fake base"}]
    return Image.build(cfg, [build_layer(entries)])


def test_remote_base_keeps_its_layers_and_env(binary) -> None:
    base = fake_base([FileEntry.file("/etc/passwd", b"root:x:0:0::/:/bin/sh\n"), FileEntry.dir("/srv")])
    out = assemble(binary, facts(), "oci:/nowhere:base", reader=lambda spec, plat: base)
    assert out.image.layers[0].digest == base.layers[0].digest and len(out.image.layers) == 2
    assert out.workdir == "/srv" and "PATH=/bin" in out.env
    assert out.labels["org.opencontainers.image.base.digest"] == str(base.digest)
    assert out.base.digest == str(base.digest)


def test_entrypoint_collision_refused(binary) -> None:
    base = fake_base([FileEntry.file("/app/svc", b"old")])
    with pytest.raises(EntrypointCollisionError, match="/app/svc"):
        assemble(binary, facts(), "oci:/x", reader=lambda spec, plat: base)


def test_collision_through_symlinked_dir(binary) -> None:
    base = fake_base([FileEntry.symlink("/app", "opt"), FileEntry.file("/opt/svc", b"old")])
    with pytest.raises(EntrypointCollisionError):
        assemble(binary, facts(), "oci:/x", reader=lambda spec, plat: base)


def test_base_for_other_arch_refused(binary) -> None:
    cfg = new_config(Platform(os="linux", architecture="arm64"))
    base = Image.build(cfg, [build_layer([FileEntry.file("/x", b"x")])])
    with pytest.raises(IncompatibleBaseError, match="arm64"):
        assemble(binary, facts(), "oci:/x", reader=lambda spec, plat: base)


def test_named_user_needs_passwd(binary) -> None:
    with pytest.raises(Exception, match="no /etc/passwd"):
        assemble(binary, facts(), "scratch", ImageOptions(user="nonroot"))
    assemble(binary, facts(), "static", ImageOptions(user="nonroot"))
    with pytest.raises(Exception, match="not in base 'static'"):
        assemble(binary, facts(), "static", ImageOptions(user="app:app"))


def test_scratch_warns_about_unmet_needs(binary) -> None:
    out = assemble(binary, facts(ca=True, tz=True), "scratch")
    assert len(out.warnings) == 2 and "CA bundle" in out.warnings[0] and "zoneinfo" in out.warnings[1]
    assert assemble(binary, facts(ca=True, tz=True), "static").warnings == []
    assert assemble(binary, facts(), "scratch").warnings == []
