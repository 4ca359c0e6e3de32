"""A Docker manifest list (v2.2) over Docker schema-2 manifests: on request (--manifest-format docker)
and when a registry refuses the OCI index media type (a small proxy on 127.0.0.1 in front of the real
docker-registry that refuses it); skopeo reads what was pushed."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from goslim.cli.app import main
from goslim.oci import mediatypes, read_oci_layout
from tests.conftest import app_dir, need_tool
from tests.integration.test_verify_platforms import need_qemu
from tests.reliability.fault_proxy import FaultProxy, _read_body, _reply

TWO = "linux/amd64,linux/arm64"


class RefusesOciIndex(FaultProxy):
    """A registry that takes Docker manifests and lists but answers an OCI index PUT as distribution
    answers a media type it does not know: 400 MANIFEST_INVALID."""

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        oci_index = h.headers.get("Content-Type") == mediatypes.OCI_INDEX
        if h.command == "PUT" and "/manifests/" in h.path and oci_index:
            _read_body(h)
            self.log.append((h.command, h.path, "refused"))
            error = {"code": "MANIFEST_INVALID", "message": "manifest invalid",
                     "detail": f"unsupported manifest media type {mediatypes.OCI_INDEX}"}
            _reply(h, 400, [("Content-Type", "application/json")], json.dumps({"errors": [error]}).encode())
            return
        super()._handle(h)


def skopeo_raw(ref: str) -> bytes:
    return subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                          capture_output=True, check=True, timeout=120).stdout


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_tool("go")
    need_tool("skopeo")
    module = tmp_path_factory.mktemp("docker-list") / "hello-api"
    shutil.copytree(app_dir("hello-api"), module)
    return module


def assert_docker_list(ref: str) -> bytes:
    raw = skopeo_raw(ref)
    doc = json.loads(raw)
    assert doc.get("mediaType") == mediatypes.DOCKER_MANIFEST_LIST, raw[:400]
    assert doc["mediaType"] == mediatypes.DOCKER_MANIFEST_LIST
    assert [(m["mediaType"], m["platform"]["architecture"]) for m in doc["manifests"]] == [
        (mediatypes.DOCKER_MANIFEST, "amd64"), (mediatypes.DOCKER_MANIFEST, "arm64")]
    child = json.loads(skopeo_raw(f"{ref.rsplit(':', 1)[0]}@{doc['manifests'][1]['digest']}"))
    assert child["config"]["mediaType"] == mediatypes.DOCKER_CONFIG
    assert {layer["mediaType"] for layer in child["layers"]} == {mediatypes.DOCKER_LAYER_GZIP}
    return raw


def test_manifest_format_docker_writes_a_docker_manifest_list(example, registry, capsys) -> None:
    ref = registry.ref("multiarch/docker-list", "v1")
    capsys.readouterr()
    assert main(["image", str(example), "--platform", TWO, "--manifest-format", "docker", "--to", ref,
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    raw = assert_docker_list(ref)
    assert doc["index"]["digest"] == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert doc["index"]["media_type"] == mediatypes.DOCKER_MANIFEST_LIST


def test_zstd_with_the_docker_format_is_refused_in_one_line(example, tmp_path, capsys) -> None:
    capsys.readouterr()
    code = main(["image", str(example), "--platform", TWO, "--manifest-format", "docker",
                 "--compression", "zstd", "--to", f"oci:{tmp_path / 'never'}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "Docker schema 2 has no zstd" in err[0]
    assert not (tmp_path / "never").exists()


def test_a_registry_refusing_the_oci_index_gets_the_docker_list(example, registry, capsys) -> None:
    proxy = RefusesOciIndex(registry.host).start()
    try:
        ref = f"{proxy.host}/multiarch/refuses-oci:v1"
        capsys.readouterr()
        assert main(["image", str(example), "--platform", TWO, "--to", ref, "--json"]) == 0
        out = capsys.readouterr()
        doc = json.loads(out.out)
        assert "does not take the OCI index media type" in out.err
        assert any(action == "refused" for _m, _p, action in proxy.log)
        # skopeo reads it from the registry behind the proxy (the proxy folds repeated Accept headers).
        raw = assert_docker_list(registry.ref("multiarch/refuses-oci", "v1"))
        assert doc["index"]["digest"] == "sha256:" + hashlib.sha256(raw).hexdigest()
        assert doc["location"].endswith("@" + doc["index"]["digest"])
    finally:
        proxy.stop()


def test_slim_follows_the_docker_list_a_registry_took(example, registry, tmp_path, capsys) -> None:
    """`goslim slim` through a registry refusing the OCI index: the layout is rewritten with the Docker
    list, and verify, the report and k8s.yaml use the digest the registry holds."""
    need_qemu()
    proxy = RefusesOciIndex(registry.host).start()
    try:
        ref = f"{proxy.host}/multiarch/slim-docker:v1"
        out = tmp_path / "report"
        code = main(["slim", str(example), "--platform", TWO, "--no-ablation", "--no-compare", "--to", ref,
                     "--report", str(out)])
        capsys.readouterr()
        assert code == 0
    finally:
        proxy.stop()
    raw = assert_docker_list(registry.ref("multiarch/slim-docker", "v1"))
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    run = json.loads((out / "report.json").read_text())
    assert run["index"]["digest"] == digest and run["index"]["media_type"] == mediatypes.DOCKER_MANIFEST_LIST
    assert run["platform_checks"]["index_digest"] == digest
    image = next(s for s in run["stages"] if s["stage"] == "image")
    assert "refused the OCI index" in (image["message"] or "")
    assert f"@{digest}" in (out / "deploy" / "k8s.yaml").read_text()
    layout = read_oci_layout(out / "image", "latest")
    assert str(layout.digest) == digest and layout.media_type == mediatypes.DOCKER_MANIFEST_LIST


def test_slim_writes_docker_schema_2_on_request(example, registry, tmp_path, capsys) -> None:
    """`goslim slim --manifest-format docker` on one platform: a Docker schema-2 manifest in the layout
    and in the registry, verified by running it; with zstd layers it is refused before any build."""
    ref = registry.ref("multiarch/slim-docker-one", "v1")
    out = tmp_path / "report"
    code = main(["slim", str(example), "--manifest-format", "docker", "--no-ablation", "--no-compare",
                 "--to", ref, "--report", str(out)])
    capsys.readouterr()
    assert code == 0
    pushed = json.loads(skopeo_raw(ref))
    assert pushed["mediaType"] == mediatypes.DOCKER_MANIFEST
    assert pushed["config"]["mediaType"] == mediatypes.DOCKER_CONFIG
    run = json.loads((out / "report.json").read_text())
    assert run["image"]["digest"] == "sha256:" + hashlib.sha256(skopeo_raw(ref)).hexdigest()
    assert next(s for s in run["stages"] if s["stage"] == "verify")["status"] == "ok"
    assert read_oci_layout(out / "image", "latest").media_type == mediatypes.DOCKER_MANIFEST

    zstd = tmp_path / "zstd-module"
    shutil.copytree(example, zstd, ignore=shutil.ignore_patterns("goslim-report", "dist"))
    config = zstd / "goslim.yaml"
    config.write_text(config.read_text() + "image:\n  compression: zstd\n")
    assert main(["slim", str(zstd), "--manifest-format", "docker", "--report", str(tmp_path / "z")]) == 2
    assert "takes gzip layers only" in capsys.readouterr().err
    assert not (tmp_path / "z").exists()
