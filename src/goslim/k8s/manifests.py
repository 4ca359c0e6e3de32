"""Deployment(s) and Service for a verified image: probes, grace period, hardening, digest pinning."""

from __future__ import annotations

import math
import re

import yaml

from goslim.contract import Probe as ContractProbe
from goslim.contract import RunContract
from goslim.k8s.models import K8sInput, Manifests, Probe, Probes, TimingChoice

DEFAULT_GRACE_SECONDS = 30  # Kubernetes' own default when nothing was measured
# Values from timings move in coarse steps, so a re-run on the same code writes the same bytes.
GRACE_STEP_SECONDS = 5
# Start-up probe windows (seconds) and the (periodSeconds, failureThreshold) that make each.
STARTUP_WINDOWS: tuple[tuple[int, int, int], ...] = (
    (10, 1, 10),
    (30, 1, 30),
    (60, 2, 30),
    (120, 2, 60),
    (300, 5, 60),
    (600, 10, 60),
)
UNMEASURED_STARTUP_WINDOW = 60
NAME_LABEL = "app.kubernetes.io/name"
TRACK_LABEL = "track"


def probes_from_contract(contract: RunContract, *, startup_seconds: float | None = None) -> Probes:
    """Startup, liveness and readiness probes as the run contract says: HTTP on a path that answered
    (or was given), TCP on the port otherwise, none when no port is known (nothing is invented)."""
    if contract.probe_port is None:
        return Probes()
    period, threshold = startup_window(startup_seconds)[1:]
    live, ready = contract.liveness, contract.readiness
    return Probes(
        startup=_k8s_probe(live, period_seconds=period, failure_threshold=threshold),
        liveness=_k8s_probe(live, period_seconds=10, failure_threshold=3),
        readiness=_k8s_probe(ready, period_seconds=5, failure_threshold=2),
    )


def startup_window(startup_seconds: float | None) -> tuple[int, int, int]:
    """(window, periodSeconds, failureThreshold) of the start-up probe: the smallest window of
    STARTUP_WINDOWS that holds three times the measured start-up plus 5 s (a minute when unmeasured)."""
    need = UNMEASURED_STARTUP_WINDOW if startup_seconds is None else 3 * startup_seconds + 5
    for window, period, threshold in STARTUP_WINDOWS:
        if need <= window:
            return window, period, threshold
    window, period, threshold = STARTUP_WINDOWS[-1]
    times = math.ceil(need / window)  # beyond the table: whole multiples of its last window
    return window * times, period, threshold * times


def _k8s_probe(probe: ContractProbe | None, *, period_seconds: int, failure_threshold: int) -> Probe | None:
    if probe is None:
        return None
    if probe.kind == "http" and probe.path:
        return Probe(
            kind="http", path=probe.path, period_seconds=period_seconds, failure_threshold=failure_threshold
        )
    return Probe(kind="tcp", path="", period_seconds=period_seconds, failure_threshold=failure_threshold)


def grace_period(spec: K8sInput) -> tuple[int, str]:
    """terminationGracePeriodSeconds and why: preStop sleep + measured shutdown + margin, rounded up
    to a whole GRACE_STEP_SECONDS step (the why keeps the raw measurement)."""
    if spec.grace_seconds is not None:
        return max(spec.grace_seconds, spec.prestop_sleep_seconds + 1), "as given"
    if spec.shutdown_seconds is None:
        return max(DEFAULT_GRACE_SECONDS, spec.prestop_sleep_seconds + 1), (
            "shutdown time not measured: Kubernetes' default 30 s (pass --shutdown-seconds)"
        )
    needed = spec.prestop_sleep_seconds + spec.shutdown_seconds + spec.grace_margin_seconds
    seconds = GRACE_STEP_SECONDS * math.ceil(needed / GRACE_STEP_SECONDS)
    killed = " (it needed SIGKILL: the real shutdown time is unknown)" if spec.needed_kill else ""
    return max(seconds, 1), (
        f"measured shutdown {spec.shutdown_seconds:.2f} s{killed} + margin {spec.grace_margin_seconds:g} s"
        + (f" + preStop {spec.prestop_sleep_seconds} s" if spec.prestop_sleep_seconds else "")
        + f", rounded up to a {GRACE_STEP_SECONDS} s step"
    )


def split_replicas(total: int, percent: float) -> tuple[int, int]:
    """(stable, canary) replicas for a canary share of ``percent``; each track keeps at least one pod."""
    total = max(total, 2)
    canary = min(max(1, round(total * percent / 100)), total - 1)
    return total - canary, canary


