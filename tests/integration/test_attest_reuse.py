"""Verification attestations end to end: `verify --attest` signs the checklist onto the image, and
`--reuse-attestation` skips the container run for the same digest and contract.

Whether a container started is read from the runtime itself: runc is reached through a shim on PATH
that writes down each subcommand and then runs the real runc.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from goslim.binary import analyze
from goslim.image import ImageOptions, assemble
from goslim.oci import write_oci_layout
from goslim.sign import write_key_pair
from tests.conftest import EXAMPLE_DIR, GO_FIXTURES, need_tool
from tests.integration.registry import RunningRegistry
from tests.integration.test_verify_platforms import need_qemu

pytestmark = pytest.mark.timeout(300)
GOSLIM = [sys.executable, "-m", "goslim"]
FAST = ["--alive", "1", "--grace", "2"]
PASSWORD = "reuse-pw"


class Goslim:
    """The goslim CLI with runc behind a recording shim."""

    def __init__(self, tmp: Path) -> None:
        real = need_tool("runc")
        self.shim_dir = tmp / "shim"
        self.shim_dir.mkdir()
        self.log = tmp / "runc-calls.log"
        shim = self.shim_dir / "runc"
        shim.write_text(f'#!/bin/sh\necho "$1" >> "{self.log}"\nexec "{real}" "$@"\n')
        shim.chmod(0o755)

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.log.unlink(missing_ok=True)
        env = {**os.environ, "PATH": f"{self.shim_dir}:{os.environ['PATH']}", "COSIGN_PASSWORD": PASSWORD}
        return subprocess.run([*GOSLIM, *args], capture_output=True, text=True, env=env, timeout=240,
                              check=False)

    def container_started(self) -> bool:
        calls = self.log.read_text().split() if self.log.exists() else []
        return "run" in calls or "create" in calls


@pytest.fixture
def goslim(tmp_path: Path) -> Goslim:
    return Goslim(tmp_path)


@pytest.fixture(scope="module")
def hello_image(go_build):
    binary = go_build("hello-api")
    return binary, analyze(binary.path)


def write_hello(path: Path, hello_image, port: int = 8080) -> str:
    binary, report = hello_image
    assembled = assemble(binary, report, "static", ImageOptions(ports=[port]))
    write_oci_layout(path, assembled.image, "t")
    return f"oci:{path}:t"


def test_attest_then_reuse_on_a_layout(goslim: Goslim, hello_image, tmp_path: Path) -> None:
    keys = write_key_pair(tmp_path / "keys", PASSWORD.encode())
    image = write_hello(tmp_path / "layout", hello_image)

    first = goslim("verify", image, *FAST, "--attest", "--key", str(keys.private_key), "--json")
    assert first.returncode == 0, first.stderr
    assert goslim.container_started() and "attested" in first.stderr

    shown = goslim("verify-attestation", image, "--key", str(keys.public_key))
    assert shown.returncode == 0 and "valid attestation" in shown.stdout and "shutdown" in shown.stdout

    again = goslim("verify", image, *FAST, "--reuse-attestation", "--key", str(keys.public_key), "--json")
    assert again.returncode == 0, again.stderr
    assert not goslim.container_started()
    assert "reused the signed verification" in again.stderr and "not run" in again.stderr
    assert json.loads(again.stdout)["results"] == json.loads(first.stdout)["results"]  # the attested result

    # The contract changed (an env var the run gets): the proof does not cover it.
    changed = goslim("verify", image, *FAST, "--env", "GREETING=hi", "--reuse-attestation",
                     "--key", str(keys.public_key))
    assert changed.returncode == 0, changed.stderr
    assert goslim.container_started() and "the run contract changed" in changed.stderr

    # Another key signed nothing here: the run happens.
    other = write_key_pair(tmp_path / "other", PASSWORD.encode())
    wrong = goslim("verify", image, *FAST, "--reuse-attestation", "--key", str(other.public_key))
    assert goslim.container_started() and "no signature matches the key" in wrong.stderr

    # A new image under the same tag has a new digest and no attestation.
    new_image = write_hello(tmp_path / "layout", hello_image, port=9090)
    rebuilt = goslim("verify", new_image, *FAST, "--port", "8080", "--reuse-attestation",
                     "--key", str(keys.private_key))
    assert goslim.container_started() and "no goslim attestation for sha256:" in rebuilt.stderr


def test_attest_and_reuse_on_a_registry(
    goslim: Goslim, hello_image, registry: RunningRegistry, tmp_path: Path
) -> None:
    keys = write_key_pair(tmp_path / "keys", PASSWORD.encode())
    layout = write_hello(tmp_path / "layout", hello_image)
    need_tool("skopeo")
    ref = registry.ref("attest/hello", "v1")
    subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", layout,
                    f"docker://{ref}"], check=True, capture_output=True, timeout=120)
    first = goslim("verify", ref, *FAST, "--attest", "--key", str(keys.private_key))
    assert first.returncode == 0, first.stderr
    assert goslim.container_started()
    again = goslim("verify", ref, *FAST, "--reuse-attestation", "--key", str(keys.private_key))
    assert again.returncode == 0, again.stderr
    assert not goslim.container_started() and "reused the signed verification" in again.stderr


def test_slim_attests_and_reuses(goslim: Goslim, tmp_path: Path) -> None:
    need_tool("go")
    keys = write_key_pair(tmp_path / "keys", PASSWORD.encode())
    module = tmp_path / "svc"
    shutil.copytree(EXAMPLE_DIR, module)
    out = tmp_path / "report"
    args = ["slim", str(module), "--report", str(out), "--no-ablation", "--no-compare",
            "--db", str(GO_FIXTURES.parent / "osv"), "--key", str(keys.private_key), "--reuse-attestation"]
    first = goslim(*args)
    assert first.returncode == 0, first.stderr
    assert goslim.container_started()
    run = json.loads((out / "report.json").read_text())
    sign = next(s for s in run["stages"] if s["stage"] == "sign")
    assert "attested the verification and the CycloneDX SBOM" in sign["message"]
    sbom = goslim("verify-attestation", f"oci:{out / 'image'}:latest", "--type", "cyclonedx",
                  "--key", str(keys.public_key), "--json")
    assert sbom.returncode == 0 and json.loads(sbom.stdout)["predicate"]["bomFormat"] == "CycloneDX"

    second = goslim(*args)
    assert second.returncode == 0, second.stderr
    assert not goslim.container_started()
    rerun = json.loads((out / "report.json").read_text())
    verify = next(s for s in rerun["stages"] if s["stage"] == "verify")
    assert "reused the signed verification" in verify["message"]
    assert rerun["checklist"]["results"] == run["checklist"]["results"]

    # The service changed: a new binary, a new digest, a real run.
    main_go = module / "main.go"
    main_go.write_text(main_go.read_text().replace('var version = "dev"', 'var version = "v2"', 1))
    assert 'var version = "v2"' in main_go.read_text()
    third = goslim(*args)
    assert third.returncode == 0, third.stderr
    assert goslim.container_started()


def test_index_attest_then_reuse_each_platform(goslim: Goslim, tmp_path: Path, monkeypatch) -> None:
    """An image index: each platform's manifest carries its own checklist, and a later verify with
    --reuse-attestation answers every platform from them, the emulated one too, without a container."""
    need_tool("go")
    need_qemu()
    keys = write_key_pair(tmp_path / "keys", PASSWORD.encode())
    module = tmp_path / "hello-api"
    shutil.copytree(EXAMPLE_DIR, module)
    image = f"oci:{tmp_path / 'index'}:v1"
    built = goslim("image", str(module), "--platform", "linux/amd64,linux/arm64", "--to", image)
    assert built.returncode == 0, built.stderr

    first = goslim("verify", image, *FAST, "--attest", "--key", str(keys.private_key), "--json")
    assert first.returncode == 0, first.stderr
    assert goslim.container_started() and "attested" in first.stderr

    again = goslim("verify", image, *FAST, "--reuse-attestation", "--key", str(keys.public_key), "--json")
    assert again.returncode == 0, again.stderr
    assert not goslim.container_started()
    runs, before = json.loads(again.stdout)["runs"], json.loads(first.stdout)["runs"]
    assert [(r["platform"], r["mode"]) for r in runs] == [("linux/amd64", "native"),
                                                          ("linux/arm64", "emulated")]
    assert all(r["reused"] and "not run" in r["reused"] for r in runs)
    assert [r["checklist"]["results"] for r in runs] == [r["checklist"]["results"] for r in before]
    monkeypatch.setenv("COLUMNS", "200")  # the table's rows on one line each
    table = goslim("verify", image, *FAST, "--reuse-attestation", "--key", str(keys.public_key))
    assert "│ linux/arm64 │ reused: its attested emulated run │ ok" in table.stdout

    # Another contract: neither platform's proof covers it, and both run.
    changed = goslim("verify", image, *FAST, "--platform", "linux/arm64", "--env", "GREETING=hi",
                     "--reuse-attestation", "--key", str(keys.public_key))
    assert changed.returncode == 0, changed.stderr
    assert goslim.container_started() and "running linux/arm64: no attestation to reuse" in changed.stderr
