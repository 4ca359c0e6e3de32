"""`goslim k8s IMAGE`: Deployment (+ canary) and Service YAML for an image pinned by digest, made from
the run contract and what verify observed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from goslim.cli.contract_options import (
    ArgOpt,
    ContractCommand,
    EnvOpt,
    HealthOpt,
    NameOpt,
    PortOpt,
    ReadinessOpt,
    WritableOpt,
    contract_flags,
)
from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import line
from goslim.config import load_config
from goslim.contract_resolve import given_flags, resolve_contract
from goslim.errors import CheckFailedError, GoslimError, UserInputError
from goslim.fsutil import write_output
from goslim.k8s import Manifests, build_manifests, plan_k8s
from goslim.k8s.policy import POLICY_KINDS, PolicyKind, admission_policy, policy_yaml
from goslim.k8s.verified import Verified, read_verified
from goslim.oci import read_image
from goslim.sign.keys import load_public_key, public_key_pem


def register(app: typer.Typer) -> None:
    app.command("k8s", cls=ContractCommand)(k8s)


def k8s(
    image: Annotated[
        str, typer.Argument(help="REPO@sha256:<digest>, or oci:PATH[:TAG] (its digest is read).")
    ],
    verified: Annotated[
        Path | None,
        typer.Option(
            help="report.json of goslim slim, or goslim verify --json output: ports, probes and times "
            "verify observed."
        ),
    ] = None,
    shutdown_seconds: Annotated[
        float | None, typer.Option(help="Stop-signal-to-exit time, instead of the one in --verified.")
    ] = None,
    startup_seconds: Annotated[
        float | None, typer.Option(help="Start-to-ready time, instead of the one in --verified.")
    ] = None,
    allow_slow_stop: Annotated[
        bool,
        typer.Option("--allow-slow-stop", help="Exit 0 even though the service needed SIGKILL to stop."),
    ] = False,
    grace: Annotated[
        int | None, typer.Option(help="terminationGracePeriodSeconds (overrides the computed one).")
    ] = None,
    prestop: Annotated[
        int, typer.Option(help="preStop sleep seconds so endpoints drain before SIGTERM.")
    ] = 0,
    canary: Annotated[
        float | None, typer.Option(help="Add a canary Deployment with this percent of pods.")
    ] = None,
    stable: Annotated[
        str | None, typer.Option(help="With --canary: the REPO@sha256 the stable track runs.")
    ] = None,
    replicas: Annotated[int, typer.Option(help="Total replicas (split between stable and canary).")] = 2,
    repository: Annotated[
        str | None, typer.Option(help="Registry repository the oci: layout's image is pushed to.")
    ] = None,
    namespace: Annotated[str | None, typer.Option(help="metadata.namespace.")] = None,
    module: Annotated[Path | None, typer.Option(help="Module whose goslim.yaml gives defaults.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the YAML here instead of stdout.")] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            help="Also write an admission policy admitting only images with a passing goslim attestation: "
            "sigstore (policy-controller ClusterImagePolicy) or kyverno (ClusterPolicy verifyImages)."
        ),
    ] = None,
    key: Annotated[
        Path | None, typer.Option("--key", help="With --policy: cosign.pub the attestations are signed for.")
    ] = None,
    name: NameOpt = None,
    arg: ArgOpt = None,
    env: EnvOpt = None,
    port: PortOpt = None,
    health: HealthOpt = None,
    readiness: ReadinessOpt = None,
    writable: WritableOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Kubernetes manifests with proven probes, a measured grace period and a locked-down securityContext."""
    output = make_output(json_out)
    policy_kind = _policy_kind(policy, key)
    flags = contract_flags(name, arg, env, port, health, readiness, writable)
    config = load_config(module or Path.cwd())
    found = read_verified(verified) if verified else Verified()
    observed = found.observed
    if found.contract is not None:
        flags = given_flags(found.contract, flags)  # what the verified run was told, unless changed here
    image_config = _local_image_config(image)
    contract = resolve_contract(
        flags,
        config.service,
        main_package=found.package or _repository_name(image, repository),
        image_config=image_config,
        observed=observed,
        user=config.image.user,
    )
    if contract.liveness is not None and contract.probe_port is None:
        raise UserInputError(
            "--health needs a port for the probes",
            hint="pass --port PORT, or --verified report.json from a run that saw the service listen",
        )
    spec, notes = plan_k8s(
        image,
        contract,
        observed=observed,
        repository=repository,
        shutdown_seconds=shutdown_seconds,
        startup_seconds=startup_seconds,
        stable=stable,
        grace_seconds=grace,
        prestop_sleep_seconds=prestop,
        canary_percent=canary,
        replicas=replicas,
        namespace=namespace,
    )
    manifests = build_manifests(spec)
    if policy_kind is not None and key is not None:
        manifests = _with_policy(manifests, policy_kind, spec.name, spec.image_ref, key,
                                 placeholder=spec.image_placeholder)
    notes += manifests.notes
    if out is not None:
        write_output(out, manifests.yaml)
    if json_out:
        output.emit(
            {
                "input": spec,
                "contract": contract,
                "out": str(out) if out else None,
                "notes": notes,
                "replicas": manifests.replicas,
                "objects": manifests.objects,
            },
            lambda c: None,
        )
    elif out is None:
        typer.echo(manifests.yaml, nl=False)
    else:
        output.emit(manifests, lambda c: render(c, out, manifests))
    if not json_out:
        for note in notes:
            output.note(line(("note:", "yellow"), " ", note))
    if manifests.slow_stop and not allow_slow_stop:
        raise CheckFailedError(
            "the service needed SIGKILL to stop: Kubernetes will kill it the same way at every rollout",
            hint="handle SIGTERM and verify again, or pass --allow-slow-stop",
        )


