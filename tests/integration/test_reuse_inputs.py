"""`goslim slim --reuse-attestation --to REGISTRY`: a run whose inputs are unchanged reuses the image
already in the registry, with its signed passing verification, and builds, runs and signs nothing.

Absence is asserted from the tools themselves: runc behind a recording shim (no container start), no
binary and no OCI layout in the fresh report folder (nothing built, no image written). A changed source
file, contract or key, and a tampered attestation, each bring back the full run.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import pytest

from goslim.attestation import inputs_tag
from goslim.oci import Digest, RegistryClient
from goslim.oci.reference import ImageReference
from goslim.sign import write_key_pair
from goslim.sign.store import attachment_tag
from tests.conftest import EXAMPLE_DIR, GO_FIXTURES, need_tool
from tests.integration.registry import RunningRegistry
from tests.integration.test_attest_reuse import PASSWORD, Goslim

pytestmark = pytest.mark.timeout(600)
REUSED = ("build", "image", "verify", "scan", "sign")


@pytest.fixture
def goslim(tmp_path: Path) -> Goslim:
    return Goslim(tmp_path)


class Service:
    """The example service in a temp module, slimmed with a key into one registry repository."""

    def __init__(self, tmp: Path, goslim: Goslim, registry: RunningRegistry) -> None:
        self.module = tmp / "svc"
        shutil.copytree(EXAMPLE_DIR, self.module)
        self.keys = write_key_pair(tmp / "keys", PASSWORD.encode())
        self.goslim = goslim
        self.to = registry.ref("reuse/hello", "latest")
        self.tmp = tmp
        self.runs = 0

    def slim(self, *extra: str, key: Path | None = None) -> dict:
        """One CI run in a fresh report folder (a fresh runner); its report.json."""
        self.runs += 1
        out = self.tmp / f"run{self.runs}"
        key = key or self.keys.private_key
        done = self.goslim("slim", str(self.module), "--report", str(out), "--no-ablation", "--no-compare",
                           "--db", str(GO_FIXTURES.parent / "osv"), "--key", str(key),
                           "--reuse-attestation", "--to", self.to, *extra)
        assert done.returncode == 0, done.stderr
        report = json.loads((out / "report.json").read_text())
        report["out"] = str(out)
        report["container_started"] = self.goslim.container_started()
        return report


def stage(report: dict, name: str) -> dict:
    return next(s for s in report["stages"] if s["stage"] == name)


def assert_reused(report: dict) -> None:
    out = Path(report["out"])
    assert not report["container_started"]
    assert not (out / "bin").exists() and not (out / "image").exists()  # nothing built, no image written
    digest = report["reused"]["digest"]
    for name in REUSED:
        assert stage(report, name)["status"] == "skipped"
        assert stage(report, name)["message"].startswith(f"reused: image {digest} attested by ")


def assert_full_run(report: dict, why: str, *, container: bool = True) -> None:
    """Every stage ran; ``container``: verify ran the image (else it reused the attestation of the same
    image digest, as --reuse-attestation does when the build gives the same image)."""
    assert report["container_started"] is container and report["reused"] is None
    assert Path(report["out"], "bin").is_dir()
    for name in REUSED:
        assert stage(report, name)["status"] == "ok", stage(report, name)
    assert why in stage(report, "reuse")["message"]


def tamper_attestation(registry: RunningRegistry, digest: str) -> None:
    """Rewrite the signed predicate of the goslim attestation (say no check failed), keeping the signature."""
    ref = ImageReference.parse(registry.ref("reuse/hello"))
    tag = attachment_tag(digest, ".att")
    with RegistryClient() as client:
        manifest = json.loads(client.get_manifest(ref, tag).data)
        for layer in manifest["layers"]:
            envelope = json.loads(b"".join(client.fetch_blob(ref, Digest.parse(layer["digest"]))))
            statement = json.loads(base64.b64decode(envelope["payload"]))
            if "checklist" not in statement["predicate"]:
                continue
            statement["predicate"]["goslim"] = "9.9.9"
            envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
            data = json.dumps(envelope).encode()
            client.upload_blob(ref, Digest.of_bytes(data), len(data), lambda d=data: io.BytesIO(d))
            layer |= {"digest": str(Digest.of_bytes(data)), "size": len(data)}
        body = json.dumps(manifest).encode()
        client.put_manifest(ref, tag, body, manifest["mediaType"])


def test_an_unchanged_service_reuses_the_attested_image(
    goslim: Goslim, registry: RunningRegistry, tmp_path: Path
) -> None:
    need_tool("go")
    service = Service(tmp_path, goslim, registry)

    cold = service.slim()
    assert_full_run(cold, "no image for these inputs")
    inputs = stage(cold, "inputs")["message"]
    assert inputs.startswith("sha256:") and f"tagged {service.to.rsplit(':', 1)[0]}:{inputs_tag(inputs)}" in (
        stage(cold, "sign")["message"])

    warm = service.slim()
    assert_reused(warm)
    assert stage(warm, "inputs")["message"] == inputs
    assert warm["reused"]["digest"] == cold["image"]["digest"] and warm["reused"]["inputs"] == inputs
    assert warm["checklist"]["results"] == cold["checklist"]["results"]  # the attested result
    for name in ("k8s.yaml", "Dockerfile"):  # the deploy files as the full run wrote them
        assert Path(warm["out"], "deploy", name).read_text() == Path(cold["out"], "deploy", name).read_text()

    # A tampered predicate fails the signature check: the full run, which attests it again.
    tamper_attestation(registry, cold["image"]["digest"])
    tampered = service.slim()
    assert_full_run(tampered, "attestation refused")
    assert_reused(service.slim())

    # The contract changed: a new inputs digest (the image's env differs), and the full run.
    changed = service.slim("--env", "GREETING=hi")
    assert_full_run(changed, "no image for these inputs")
    assert stage(changed, "inputs")["message"] != inputs

    # Any file under the module changed, even one no package reads: built again. The same binary makes
    # the same image, whose verification is reused by digest; the next run reuses the new inputs.
    (service.module / "NOTES.txt").write_text("not Go, but under the module root\n")
    notes = service.slim()
    assert_full_run(notes, "no image for these inputs", container=False)
    assert notes["image"]["digest"] == cold["image"]["digest"]
    assert "reused the signed verification" in stage(notes, "verify")["message"]
    assert_reused(service.slim())

    # The Go source changed: a new binary, a new image, verified for real.
    main_go = service.module / "main.go"
    main_go.write_text(main_go.read_text().replace('var version = "dev"', 'var version = "v2"', 1))
    assert_full_run(service.slim(), "no image for these inputs")

    # Another key signed nothing here: the full run.
    other = write_key_pair(tmp_path / "other", PASSWORD.encode())
    assert_full_run(service.slim(key=other.private_key), "no signature matches the key")
