"""`goslim dockerfile`: write a multi-stage Dockerfile and .dockerignore that build what goslim builds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from goslim.binary import analyze
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
from goslim.contract_resolve import resolve_contract
from goslim.dockerfile import GeneratedDockerfile, plan_dockerfile, write_dockerfile
from goslim.errors import UserInputError
from goslim.gobuild.toolchain import find_module_root


def register(app: typer.Typer) -> None:
    app.command("dockerfile", cls=ContractCommand)(dockerfile)


def dockerfile(
    module: Annotated[
        Path | None, typer.Argument(help="Go module directory (default: the current module).")
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(help="Final stage: scratch, static (distroless) or alpine (goslim.yaml: image.base)."),
    ] = None,
    upx: Annotated[
        str | None, typer.Option(help="Add a UPX stage: default|best|lzma|best-lzma|brute|1-9, or off.")
    ] = None,
    binary: Annotated[
        Path | None, typer.Option(help="A built binary to analyze for CA roots / zoneinfo / passwd needs.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Directory to write into (default: the module).")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a Dockerfile goslim did not write.")
    ] = False,
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
    """Write a Dockerfile (BuildKit cache mounts, slim flags, nonroot, exec ENTRYPOINT) and .dockerignore."""
    output = make_output(json_out)
    flags = contract_flags(name, arg, env, port, health, readiness, writable)
    module_dir = (module or find_module_root(Path.cwd())).resolve()
    if not module_dir.is_dir():
        raise UserInputError(f"{module_dir} is not a directory", hint="pass the Go module directory")
    config = load_config(module_dir)
    report = None
    if binary is not None:
        if not binary.is_file():
            raise UserInputError(f"no binary at {binary}", hint="build it first: goslim build")
        report = analyze(binary, top=0)
    package = config.build.packages[0] if config.build.packages else "."
    contract = resolve_contract(flags, config.service, package=package, user=config.image.user)
    spec = plan_dockerfile(module_dir, config, base=base, upx=upx, report=report, contract=contract)
    out_dir = (out or module_dir).resolve()
    ignore = [config.build.out, config.report.dir]
    result = write_dockerfile(spec, module_dir, out_dir, ignore=ignore, force=force)
    output.emit(result, lambda c: render(c, result))


def render(console: Console, result: GeneratedDockerfile) -> None:
    spec = result.spec
    console.print(line(("wrote", "green"), " ", str(result.dockerfile)))
    if result.dockerignore:
        console.print(line(("wrote", "green"), " ", str(result.dockerignore)))
    upx = f", UPX {spec.upx}" if spec.upx else ""
    console.print(line(
        f"  golang:{spec.go_version} → {spec.base.value}{upx}; binary /{spec.binary_name}; "
        f"user {spec.user}; ports {', '.join(map(str, spec.ports)) or 'none'}"
    ))
    for note in result.notes:
        console.print(line("  ", ("note:", "yellow"), " ", note))
