"""One call from the run contract and what verify observed to a validated ``K8sInput``."""

from __future__ import annotations

from pydantic import ValidationError

from goslim.contract import RunContract
from goslim.errors import UserInputError
from goslim.k8s.image import resolve_image
from goslim.k8s.manifests import probes_from_contract
from goslim.k8s.models import K8sInput
from goslim.verify.models import Observed

PLACEHOLDER_REGISTRY = "REGISTRY"

# K8sInput fields as the `goslim k8s` flags that set them, so errors name what the user typed.
FIELD_FLAGS = {
    "canary_percent": "--canary",
    "replicas": "--replicas",
    "name": "--name",
    "ports": "--port",
    "grace_seconds": "--grace",
    "prestop_sleep_seconds": "--prestop",
    "shutdown_seconds": "--shutdown-seconds",
    "startup_seconds": "--startup-seconds",
    "namespace": "--namespace",
}


def plan_k8s(
    image: str,
    contract: RunContract,
    *,
    observed: Observed | None = None,
    repository: str | None = None,
    shutdown_seconds: float | None = None,
    startup_seconds: float | None = None,
    stable: str | None = None,
    **fields: object,
) -> tuple[K8sInput, list[str]]:
    """Pin ``image`` (REPO@sha256 or oci:PATH[:TAG]) and build the K8sInput from the run ``contract``
    (name, ports, probes, args, env, writable, user) and ``observed`` (start-up and shutdown times,
    whether the stop needed SIGKILL); ``shutdown_seconds``/``startup_seconds`` override the measured
    ones. Other ``fields`` (replicas, canary_percent, grace_seconds, prestop_sleep_seconds, namespace,
    resources) go to K8sInput as they are.
    """
    placeholder = repository is None and image.startswith("oci:")
    pinned = resolve_image(
        image, repository=f"{PLACEHOLDER_REGISTRY}/{contract.name}" if placeholder else repository
    )
    stable_pin = resolve_image(stable) if stable else None
    measured_start = observed.startup_seconds if observed else None
    measured_stop = observed.shutdown_seconds if observed else None
    startup = startup_seconds if startup_seconds is not None else measured_start
    try:
        spec = K8sInput(
            name=contract.name,
            image_ref=pinned.repository,
            image_placeholder=placeholder,
            digest=pinned.digest,
            ports=contract.ports,
            probes=probes_from_contract(contract, startup_seconds=startup),
            writable=contract.writable,
            shutdown_seconds=shutdown_seconds if shutdown_seconds is not None else measured_stop,
            needed_kill=bool(observed and observed.needed_kill),
            startup_seconds=startup,
            stable_image=f"{stable_pin.repository}@{stable_pin.digest}" if stable_pin else None,
            # The image already carries its own Cmd and Env: the manifest repeats only what was given.
            env=dict(contract.env) if contract.given("env") else {},
            args=list(contract.args) if contract.given("args") else [],
            user=_uid(contract.user),
            **fields,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise UserInputError(
            f"invalid {FIELD_FLAGS.get(field, field)}: {err['msg']}", hint="see goslim k8s --help"
        ) from exc
    return spec, []


def _uid(user: str) -> int:
    """The numeric uid Kubernetes runs as (runAsNonRoot needs a number); 65532 when the user is a name."""
    head = user.split(":", 1)[0]
    return int(head) if head.isdigit() and int(head) > 0 else 65532
