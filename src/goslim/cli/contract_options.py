"""The run-contract flags, declared once for every command that runs or describes the service.

slim, image, verify, compare, k8s and dockerfile all take ``--name --arg --env --port --health
--readiness --writable`` and everything after ``--`` as program arguments; ``ContractCommand``
splits the command line at ``--`` before click sees it, so the program's own flags are never
taken for goslim's or for a package path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

if TYPE_CHECKING:
    from goslim.contract_resolve import ContractFlags

NameOpt = Annotated[
    str | None,
    typer.Option(
        "--name",
        help="Service name for k8s objects, SBOM and report files (goslim.yaml: service.name).",
        rich_help_panel="Run contract",
    ),
]
ArgOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--arg",
        help="Program argument (repeatable; or put them after --) (service.args).",
        rich_help_panel="Run contract",
    ),
]
EnvOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--env",
        help="KEY=VALUE in the service's environment (repeatable) (service.env).",
        rich_help_panel="Run contract",
    ),
]
PortOpt = Annotated[
    list[int] | None,
    typer.Option(
        "--port",
        min=1,
        max=65535,
        help="TCP port the service serves; the first is probed (repeatable) (service.ports).",
        rich_help_panel="Run contract",
    ),
]
HealthOpt = Annotated[
    str | None,
    typer.Option(
        "--health", help="Liveness HTTP path, e.g. /healthz (service.health).", rich_help_panel="Run contract"
    ),
]
ReadinessOpt = Annotated[
    str | None,
    typer.Option(
        "--readiness",
        help="Readiness HTTP path (default: the health path) (service.readiness).",
        rich_help_panel="Run contract",
    ),
]
WritableOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--writable",
        help="In-image path that must be writable: tmpfs in verify, emptyDir in k8s "
        "(repeatable) (service.writable).",
        rich_help_panel="Run contract",
    ),
]


class ContractCommand(TyperCommand):
    """A command whose arguments after ``--`` are the program's, kept apart from goslim's."""

    def format_usage(self, ctx: typer.Context, formatter: Any) -> None:
        super().format_usage(ctx, formatter)
        formatter.write_text("Arguments after -- are the program's own: goslim slim . --port 9090 -- serve")

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        after: list[str] = []
        if "--" in args:
            cut = args.index("--")
            args, after = args[:cut], args[cut + 1 :]
        rest = super().parse_args(ctx, args)
        if after:  # the program's arguments follow any --arg values
            ctx.params["arg"] = [*(ctx.params.get("arg") or []), *after]
        return rest


def contract_flags(
    name: str | None,
    arg: list[str] | None,
    env: list[str] | None,
    port: list[int] | None,
    health: str | None,
    readiness: str | None,
    writable: list[str] | None,
) -> ContractFlags:
    """The run-contract flags of a command (``arg`` already holds what followed ``--``)."""
    from goslim.contract_resolve import parse_flags  # noqa: PLC0415 (pydantic: not for --help)

    return parse_flags(
        name=name,
        args=tuple(arg or ()),
        env=tuple(env or ()),
        ports=tuple(port or ()),
        health=health,
        readiness=readiness,
        writable=tuple(writable or ()),
    )
