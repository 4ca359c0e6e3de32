"""Pushes and pulls through a fault-injecting proxy in front of a real registry (docker-registry).

Transient faults (a dropped connection, 500, 429 with Retry-After, a stalled answer, a lost or
cut response, an upload cut mid-body) are retried and the push completes. Persistent faults make
the push fail with one GoslimError line. In every case the tag, read straight from the registry
with skopeo and goslim, is absent, still the old image, or the complete new image whose blobs are
all present: never half-updated.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import httpx
import pytest

from goslim.errors import ExitStatus, GoslimError
from goslim.oci import (
    FileEntry,
    Image,
    RegistryClient,
    StaticKeychain,
    build_layer,
    new_config,
    pull_image,
    push,
)
from goslim.platform import Platform
from tests.conftest import REPO, BuildFixture, need_tool
from tests.integration.registry import RunningRegistry
from tests.reliability.fault_proxy import Fault, fault_proxy

pytestmark = pytest.mark.integration

CLIENT_TIMEOUT = 1.5  # seconds; the proxy's stalls last longer, so a stall looks like a timeout


def make_image(seed: int, size: int = 600 << 10) -> Image:
    """Two layers (random, so compression cannot shrink them) and a config unique to ``seed``."""
    rng = random.Random(seed)
    layers = [
        build_layer([FileEntry.file(f"/data/{seed}-{i}", rng.randbytes(size))], "gzip", mtime=0, level=1)
        for i in range(2)
    ]
    config = new_config(Platform(os="linux", architecture="amd64"), labels={"seed": str(seed)}, created=0)
    return Image.build(config, layers)


def client(*, retries: int = 3, chunk_size: int | None = None) -> RegistryClient:
    return RegistryClient(
        StaticKeychain({}), timeout=CLIENT_TIMEOUT, retries=retries, backoff=0.05, chunk_size=chunk_size
    )


def tag_state(registry: RunningRegistry, repo: str, tag: str) -> str | None:
    """The digest ``repo:tag`` resolves to straight from the registry (None if absent), after checking
    with skopeo and a goslim pull that it is a complete image whose every blob is present."""
    skopeo = need_tool("skopeo")
    ref = f"{registry.host}/{repo}:{tag}"
    out = subprocess.run(
        [skopeo, "inspect", "--tls-verify=false", f"docker://{ref}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if out.returncode != 0:
        assert "manifest unknown" in out.stderr.lower() or "not found" in out.stderr.lower(), out.stderr
        return None
    digest = json.loads(out.stdout)["Digest"]
    with RegistryClient(StaticKeychain({})) as direct:
        image = pull_image(
            ref, direct, cache_dir=Path(registry.storage).parent / f"pull-cache-{digest[7:19]}"
        )
    assert str(image.digest) == digest
    for desc in (image.config_descriptor, *(la.descriptor() for la in image.layers)):
        head = httpx.head(f"{registry.url}/v2/{repo}/blobs/{desc.digest}", timeout=10)
        assert head.status_code == 200, f"blob {desc.digest} of {ref} is missing"
    return digest


TRANSIENT = {
    "drop-blob-head": [Fault("drop", "HEAD", "/blobs/")],
    "500-upload-start": [Fault("500", "POST", "/blobs/uploads/")],
    "429-retry-after": [Fault("429", "PUT", "/blobs/uploads/", retry_after=1)],
    "stall-manifest": [Fault("stall", "PUT", "/manifests/", stall=3.0)],
    "lost-manifest-response": [Fault("lost-response", "PUT", "/manifests/")],
    "drop-mid-upload": [Fault("drop-request", "PUT", "/blobs/uploads/")],
    "500-manifest-twice": [Fault("500", "PUT", "/manifests/", times=2)],
    "everything-once": [
        Fault("drop", "HEAD", "/blobs/"),
        Fault("500", "POST", "/blobs/uploads/"),
        Fault("429", "PUT", "/blobs/uploads/"),
        Fault("drop-request", "PUT", "/blobs/uploads/"),
        Fault("stall", "PUT", "/manifests/", stall=3.0),
        Fault("lost-response", "PUT", "/manifests/"),
    ],
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("scenario", sorted(TRANSIENT))
def test_transient_faults_push_completes(registry: RunningRegistry, scenario: str) -> None:
    repo = f"faults/transient-{scenario}"
    old, new = make_image(1), make_image(2)
    with client() as c:
        push(old, f"{registry.host}/{repo}:app", c)
    with fault_proxy(registry.host, TRANSIENT[scenario]) as proxy, client() as c:
        result = push(new, f"{proxy.host}/{repo}:app", c)
    assert result.digest == str(new.digest)
    assert all(f.hits for f in proxy.faults), f"a fault never fired: {proxy.log}"
    assert tag_state(registry, repo, "app") == str(new.digest)


@pytest.mark.timeout(120)
def test_transient_faults_during_chunked_upload(registry: RunningRegistry) -> None:
    repo = "faults/chunked"
    new = make_image(3)
    faults = [
        Fault("drop-request", "PATCH", "/blobs/uploads/"),
        Fault("500", "PATCH", "/blobs/uploads/"),
        Fault("drop", "PUT", "/blobs/uploads/"),
    ]
    with fault_proxy(registry.host, faults) as proxy, client(chunk_size=128 << 10) as c:
        push(new, f"{proxy.host}/{repo}:app", c)
    assert all(f.hits for f in proxy.faults), proxy.log
    assert tag_state(registry, repo, "app") == str(new.digest)


PERSISTENT = {
    "manifest-500": [Fault("500", "PUT", "/manifests/", times=None)],
    "manifest-stall": [Fault("stall", "PUT", "/manifests/", times=None, stall=2.5)],
    "manifest-lost": [Fault("lost-response", "PUT", "/manifests/", times=None)],
    "upload-dropped": [Fault("drop-request", "PUT", "/blobs/uploads/", times=None)],
    "upload-429": [Fault("429", "POST", "/blobs/uploads/", times=None, retry_after=1)],
    "registry-gone": [Fault("drop", None, ".*", times=None)],
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("scenario", sorted(PERSISTENT))
def test_persistent_faults_fail_cleanly_and_keep_the_old_tag(
    registry: RunningRegistry, scenario: str
) -> None:
    repo = f"faults/persistent-{scenario}"
    old, new = make_image(4), make_image(5)
    with client() as c:
        push(old, f"{registry.host}/{repo}:app", c)
    with (
        fault_proxy(registry.host, PERSISTENT[scenario]) as proxy,
        client(retries=2) as c,
        pytest.raises(GoslimError) as caught,
    ):
        push(new, f"{proxy.host}/{repo}:app", c)
    line = caught.value.one_line()
    assert "\n" not in line and proxy.host.split(":")[0] in line, line
    assert caught.value.exit_status == ExitStatus.TOOL_FAILED
    state = tag_state(registry, repo, "app")
    # A lost answer to the manifest PUT means the registry did move the tag: then it must be complete.
    allowed = {str(old.digest), str(new.digest)} if scenario == "manifest-lost" else {str(old.digest)}
    assert state in allowed, f"{repo}:app is {state}"


@pytest.mark.timeout(120)
def test_persistent_faults_on_a_new_tag_leave_it_absent(registry: RunningRegistry) -> None:
    repo = "faults/never-pushed"
    with (
        fault_proxy(registry.host, [Fault("500", "PUT", "/manifests/", times=None)]) as proxy,
        client(retries=1) as c,
        pytest.raises(GoslimError),
    ):
        push(make_image(6), f"{proxy.host}/{repo}:app", c)
    assert tag_state(registry, repo, "app") is None


@pytest.mark.timeout(120)
def test_pull_with_cut_blob_fails_cleanly_then_succeeds(registry: RunningRegistry, tmp_path: Path) -> None:
    repo = "faults/pull"
    image = make_image(7)
    with client() as c:
        push(image, f"{registry.host}/{repo}:app", c)
    cache = tmp_path / "cache"
    faults = [Fault("cut-response", "GET", f"/blobs/{image.layers[1].digest}", times=None)]
    with fault_proxy(registry.host, faults) as proxy, client() as c:
        with pytest.raises(GoslimError) as caught:
            pull_image(f"{proxy.host}/{repo}:app", c, cache_dir=cache)
        assert "\n" not in caught.value.one_line()
        leftovers = [p.name for p in cache.rglob("*") if p.is_file() and image.layers[1].digest.hex in p.name]
        assert leftovers == [], "a cut download must not leave a blob in the cache"
        proxy.faults.clear()
        pulled = pull_image(f"{proxy.host}/{repo}:app", c, cache_dir=cache)
    assert pulled.digest == image.digest


@pytest.mark.timeout(240)
def test_cli_push_through_faults(registry: RunningRegistry, go_build: BuildFixture, tmp_path: Path) -> None:
    """`goslim image --to` through the proxy: transient faults still end in a complete tag (exit 0);
    a registry that fails every manifest PUT ends in one error line (exit 3) and no tag."""
    binary = go_build("hello-api")
    goslim = str(REPO / ".venv" / "bin" / "goslim")
    transient = [
        Fault("500", "POST", "/blobs/uploads/"),
        Fault("drop", "PUT", "/manifests/"),
        Fault("429", "PUT", "/blobs/uploads/", retry_after=1),
    ]
    with fault_proxy(registry.host, transient) as proxy:
        ok = subprocess.run(
            [
                goslim,
                "image",
                str(binary.path),
                "--base",
                "scratch",
                "--json",
                "--to",
                f"{proxy.host}/faults/cli:ok",
            ],
            capture_output=True,
            text=True,
            timeout=200,
            check=False,
            env=_env(tmp_path),
        )
    assert ok.returncode == 0, ok.stderr
    digest = json.loads(ok.stdout)["assembled"]["digest"]
    assert tag_state(registry, "faults/cli", "ok") == digest
    with fault_proxy(registry.host, [Fault("500", "PUT", "/manifests/", times=None)]) as proxy:
        bad = subprocess.run(
            [goslim, "image", str(binary.path), "--base", "scratch", "--to", f"{proxy.host}/faults/cli:bad"],
            capture_output=True,
            text=True,
            timeout=200,
            check=False,
            env=_env(tmp_path),
        )
    assert bad.returncode == ExitStatus.TOOL_FAILED, bad.stderr
    assert "Traceback" not in bad.stderr
    lines = [ln for ln in bad.stderr.splitlines() if ln.strip()]
    assert 1 <= len(lines) <= 2 and lines[0].startswith("error:") and "HTTP 500" in lines[0], bad.stderr
    assert tag_state(registry, "faults/cli", "bad") is None


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
        "GOSLIM_CACHE": str(tmp_path / "cache"),
    }
