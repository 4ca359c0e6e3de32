"""Kubernetes manifests: schema-valid (kubernetes-validate's strict schemas), hardened, pinned, measured."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from goslim.config import ServiceConfig
from goslim.contract_resolve import parse_flags, resolve_contract
from goslim.errors import UserInputError
from goslim.k8s import (
    K8sInput,
    build_manifests,
    grace_period,
    name_from_repository,
    plan_k8s,
    probes_from_contract,
    resolve_image,
    split_replicas,
    startup_window,
)
from goslim.verify.models import Listener, Observed

DIGEST = "sha256:" + "ab" * 32
# The oldest release with the preStop sleep action, and the newest the package ships schemas for.
K8S_VERSIONS = ["1.30", kubernetes_validate.utils.latest_version()]


def _contract(health: str | None = None, readiness: str | None = None, ports: tuple[int, ...] = (8080,)):
    flags = parse_flags(ports=list(ports), health=health, readiness=readiness)
    return resolve_contract(flags, ServiceConfig(), main_package="example.com/hello-api")


def _input(**overrides: object) -> K8sInput:
    fields: dict = {
        "name": "hello-api",
        "image_ref": "registry.example.com/team/hello-api",
        "digest": DIGEST,
        "ports": (8080,),
        "probes": probes_from_contract(
            _contract(health="/healthz", readiness="/readyz"), startup_seconds=0.2
        ),
        "shutdown_seconds": 0.35,
    }
    fields.update(overrides)
    return K8sInput(**fields)


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"canary_percent": 10, "replicas": 10, "prestop_sleep_seconds": 5, "namespace": "shop"},
        {"probes": probes_from_contract(_contract()), "env": {"A": "1"}, "args": ["-serve"]},
        {"ports": (9100, 9090), "writable": ("/var/cache/app",)},
    ],
)
def test_objects_validate_against_the_strict_kubernetes_schemas(version: str, overrides: dict) -> None:
    manifests = build_manifests(_input(**overrides))
    documents = [d for d in yaml.safe_load_all(manifests.yaml) if d]
    assert documents == manifests.objects  # the YAML says exactly what the objects say
    for obj in documents:
        kubernetes_validate.validate(obj, version, strict=True)


def test_strict_schema_rejects_a_misspelt_field() -> None:
    # Guards the test above: strict mode really fails on unknown fields.
    obj = build_manifests(_input()).objects[0]
    obj["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(obj, K8S_VERSIONS[-1], strict=True)


def test_pod_is_locked_down_and_pinned_by_digest() -> None:
    deployment = build_manifests(_input()).objects[0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == f"registry.example.com/team/hello-api@{DIGEST}"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
    assert container["resources"]["requests"] == {"cpu": "50m", "memory": "32Mi"}
    assert container["resources"]["limits"]["memory"] == "128Mi"
    assert pod["automountServiceAccountToken"] is False


def test_probes_use_the_paths_verify_checked() -> None:
    container = build_manifests(_input()).objects[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # Start-up window follows the measured start time: 3 x 0.2 s + 5 s slack fits the 10 s window.
    startup = container["startupProbe"]
    assert (startup["periodSeconds"], startup["failureThreshold"]) == (1, 10)
    slow = probes_from_contract(_contract(health="/healthz"), startup_seconds=20)
    assert (slow.startup.period_seconds, slow.startup.failure_threshold) == (2, 60)  # 65 s: the 120 s window
    assert slow.readiness.path == "/healthz"


def test_tcp_probes_when_there_is_no_http_path() -> None:
    container = build_manifests(_input(probes=probes_from_contract(_contract()))).objects[0]["spec"][
        "template"
    ]["spec"]["containers"][0]
    assert container["livenessProbe"]["tcpSocket"] == {"port": "http"}


def test_grace_period_is_measured_shutdown_plus_margin() -> None:
    assert grace_period(_input(shutdown_seconds=0.35))[0] == 10  # 5.35 s rounded up to a 5 s step
    assert (
        grace_period(_input(shutdown_seconds=12.2, grace_margin_seconds=3, prestop_sleep_seconds=5))[0] == 25
    )
    seconds, why = grace_period(_input(shutdown_seconds=None))
    assert seconds == 30 and "not measured" in why
    assert grace_period(_input(grace_seconds=90))[0] == 90
    manifests = build_manifests(_input(shutdown_seconds=2.0))
    assert manifests.objects[0]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 10
    assert "measured shutdown 2.00 s" in manifests.notes[0]


@pytest.mark.parametrize(
    ("total", "pct", "split"),
    [(10, 10, (9, 1)), (2, 10, (1, 1)), (4, 50, (2, 2)), (5, 90, (1, 4)), (1, 20, (1, 1))],
)
def test_canary_split(total: int, pct: float, split: tuple[int, int]) -> None:
    assert split_replicas(total, pct) == split


def test_canary_adds_a_second_deployment_behind_the_same_service() -> None:
    stable_ref = "registry.example.com/team/hello-api@sha256:" + "cd" * 32
    manifests = build_manifests(_input(canary_percent=20, replicas=5, stable_image=stable_ref))
    stable, canary, service, _budget = manifests.objects
    assert (stable["metadata"]["name"], canary["metadata"]["name"]) == ("hello-api", "hello-api-canary")
    assert (stable["spec"]["replicas"], canary["spec"]["replicas"]) == (4, 1)
    assert stable["spec"]["selector"]["matchLabels"]["track"] == "stable"
    assert canary["spec"]["selector"]["matchLabels"]["track"] == "canary"
    assert stable["spec"]["template"]["spec"]["containers"][0]["image"] == stable_ref
    assert canary["spec"]["template"]["spec"]["containers"][0]["image"].endswith(DIGEST)
    # The Service selects both tracks, so traffic follows the pod counts.
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "hello-api"}
    assert manifests.replicas == {"stable": 4, "canary": 1}


def test_coarse_canary_split_is_explained() -> None:
    notes = build_manifests(_input(canary_percent=10, replicas=2)).notes
    assert any("50% of pods, not 10%" in n for n in notes)


def test_yaml_has_no_anchors() -> None:
    assert "&id" not in build_manifests(_input(canary_percent=10, replicas=4)).yaml


@pytest.mark.parametrize(
    "bad", [{"digest": "sha256:short"}, {"name": "Hello_API"}, {"canary_percent": 100}, {"ports": (0,)}]
)
def test_bad_input_is_refused(bad: dict) -> None:
    with pytest.raises(ValidationError):
        _input(**bad)


def test_name_from_repository() -> None:
    assert name_from_repository("registry:5000/team/Hello_API") == "hello-api"
    assert name_from_repository("___") == "app"


# --- pinning ------------------------------------------------------------------------------------


def test_reference_with_digest_is_split_and_tag_dropped() -> None:
    pinned = resolve_image(f"registry:5000/team/app:1.0@{DIGEST}")
    assert (pinned.repository, pinned.digest) == ("registry:5000/team/app", DIGEST)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("registry/app:1.0", "not pinned by digest"),
        ("app@sha256:xyz", "invalid digest"),
        ("docker-archive:/tmp/a.tar", "cannot pin"),
        (f"@{DIGEST}", "no repository"),
    ],
)
def test_unpinned_or_malformed_references_are_user_errors(text: str, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        resolve_image(text)


def _layout(path: Path, entries: list[dict]) -> Path:
    path.mkdir()
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}))
    return path


def _entry(digest: str, tag: str | None = None) -> dict:
    entry = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 100}
    if tag:
        entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
    return entry


def test_oci_layout_digest_by_tag_or_single_entry(tmp_path: Path) -> None:
    other = "sha256:" + "ef" * 32
    layout = _layout(tmp_path / "hello-api", [_entry(DIGEST, "v1"), _entry(other, "v2")])
    pinned = resolve_image(f"oci:{layout}:v2", repository="registry.example.com/hello-api")
    assert (pinned.repository, pinned.digest, pinned.note) == ("registry.example.com/hello-api", other, "")
    single = _layout(tmp_path / "single", [_entry(DIGEST)])
    pinned = resolve_image(f"oci:{single}", repository="r.example.com/single")
    assert (pinned.repository, pinned.digest) == ("r.example.com/single", DIGEST)
    with pytest.raises(UserInputError, match="no registry name"):
        resolve_image(f"oci:{single}")  # the layout's directory is never taken for a registry name


@pytest.mark.parametrize(
    ("entries", "suffix", "message"),
    [
        ([_entry(DIGEST, "v1")], ":v9", "no tag 'v9'"),
        ([_entry(DIGEST, "a"), _entry(DIGEST, "b")], "", "holds 2 images"),
        ([], "", "holds no image"),
        ([_entry("sha256:nothex")], "", "invalid digest"),
    ],
)
def test_oci_layout_problems_are_user_errors(
    tmp_path: Path, entries: list, suffix: str, message: str
) -> None:
    layout = _layout(tmp_path / "l", entries)
    with pytest.raises(UserInputError, match=message):
        resolve_image(f"oci:{layout}{suffix}", repository="r.example.com/l")


def test_corrupt_index_is_a_user_error(tmp_path: Path) -> None:
    layout = tmp_path / "l"
    layout.mkdir()
    (layout / "index.json").write_text("{not json")
    with pytest.raises(UserInputError, match="not a valid OCI index"):
        resolve_image(f"oci:{layout}")


def test_plan_k8s_is_the_one_call_the_pipeline_makes(tmp_path: Path) -> None:
    layout = _layout(tmp_path / "image", [_entry(DIGEST, "v1")])
    contract = _contract(health="/healthz", readiness="/readyz")
    observed = Observed(shutdown_seconds=0.5, startup_seconds=0.1)
    spec, _ = plan_k8s(f"oci:{layout}:v1", contract, observed=observed, replicas=3)
    # Named after the service, never the layout directory; the image a clear placeholder.
    assert (spec.name, spec.image, spec.replicas) == ("hello-api", f"REGISTRY/hello-api@{DIGEST}", 3)
    assert spec.probes.readiness.path == "/readyz" and spec.shutdown_seconds == 0.5
    manifests = build_manifests(spec)
    assert manifests.yaml.startswith("# Generated by goslim for hello-api.\n# image: REGISTRY/hello-api")
    assert any("--repository" in n for n in manifests.notes)
    with pytest.raises(UserInputError, match="invalid --replicas"):
        plan_k8s(f"r.example.com/app@{DIGEST}", contract, replicas=0)


def test_ports_and_probes_are_what_verify_saw_answer() -> None:
    observed = Observed(
        listening=(Listener(proto="tcp", port=9100),),
        port=9100,
        liveness="/healthz",
        readiness="/readyz",
    )
    contract = resolve_contract(
        parse_flags(), ServiceConfig(), main_package="example.com/x/cmd/exporter", observed=observed
    )
    assert contract.sources["ports"] == "discovered" and contract.name == "exporter"
    spec, _ = plan_k8s(f"r.example.com/exporter@{DIGEST}", contract, observed=observed)
    deployment = build_manifests(spec).objects[0]
    assert deployment["metadata"]["name"] == "exporter"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [{"name": "http", "containerPort": 9100, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}


def test_tcp_probe_when_no_path_answered_and_none_without_a_port() -> None:
    observed = Observed(listening=(Listener(proto="tcp", port=7000),), port=7000)
    contract = resolve_contract(parse_flags(), ServiceConfig(), observed=observed, main_package="x/svc")
    container = build_manifests(plan_k8s(f"r.example.com/svc@{DIGEST}", contract)[0]).objects[0]["spec"][
        "template"
    ]["spec"]["containers"][0]
    assert container["readinessProbe"]["tcpSocket"] == {"port": "http"}
    silent = resolve_contract(parse_flags(), ServiceConfig(), main_package="x/batch")
    manifests = build_manifests(plan_k8s(f"r.example.com/batch@{DIGEST}", silent)[0])
    container = manifests.objects[0]["spec"]["template"]["spec"]["containers"][0]
    assert "ports" not in container and "livenessProbe" not in container
    assert "Service" not in [o["kind"] for o in manifests.objects]


def test_needed_kill_is_said_in_the_yaml_and_flagged() -> None:
    observed = Observed(port=8080, shutdown_seconds=30.0, needed_kill=True)
    spec, _ = plan_k8s(f"r.example.com/app@{DIGEST}", _contract(), observed=observed)
    manifests = build_manifests(spec)
    assert manifests.slow_stop and "SIGKILL" in manifests.yaml.split("apiVersion")[0]
    assert manifests.grace_seconds == 35


def test_writable_paths_become_empty_dirs() -> None:
    pod = build_manifests(_input(writable=("/var/cache/app",))).objects[0]["spec"]["template"]["spec"]
    assert {"name": "writable-1", "mountPath": "/var/cache/app"} in pod["containers"][0]["volumeMounts"]
    assert {"name": "writable-1", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]


def test_disruption_budget_only_when_there_is_more_than_one_pod() -> None:
    kinds = [o["kind"] for o in build_manifests(_input(replicas=3)).objects]
    assert kinds == ["Deployment", "Service", "PodDisruptionBudget"]
    budget = build_manifests(_input(replicas=3)).objects[-1]
    assert budget["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "hello-api"}},
    }
    assert [o["kind"] for o in build_manifests(_input(replicas=1)).objects] == ["Deployment", "Service"]


def test_timings_that_move_within_a_step_write_the_same_bytes() -> None:
    """Shutdown and start-up measured differently on each run (noise) give byte-identical YAML;
    the raw figures stay in the timing choices the report shows."""
    texts = set()
    for stop, start in ((0.01, 0.05), (0.4, 0.3), (2.7, 1.1), (4.9, 1.6)):
        spec = _input(shutdown_seconds=stop, startup_seconds=start).model_copy(
            update={"probes": probes_from_contract(_contract(health="/healthz"), startup_seconds=start)}
        )
        manifests = build_manifests(spec)
        texts.add(manifests.yaml)
        grace, startup = manifests.timings
        assert (grace.field, grace.value) == ("terminationGracePeriodSeconds", "10")
        assert grace.measured == f"shutdown {stop:.3f} s" and "5 s step" in grace.rule
        assert startup.value == "periodSeconds 1, failureThreshold 10"
    assert len(texts) == 1


def test_startup_windows_come_from_a_fixed_set() -> None:
    assert startup_window(None) == (60, 2, 30)
    assert startup_window(0.0) == (10, 1, 10)
    assert startup_window(8.0) == (30, 1, 30)  # 29 s needed
    assert startup_window(8.4) == (60, 2, 30)  # 30.2 s needed
    assert startup_window(200.0) == (1200, 10, 120)  # past the table: whole multiples of 600 s
