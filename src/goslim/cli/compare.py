"""`goslim compare`: the same service on the bases you name plus static and scratch, measured."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.table import Table

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
from goslim.cli.image import AppDirOpt, CompressionOpt, TargetArg, TzOpt, load_service
from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import Output, human_bytes, line, plain
from goslim.contract_resolve import ContractFlags
from goslim.errors import UserInputError
from goslim.image import ImageOptions
from goslim.image.compare import Comparison, Variant, compare_bases
from goslim.image.platforms import requested_platforms
from goslim.image.service import Service, load_services
from goslim.image.startcheck import StartCheck, check_starts
from goslim.oci import Image
from goslim.runner import SubprocessRunner
from goslim.upx import pack
from goslim.verify.emulation import NoEmulator, find_emulator
from goslim.verify.models import VerifyOptions
from goslim.verify.options import options_from_config
from goslim.verify.platforms import emulated_options
from goslim.verify.runtime import OciRuntime
from goslim.verify.verify import host_architecture

BaseListOpt = Annotated[list[str] | None, typer.Option(
    "--base", help="A base to compare (repeatable): REF, oci:PATH, docker-archive:PATH. static and scratch "
    "are always included.")]
RunOpt = Annotated[bool, typer.Option("--run/--no-run", help="Run each image as verify does and probe it.")]
UpxOpt = Annotated[str | None, typer.Option(help="Also compare the binary packed at this UPX level.")]


def register(app: typer.Typer) -> None:
    app.command("compare", cls=ContractCommand)(compare)


def compare(
    target: TargetArg = None,
    base: BaseListOpt = None,
    compression: CompressionOpt = None,
    tz: TzOpt = None,
    app_dir: AppDirOpt = None,
    run: RunOpt = True,
    upx: UpxOpt = None,
    name: NameOpt = None,
    arg: ArgOpt = None,
    env: EnvOpt = None,
    port: PortOpt = None,
    health: HealthOpt = None,
    readiness: ReadinessOpt = None,
    writable: WritableOpt = None,
    platform: Annotated[str | None, typer.Option(
        help="Compare for these platforms (comma list or 'all'): one build each, each base's image of "
        "that platform, run natively or under qemu-user.")] = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The same service on each base: pull size, disk size, layers, files, and whether it starts."""
    output = make_output(json_out)
    if compression not in (None, "gzip", "zstd"):
        raise UserInputError(f"unknown compression '{compression}'", hint="use gzip or zstd")
    flags = contract_flags(name, arg, env, port, health, readiness, writable)
    if platform is not None:
        with output.progress("listing the platforms"):
            # "all": the built-in bases' platforms; a named base without one gets a row saying so.
            platforms = requested_platforms(platform, "static")
        services = load_services(target, platforms, output.progress, embed_tz=tz == "embed")
        results = [_compare(output, s, base, compression, tz, app_dir, run, upx, flags) for s in services]
        output.emit(PlatformComparisons(comparisons=results),
                    lambda c: [render_comparison(c, r) for r in results])
        return
    service = load_service(target, output.progress, embed_tz=tz == "embed")
    result = _compare(output, service, base, compression, tz, app_dir, run, upx, flags)
    output.emit(result, lambda c: render_comparison(c, result))


class PlatformComparisons(BaseModel):
    """``compare --platform``: one comparison per platform, in the order asked."""

    model_config = ConfigDict(frozen=True)

    comparisons: list[Comparison]