def build_manifests(spec: K8sInput) -> Manifests:
    """The Kubernetes objects for ``spec`` and their multi-document YAML."""
    grace, grace_why = grace_period(spec)
    notes = [f"terminationGracePeriodSeconds {grace}: {grace_why}"]
    objects: list[dict] = []
    if spec.canary_percent is None:
        replicas = {"stable": spec.replicas}
        objects.append(
            _deployment(spec, spec.name, None, replicas=spec.replicas, image=spec.image, grace=grace)
        )
    else:
        stable, canary = split_replicas(spec.replicas, spec.canary_percent)
        replicas = {"stable": stable, "canary": canary}
        effective = 100 * canary / (stable + canary)
        stable_image = spec.stable_image or spec.image
        if spec.stable_image is None:
            notes.append(
                "no --stable image given: both tracks run the new image; set the stable one to the "
                "digest in production"
            )
        if abs(effective - spec.canary_percent) >= 5:
            notes.append(
                f"{stable + canary} replicas give the canary {effective:.0f}% of pods, not "
                f"{spec.canary_percent:g}%: raise --replicas for a finer split"
            )
        objects.append(
            _deployment(spec, spec.name, "stable", replicas=stable, image=stable_image, grace=grace)
        )
        objects.append(
            _deployment(spec, f"{spec.name}-canary", "canary", replicas=canary, image=spec.image, grace=grace)
        )
    if spec.ports:
        objects.append(_service(spec))
    else:
        notes.append(
            "no port known: no Service and no probes (verify saw the service listen on none; pass --port)"
        )
    if sum(replicas.values()) >= 2:
        objects.append(_disruption_budget(spec))
    comments = _comments(spec, grace)
    text = "".join(f"# {line}\n" for line in comments) + "---\n".join(
        yaml.dump(o, Dumper=_PlainDumper, sort_keys=False, default_flow_style=False) for o in objects
    )
    if spec.image_placeholder:
        notes.append(
            f"the image has no registry name: the manifests say {spec.image_ref}; push it and pass "
            "--repository REGISTRY/REPO (or goslim slim --to)"
        )
    if spec.needed_kill:
        notes.append(comments[-1])
    return Manifests(
        objects=objects,
        yaml=text,
        grace_seconds=grace,
        replicas=replicas,
        notes=notes,
        slow_stop=spec.needed_kill,
        timings=timing_choices(spec, grace),
    )


def timing_choices(spec: K8sInput, grace: int) -> list[TimingChoice]:
    """The manifest values that come from measured times, each with its rule and the raw figure."""
    if spec.grace_seconds is not None:
        grace_rule = "as given"
    elif spec.shutdown_seconds is None:
        grace_rule = "shutdown not measured: Kubernetes' default"
    else:
        grace_rule = (
            f"measured shutdown + {spec.grace_margin_seconds:g} s margin"
            + (f" + preStop {spec.prestop_sleep_seconds} s" if spec.prestop_sleep_seconds else "")
            + f", rounded up to a {GRACE_STEP_SECONDS} s step"
        )
    shutdown = "" if spec.shutdown_seconds is None else f"shutdown {spec.shutdown_seconds:.3f} s"
    choices = [
        TimingChoice(
            field="terminationGracePeriodSeconds", value=str(grace), rule=grace_rule, measured=shutdown
        )
    ]
    probe = spec.probes.startup
    if probe is not None:
        windows = "/".join(str(w) for w, _, _ in STARTUP_WINDOWS)
        choices.append(
            TimingChoice(
                field="startupProbe",
                value=f"periodSeconds {probe.period_seconds}, failureThreshold {probe.failure_threshold}",
                rule=(
                    "start-up not measured: a 60 s window"
                    if spec.startup_seconds is None
                    else f"the smallest window of {windows} s holding 3 x measured start-up + 5 s"
                ),
                measured="" if spec.startup_seconds is None else f"start-up {spec.startup_seconds:.3f} s",
            )
        )
    return choices


def _comments(spec: K8sInput, grace: int) -> list[str]:
    """What a reader of the YAML must know before applying it."""
    lines = [f"Generated by goslim for {spec.name}."]
    if spec.image_placeholder:
        lines.append(
            f"image: {spec.image_ref} is a placeholder: push the image and replace REGISTRY "
            "(or generate again with --repository REGISTRY/REPO)."
        )
    if spec.needed_kill:
        lines.append(
            f"shutdown: verify sent the stop signal and the service did not exit until SIGKILL; "
            f"terminationGracePeriodSeconds {grace} will end the same way. Handle SIGTERM (then "
            "generate again), or accept it with --allow-slow-stop."
        )
    return lines


