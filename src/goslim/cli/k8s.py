"""`goslim k8s IMAGE`: Deployment (+ canary) and Service YAML for an image pinned by digest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import line
from goslim.config import load_config
from goslim.fsutil import write_output
from goslim.k8s import Manifests, build_manifests, plan_k8s


def register(app: typer.Typer) -> None:
    app.command("k8s")(k8s)


def k8s(
    image: Annotated[
        str, typer.Argument(help="REPO@sha256:<digest>, or oci:PATH[:TAG] (its digest is read).")
    ],
    port: Annotated[
        int | None, typer.Option(help="Container port (goslim.yaml: verify.port / image.ports).")
    ] = None,
    health: Annotated[str | None, typer.Option(help="HTTP path for startup and liveness probes.")] = None,
    readiness: Annotated[str | None, typer.Option(help="HTTP path for the readiness probe.")] = None,
    tcp: Annotated[bool, typer.Option("--tcp", help="TCP probes instead of HTTP.")] = False,
    shutdown_seconds: Annotated[
        float | None, typer.Option(help="Measured SIGTERM-to-exit time (goslim verify prints it).")
    ] = None,
    startup_seconds: Annotated[float | None, typer.Option(help="Measured start-to-ready time.")] = None,
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
    name: Annotated[str | None, typer.Option(help="Object name (default: from the repository).")] = None,
    repository: Annotated[
        str | None, typer.Option(help="Registry repository for an oci: layout's image.")
    ] = None,
    namespace: Annotated[str | None, typer.Option(help="metadata.namespace.")] = None,
    module: Annotated[Path | None, typer.Option(help="Module whose goslim.yaml gives defaults.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the YAML here instead of stdout.")] = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Kubernetes manifests with proven probes, a measured grace period and a locked-down securityContext."""
    output = make_output(json_out)
    config = load_config(module or Path.cwd())
    verify = config.verify
    spec, notes = plan_k8s(
        image,
        repository=repository,
        name=name,
        port=port or verify.port or (config.image.ports[0] if config.image.ports else 8080),
        health=health or verify.health,
        readiness=readiness or verify.readiness,
        tcp=tcp,
        shutdown_seconds=shutdown_seconds,
        startup_seconds=startup_seconds,
        stable=stable,
        grace_seconds=grace,
        prestop_sleep_seconds=prestop,
        canary_percent=canary,
        replicas=replicas,
        namespace=namespace,
        env=dict(config.image.env),
        args=list(config.image.args),
    )
    manifests = build_manifests(spec)
    notes += manifests.notes
    if out is not None:
        write_output(out, manifests.yaml)
    if json_out:
        output.emit(
            {
                "input": spec,
                "out": str(out) if out else None,
                "notes": notes,
                "replicas": manifests.replicas,
                "objects": manifests.objects,
            },
            lambda c: None,
        )
        return
    if out is None:
        typer.echo(manifests.yaml, nl=False)
    else:
        output.emit(manifests, lambda c: render(c, out, manifests))
    for note in notes:
        output.note(line(("note:", "yellow"), " ", note))


def render(console: Console, out: Path, manifests: Manifests) -> None:
    kinds = ", ".join(f"{o['kind']}/{o['metadata']['name']}" for o in manifests.objects)
    console.print(line(("wrote", "green"), f" {out}: {kinds}"))