def _policy_kind(policy: str | None, key: Path | None) -> PolicyKind | None:
    """--policy checked before any work; it needs the public key the attestations are signed for."""
    if policy is None:
        if key is not None:
            raise UserInputError("--key is the public key of --policy", hint="add --policy sigstore|kyverno")
        return None
    if policy not in POLICY_KINDS:
        raise UserInputError(f"unknown --policy '{policy}'", hint=f"use one of: {', '.join(POLICY_KINDS)}")
    if key is None:
        raise UserInputError(f"--policy {policy} needs --key cosign.pub",
                             hint="the public key of the cosign.key that `goslim verify --attest` signs with")
    return policy  # type: ignore[return-value]


def _with_policy(
    manifests: Manifests, kind: PolicyKind, name: str, repository: str, key: Path, *, placeholder: bool
) -> Manifests:
    if placeholder:
        raise UserInputError("--policy needs the registry repository the image is pulled from",
                             hint="pass --repository REGISTRY/REPO or a REPO@sha256:... image")
    pem = public_key_pem(load_public_key(key)).decode()  # parsed: a private or foreign key is refused
    document = admission_policy(kind, name, repository, pem)
    return manifests.model_copy(update={
        "objects": [*manifests.objects, document],
        "yaml": f"{manifests.yaml}---\n{policy_yaml(document)}",
    })


def _local_image_config(image: str) -> dict | None:
    """The image config of a local image (oci:, docker-archive:); registry images are not fetched."""
    if not image.startswith(("oci:", "docker-archive:")):
        return None
    try:
        return dict(read_image(image).config)
    except GoslimError:  # plan_k8s reports a bad layout with its own clear line
        return None


def _repository_name(image: str, repository: str | None) -> str | None:
    """A name from --repository or the image reference's repository, for when nothing names the service."""
    if repository:
        return repository
    if image.startswith(("oci:", "docker-archive:")):
        return None  # a layout directory is not the service's name
    repo = image.split("@", 1)[0]
    head, _, last = repo.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def render(console: Console, out: Path, manifests: Manifests) -> None:
    kinds = ", ".join(f"{o['kind']}/{o['metadata']['name']}" for o in manifests.objects)
    console.print(line(("wrote", "green"), f" {out}: {kinds}"))