def _compare(
    output: Output, service: Service, base: list[str] | None, compression: str | None, tz: str | None,
    app_dir: str | None, run: bool, upx: str | None, flags: ContractFlags,
) -> Comparison:
    """One service (one platform's binary) on every base; its images run natively or emulated."""
    cfg = service.config
    contract = service.contract(flags)
    options = ImageOptions.from_config(cfg.image, contract, compression=compression, tz=tz, app_dir=app_dir)
    bases = _dedupe([*(base or []), "static", "scratch"])
    variants = [Variant(label="slim", binary=service.binary, report=service.report)]
    with tempfile.TemporaryDirectory(prefix="goslim-compare-") as tmp:
        if upx:
            variants.append(_upx_variant(service.binary, upx, Path(tmp)))
        checker, how = None, "skipped (--no-run)"
        if run:
            verify_options = options_from_config(cfg.verify, contract)
            if SubprocessRunner().which(verify_options.runtime) is None:
                how = f"not checked: {verify_options.runtime} not installed"
            else:
                runtime = OciRuntime(verify_options.runtime)
                how = (
                    f"{verify_options.runtime} with verify's spec and probes "
                    f"({_probe_source(verify_options)}), then the exit code after SIGTERM"
                )

                arch = service.binary.platform.architecture
                if arch != host_architecture():
                    found = find_emulator(arch)
                    if isinstance(found, NoEmulator):
                        how, run = f"not checked: {found.reason}", False
                    else:
                        verify_options = emulated_options(verify_options, found)
                        how += f", emulated: {found.version} (timing not judged against native budgets)"

                def checker(image: Image) -> StartCheck:
                    return check_starts(image, verify_options, runtime=runtime)

        with output.progress(f"compare ({service.binary.platform})") as step:
            result = compare_bases(variants, bases, options, start_checker=checker if run else None,
                                   start_check=how, on_step=step)
    return result.model_copy(update={"platform": str(service.binary.platform)})


def _probe_source(options: VerifyOptions) -> str:
    if options.port and options.health:
        return f"GET :{options.port}{options.health}"
    return "port and health path discovered as verify does" if not options.port else f"port {options.port}"


def _upx_variant(binary, level: str, tmp: Path) -> Variant:
    packed = pack(binary, level, tmp / binary.name)
    return Variant(label=f"slim + upx {level}", binary=packed, report=analyze(packed.path))


def _dedupe(items: list[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


SHORT = {"passwd": "users", "nsswitch": "", "ca-bundle": "CA", "zoneinfo": "tz", "os-release": ""}


def render_comparison(console: Console, c: Comparison) -> None:
    on = f" ({c.platform})" if c.platform else ""
    table = Table(title=line(c.service, on, f" on each base ({c.compression} layers)"), title_justify="left")
    for col in ("base", "binary", "pull", "disk", "layers", "files", "starts?", "carries"):
        table.add_column(col, justify="right" if col in ("pull", "disk", "layers", "files") else "left")
    notes: list[str] = []
    for r in c.rows:
        if r.error:
            table.add_row(plain(r.base), plain(r.variant), "-", "-", "-", "-", "[red]refused[/]", "")
            notes.append(f"{r.base} ({r.variant}): {r.error}")
            continue
        carried = ", ".join(SHORT.get(i, i) for i in r.carried if SHORT.get(i, i))
        table.add_row(plain(r.base), plain(r.variant), human_bytes(r.pull_size or 0),
                      human_bytes(r.disk_size or 0), str(r.layers), str(r.files), _starts(r), plain(carried))
        if r.start is not None and not (r.start.started and r.start.exit_code == 0):
            last = r.start.log_tail.splitlines()[-1] if r.start.log_tail else ""
            tail = f"; last log line: {last}" if last else ""
            notes.append(f"{r.base} ({r.variant}): {r.start.detail}{tail}")
    console.print(table)
    for note in notes:
        console.print(line("  ", plain(note, "dim")), highlight=False)  # errors and logs from the image
    console.print(plain(f"starts?: {c.start_check}", "dim"), highlight=False)


def _starts(r) -> str:
    if r.start is None:
        return "[dim]not run[/]"
    s = r.start
    if s.started and s.exit_code == 0:
        return "[green]yes[/]"
    if s.started:
        return f"[yellow]yes, exit {s.exit_code}[/]" if s.exit_code is not None else "[yellow]yes, hung[/]"
    return f"[red]no[/] (exit {s.exit_code})" if s.exit_code is not None else "[red]no[/]"
