"""`goslim ci github|gitlab`: print (or write) a CI file that runs `goslim slim` and keeps the report;
with --services, a sharded pipeline over many services that ends in one merged summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from goslim.ci_templates import TEMPLATES, render_ci
from goslim.ci_templates.fanout import parse_fanout, render_fanout
from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import line
from goslim.config import load_config
from goslim.errors import UserInputError
from goslim.fsutil import write_output

DEFAULT_SHARDS = 4


def register(app: typer.Typer) -> None:
    app.command("ci")(ci)


def ci(
    system: Annotated[str, typer.Argument(help="github or gitlab.")],
    module: Annotated[
        str, typer.Option(help="The Go module's folder, relative to the repository root.")
    ] = ".",
    services: Annotated[
        list[str] | None,
        typer.Option(
            help="Services to fan out over CI runners: package patterns or module folders relative to the "
            "repository root (./cmd/..., services/api); repeat for several modules."
        ),
    ] = None,
    shards: Annotated[
        int | None,
        typer.Option(help=f"With --services: runners to spread them over (default {DEFAULT_SHARDS})."),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(help="With --services: REGISTRY/PREFIX; each service goes to PREFIX/NAME:latest."),
    ] = None,
    sign: Annotated[
        bool,
        typer.Option(
            help="With --services: sign and attest with the CI's cosign key and reuse attestations."
        ),
    ] = True,
    ablation: Annotated[
        bool, typer.Option(help="With --services: run the per-technique size ablation.")
    ] = True,
    compare: Annotated[bool, typer.Option(help="With --services: compare bases.")] = True,
    pip_spec: Annotated[str, typer.Option(help="How CI installs goslim (pip requirement).")] = "goslim",
    out: Annotated[Path | None, typer.Option(help="Write the file here instead of printing it.")] = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """A GitHub Actions workflow or GitLab CI pipeline: install goslim, run `goslim slim`, keep the report."""
    if system not in TEMPLATES:
        raise UserInputError(f"unknown CI system '{system}'", hint=f"use one of: {', '.join(TEMPLATES)}")
    output = make_output(json_out)
    if services:
        fanout = parse_fanout(
            system,
            services,
            shards=DEFAULT_SHARDS if shards is None else shards,
            to=to,
            report_dir=_report_dir(Path(module)),
            sign=sign,
            ablation=ablation,
            compare=compare,
        )
        text = render_fanout(system, fanout, pip_spec=pip_spec, go_mod=_go_mod(fanout.targets[0]))
    elif shards is not None or to is not None:
        raise UserInputError(
            "--shards and --to fan out over services: name them with --services",
            hint="e.g. goslim ci github --services ./cmd/... --shards 4 --to ghcr.io/acme",
        )
    else:
        module_path = Path(module)
        text = render_ci(system, module_dir=module, report_dir=_report_dir(module_path), pip_spec=pip_spec)
    destination = TEMPLATES[system][1]
    if out is not None:
        write_output(out, text)
    if json_out:
        output.emit(
            {"system": system, "path": destination, "out": str(out) if out else None, "text": text},
            lambda c: None,
        )
    elif out is None:
        typer.echo(text, nl=False)
    else:
        output.note(line(("wrote", "green"), f" {out} (in a repository it goes at {destination})"))


def _report_dir(module_path: Path) -> str:
    return load_config(module_path).report.dir if module_path.is_dir() else "goslim-report"


def _go_mod(target: str) -> str:
    """The go.mod nearest above ``target`` (run from the repository root), for the Go version CI sets up."""
    folder = Path(target.removesuffix("...").rstrip("/") or ".")
    for candidate in (folder, *folder.parents):
        if (candidate / "go.mod").is_file():
            return (candidate / "go.mod").as_posix()
    return "go.mod"
