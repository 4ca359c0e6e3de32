"""`goslim k8s` end to end: the digest read from a layout written by umoci matches skopeo's, and the YAML
passes kubernetes-validate's strict schemas (the schemas kubeconform uses, shipped in a PyPI package)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import need_tool


def _goslim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "goslim", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An OCI layout made by umoci (an independent writer) with tags v1 and v2; (path, digest of v2)."""
    umoci, skopeo = need_tool("umoci"), need_tool("skopeo")
    path = tmp_path_factory.mktemp("k8s") / "hello-api"
    subprocess.run([umoci, "init", "--layout", str(path)], check=True, timeout=60)
    subprocess.run([umoci, "new", "--image", f"{path}:v1"], check=True, timeout=60)
    subprocess.run(
        [umoci, "config", "--image", f"{path}:v1", "--tag", "v2", "--config.user", "65532:65532"],
        check=True,
        timeout=60,
    )
    raw = subprocess.run(
        [skopeo, "inspect", "--raw", f"oci:{path}:v2"], capture_output=True, timeout=60, check=True
    ).stdout
    return path, "sha256:" + hashlib.sha256(raw).hexdigest()


def _validate(path: Path, version: str) -> str:
    exe = Path(sys.executable).parent / "kubernetes-validate"
    proc = subprocess.run(
        [str(exe), "--strict", "-k", version, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("version", ["1.30.0", "1.37.0"])
def test_manifests_from_a_layout_validate_strictly(
    layout: tuple[Path, str], tmp_path: Path, version: str
) -> None:
    path, digest = layout
    out = tmp_path / "k8s.yaml"
    proc = _goslim(
        "k8s",
        f"oci:{path}:v2",
        "--repository",
        "registry.example.com/team/hello-api",
        "--port",
        "8080",
        "--health",
        "/healthz",
        "--readiness",
        "/readyz",
        "--shutdown-seconds",
        "0.4",
        "--prestop",
        "3",
        "--canary",
        "25",
        "--replicas",
        "4",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    documents = [d for d in yaml.safe_load_all(out.read_text()) if d]
    assert [d["kind"] for d in documents] == ["Deployment", "Deployment", "Service", "PodDisruptionBudget"]
    image = documents[1]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"registry.example.com/team/hello-api@{digest}"  # the digest skopeo computes
    # preStop 3 + shutdown 0.4 + margin 5 = 8.4 s, rounded up to a 5 s step
    assert documents[0]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 10
    report = _validate(out, version)
    assert report.count("passed") == 4


def test_stdout_yaml_and_json_modes(layout: tuple[Path, str]) -> None:
    path, digest = layout
    plain = _goslim("k8s", f"oci:{path}:v2", "--repository", "r.example.com/app", "--name", "api")
    assert plain.returncode == 0, plain.stderr
    assert f"image: r.example.com/app@{digest}" in plain.stdout
    assert "terminationGracePeriodSeconds: 30" in plain.stdout
    assert "not measured" in plain.stderr  # notes go to stderr, never into the YAML
    as_json = _goslim("k8s", f"r.example.com/app@{digest}", "--port", "8080", "--json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["input"]["digest"] == digest and len(data["objects"]) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["registry.example.com/app:1.0"], "not pinned by digest"),
        (["oci:/nonexistent/layout"], "no OCI layout"),
        (["r.example.com/app@sha256:" + "a" * 64, "--canary", "0"], "invalid --canary"),
        (["r.example.com/app@sha256:" + "a" * 64, "--out", "/proc/nope/k8s.yaml"], "cannot write"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = _goslim("k8s", *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_verified_run_gives_ports_probes_and_a_slow_stop_fails(
    layout: tuple[Path, str], tmp_path: Path
) -> None:
    """What verify observed (here a `goslim verify --json` document) decides ports, probes and grace;
    a service that needed SIGKILL gets a comment in the YAML and exit 1 unless --allow-slow-stop."""
    path, digest = layout
    observed = {
        "listening": [{"proto": "tcp", "port": 9100}],
        "port": 9100,
        "liveness": "/healthz",
        "readiness": "/readyz",
        "shutdown_seconds": 30.0,
        "needed_kill": True,
    }
    checklist = {
        "image": "x",
        "runtime": "runc",
        "platform": "linux/amd64",
        "results": [],
        "seconds": 1.0,
        "observed": observed,
    }
    verified = tmp_path / "verify.json"
    verified.write_text(json.dumps(checklist))
    out = tmp_path / "k8s.yaml"
    args = ["k8s", f"oci:{path}:v2", "--verified", str(verified), "--name", "exporter", "--out", str(out)]
    failed = _goslim(*args)
    assert failed.returncode == 1, failed.stderr
    assert "SIGKILL" in failed.stderr and "--allow-slow-stop" in failed.stderr
    text = out.read_text()
    assert "# shutdown: verify sent the stop signal" in text  # the YAML itself says so
    assert "# image: REGISTRY/exporter is a placeholder" in text
    documents = [d for d in yaml.safe_load_all(text) if d]
    assert documents[0]["metadata"]["name"] == "exporter"
    container = documents[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"REGISTRY/exporter@{digest}"
    assert container["ports"][0]["containerPort"] == 9100
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert documents[0]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 35
    allowed = _goslim(*args, "--allow-slow-stop")
    assert allowed.returncode == 0, allowed.stderr


def test_layout_with_two_tags_needs_one_named(layout: tuple[Path, str]) -> None:
    path, _ = layout
    proc = _goslim("k8s", f"oci:{path}")
    assert proc.returncode == 2
    assert "holds 2 images" in proc.stderr and "v1, v2" in proc.stderr