class _PlainDumper(yaml.SafeDumper):
    """No &anchors/*aliases for shared label dicts: people read and diff these files."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _metadata(spec: K8sInput, name: str, labels: dict[str, str]) -> dict:
    meta: dict = {"name": name}
    if spec.namespace:
        meta["namespace"] = spec.namespace
    meta["labels"] = labels
    return meta


def _labels(spec: K8sInput, track: str | None) -> dict[str, str]:
    labels = {NAME_LABEL: spec.name, "app.kubernetes.io/managed-by": "goslim"}
    if track:
        labels[TRACK_LABEL] = track
    return labels


def _deployment(
    spec: K8sInput, name: str, track: str | None, *, replicas: int, image: str, grace: int
) -> dict:
    selector = {NAME_LABEL: spec.name, **({TRACK_LABEL: track} if track else {})}
    container: dict = {
        "name": spec.name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
    }
    if spec.args:
        container["args"] = list(spec.args)
    if spec.env:
        container["env"] = [{"name": k, "value": v} for k, v in sorted(spec.env.items())]
    if spec.ports:
        container["ports"] = [
            {"name": _port_name(i, port), "containerPort": port, "protocol": "TCP"}
            for i, port in enumerate(spec.ports)
        ]
    for field, probe in (
        ("startupProbe", spec.probes.startup),
        ("livenessProbe", spec.probes.liveness),
        ("readinessProbe", spec.probes.readiness),
    ):
        if probe is not None:
            container[field] = _probe(probe)
    if spec.prestop_sleep_seconds:
        # The sleep action needs no shell in the image (Kubernetes 1.30+), unlike `exec: sleep`.
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": spec.prestop_sleep_seconds}}}
    container["resources"] = _resources(spec)
    container["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": spec.user,
        "runAsGroup": spec.user,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    mounts = _writable_mounts(spec)
    container["volumeMounts"] = [{"name": vol, "mountPath": path} for vol, path in mounts]
    pod_labels = _labels(spec, track)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(spec, name, pod_labels),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    # Service-link env vars grow the environment (and have crashed UPX-packed binaries).
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": grace,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": spec.user,
                        "runAsGroup": spec.user,
                        "fsGroup": spec.user,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [{"name": vol, "emptyDir": {"sizeLimit": "64Mi"}} for vol, _ in mounts],
                },
            },
        },
    }


def _port_name(index: int, port: int) -> str:
    # The first port is the one probes and the Service use; IANA names are at most 15 characters.
    return "http" if index == 0 else f"port-{port}"


def _writable_mounts(spec: K8sInput) -> list[tuple[str, str]]:
    """(volume name, path): /tmp always (the root filesystem is read-only), then the contract's paths."""
    mounts = [("tmp", "/tmp")]
    for path in spec.writable:
        if path.rstrip("/") != "/tmp":
            mounts.append((f"writable-{len(mounts)}", path))
    return mounts


def _probe(probe: Probe) -> dict:
    action = (
        {"httpGet": {"path": probe.path, "port": "http"}}
        if probe.kind == "http"
        else {"tcpSocket": {"port": "http"}}
    )
    return {
        **action,
        "periodSeconds": probe.period_seconds,
        "timeoutSeconds": probe.timeout_seconds,
        "failureThreshold": probe.failure_threshold,
    }


def _resources(spec: K8sInput) -> dict:
    r = spec.resources
    limits = {"memory": r.memory_limit}
    if r.cpu_limit:
        limits["cpu"] = r.cpu_limit
    return {"requests": {"cpu": r.cpu_request, "memory": r.memory_request}, "limits": limits}


def _disruption_budget(spec: K8sInput) -> dict:
    """At most one pod down in voluntary disruptions (node drains), across stable and canary."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(spec, spec.name, _labels(spec, None)),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {NAME_LABEL: spec.name}}},
    }


def _service(spec: K8sInput) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(spec, spec.name, _labels(spec, None)),
        "spec": {
            "type": "ClusterIP",
            # No track label: the Service spreads traffic over stable and canary pods by their count.
            "selector": {NAME_LABEL: spec.name},
            "ports": [
                {
                    "name": _port_name(i, port),
                    "port": 80 if i == 0 and 80 not in spec.ports else port,
                    "targetPort": _port_name(i, port),
                    "protocol": "TCP",
                }
                for i, port in enumerate(spec.ports)
            ],
        },
    }


def name_from_repository(repository: str) -> str:
    """A DNS-1123 name from the last path element of a repository."""
    last = repository.rstrip("/").rsplit("/", 1)[-1].split(":")[0].lower()
    name = re.sub(r"[^a-z0-9-]+", "-", last).strip("-")[:56].strip("-")
    return name or "app"
