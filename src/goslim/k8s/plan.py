"""One call from "what verify proved" to a validated ``K8sInput``: pin the image, derive the probes."""

from __future__ import annotations

from pydantic import ValidationError

from goslim.errors import UserInputError
from goslim.k8s.image import resolve_image
from goslim.k8s.manifests import default_probes, name_from_repository
from goslim.k8s.models import K8sInput

# K8sInput fields as the `goslim k8s` flags that set them, so errors name what the user typed.
FIELD_FLAGS = {
    "canary_percent": "--canary",
    "replicas": "--replicas",
    "name": "--name",
    "port": "--port",
    "grace_seconds": "--grace",
    "prestop_sleep_seconds": "--prestop",
    "shutdown_seconds": "--shutdown-seconds",
    "startup_seconds": "--startup-seconds",
    "namespace": "--namespace",
}


def plan_k8s(
    image: str,
    *,
    repository: str | None = None,
    name: str | None = None,
    port: int = 8080,
    health: str | None = None,
    readiness: str | None = None,
    tcp: bool = False,
    shutdown_seconds: float | None = None,
    startup_seconds: float | None = None,
    stable: str | None = None,
    **fields: object,
) -> tuple[K8sInput, list[str]]:
    """Pin ``image`` (REPO@sha256 or oci:PATH[:TAG]) and build the K8sInput; returns it with notes.

    The pipeline passes verify's measurements: ``shutdown_seconds`` from the shutdown check's
    ``measured["shutdown_s"]``, ``startup_seconds`` from the startup check's ``measured["seconds_to_start"]``.
    Other ``fields`` (replicas, canary_percent, grace_seconds, prestop_sleep_seconds, namespace, env, args,
    resources) go to K8sInput as they are.
    """
    pinned = resolve_image(image, repository=repository)
    stable_pin = resolve_image(stable) if stable else None
    try:
        spec = K8sInput(
            name=name or name_from_repository(pinned.repository),
            image_ref=pinned.repository,
            digest=pinned.digest,
            port=port,
            probes=default_probes(health, readiness or health, tcp=tcp, startup_seconds=startup_seconds),
            shutdown_seconds=shutdown_seconds,
            startup_seconds=startup_seconds,
            stable_image=f"{stable_pin.repository}@{stable_pin.digest}" if stable_pin else None,
            **fields,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise UserInputError(
            f"invalid {FIELD_FLAGS.get(field, field)}: {err['msg']}", hint="see goslim k8s --help"
        ) from exc
    return spec, [pinned.note] if pinned.note else []
