"""`goslim image`: put a Go service on a minimal base and write the image somewhere."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.table import Table

from goslim.binary import BinaryReport, analyze
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
from goslim.cli.output import Output, human_bytes
from goslim.config import GoslimConfig, load_config
from goslim.contract import RunContract
from goslim.contract_resolve import ContractFlags, resolve_contract
from goslim.errors import UserInputError
from goslim.gobuild import Binary, BuildOptions, GoToolchain, Profile, build_binaries
from goslim.gobuild.toolchain import find_module_root
from goslim.image import AssembledImage, ImageOptions, assemble
from goslim.image.locations import default_location, write_image
from goslim.image.tzchoice import TzChoice, compare_tz
from goslim.oci.reference import ImageLocation
from goslim.platform import Platform

TZ_TAG = "timetzdata"


class ImageResult(BaseModel):
    """What `goslim image` made and where it went."""

    model_config = ConfigDict(frozen=True)

    location: str
    assembled: AssembledImage
    contract: RunContract
    tz: TzChoice | None = None


@dataclass(frozen=True)
class Service:
    """A binary to image, its analysis, and (when goslim built it) the module it came from."""

    binary: Binary
    report: BinaryReport
    module_dir: Path | None
    config: GoslimConfig

    def contract(self, flags: ContractFlags) -> RunContract:
        """The run contract of this service from the flags and goslim.yaml (before any image exists)."""
        package = self.config.build.packages[0] if self.module_dir is not None else "."
        return resolve_contract(
            flags,
            self.config.service,
            package=package,
            main_package=self.binary.package or self.binary.name,
            user=self.config.image.user,
        )


def register(app: typer.Typer) -> None:
    app.command("image", cls=ContractCommand)(image)


TargetArg = Annotated[str | None, typer.Argument(help="Go module directory or a built binary. Default: '.'")]
BaseOpt = Annotated[str | None, typer.Option(
    help="static, scratch, or an image: REF, oci:PATH, docker-archive:PATH (goslim.yaml: image.base).")]
ToOpt = Annotated[str | None, typer.Option(help="oci:PATH[:TAG], docker-archive:PATH or HOST/REPO[:TAG].")]
TagOpt = Annotated[str | None, typer.Option(help="Tag when --to has none (default: version, else latest).")]
CompressionOpt = Annotated[str | None, typer.Option(help="Layer compression: gzip (default) or zstd.")]
TzOpt = Annotated[str | None, typer.Option(
    help="auto (zoneinfo files when needed), files, embed (-tags timetzdata), none.")]
UserOpt = Annotated[str | None, typer.Option(help="uid:gid the service runs as (default 65532:65532).")]
AppDirOpt = Annotated[str | None, typer.Option("--app-dir", help="Where the binary goes (default /app).")]
PlatformOpt = Annotated[str | None, typer.Option(help="GOOS/GOARCH to build for (default: goslim.yaml).")]


def image(
    target: TargetArg = None,
    base: BaseOpt = None,
    to: ToOpt = None,
    tag: TagOpt = None,
    compression: CompressionOpt = None,
    tz: TzOpt = None,
    user: UserOpt = None,
    app_dir: AppDirOpt = None,
    platform: PlatformOpt = None,
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
    """Build (slim profile) or take a binary, put it on a base that carries what it needs, write the image."""
    output = make_output(json_out)
    if compression not in (None, "gzip", "zstd"):
        raise UserInputError(f"unknown compression '{compression}'", hint="use gzip or zstd")
    if tz not in (None, "auto", "files", "embed", "none"):
        raise UserInputError(f"unknown --tz '{tz}'", hint="use auto, files, embed or none")
    if to is not None:
        ImageLocation.parse(to)  # a bad destination fails before any build
    if base not in (None, "static", "scratch"):
        ImageLocation.parse(base)
    flags = contract_flags(name, arg, env, port, health, readiness, writable)
    service = load_service(target, output, platform=platform, embed_tz=tz == "embed")
    cfg = service.config.image
    contract = service.contract(flags)
    options = ImageOptions.from_config(
        cfg, contract, user=user, compression=compression, tz=tz, app_dir=app_dir
    )
    base_spec = base or cfg.base
    with output.progress(f"assembling on {base_spec}"):
        assembled = assemble(service.binary, service.report, base_spec, options)
    tz_choice = price_tz(service, options, output) if service.module_dir is not None else None
    version = assembled.labels.get("org.opencontainers.image.version")
    if service.module_dir is not None:
        fallback = default_location(service.module_dir, service.config.build.out)
    else:
        fallback = default_location(service.binary.path.parent, "")
    location = to or cfg.to or fallback
    with output.progress(f"writing {location}"):
        written = write_image(location, assembled.image, tag=tag or cfg.tag or version or "latest",
                              name=contract.name)
    result = ImageResult(location=written, assembled=assembled, contract=contract, tz=tz_choice)
    output.emit(result, lambda c: render_image(c, result))


def load_service(target: str | None, output: Output, *, platform: str | None = None,
                 embed_tz: bool = False) -> Service:
    """A built binary (from a module directory, slim profile) or a given file, with its analysis."""
    path = Path(target) if target else None
    if path is not None and path.is_file():
        config = load_config(path.parent)
        with output.progress(f"analyzing {path.name}"):
            report = analyze(path)
        if not report.elf.goarch:
            raise UserInputError(f"{path} is for machine {report.elf.machine}, which goslim does not target")
        binary = Binary.from_file(
            path, name=path.name, package=report.build_info.path if report.build_info else "",
            module_dir=path.parent, platform=Platform(os="linux", architecture=report.elf.goarch),
            profile="given", go_version=report.build_info.go_version if report.build_info else "",
            env={}, flags=[],
        )
        return Service(binary, report, None, config)
    if path is not None and not path.exists():
        raise UserInputError(f"{path} does not exist", hint="give a Go module directory or a built binary")
    module_dir = find_module_root(path or Path.cwd())
    config = load_config(module_dir)
    binary = build_service(module_dir, config, output, platform=platform, embed_tz=embed_tz)
    with output.progress(f"analyzing {binary.name}"):
        report = analyze(binary.path)
    return Service(binary, report, module_dir, config)


def build_service(module_dir: Path, config: GoslimConfig, output: Output, *, platform: str | None = None,
                  embed_tz: bool = False, out_dir: Path | None = None) -> Binary:
    """Build the module's one main package with the slim profile."""
    tags = tuple(config.build.tags) + ((TZ_TAG,) if embed_tz and TZ_TAG not in config.build.tags else ())
    opts = BuildOptions(
        profile=Profile.SLIM,
        platform=Platform.parse(platform or config.build.platforms[0]),
        tags=tags,
        x=dict(config.build.x),
    )
    out = out_dir or (module_dir / config.build.out)
    with output.progress("go build (slim)"):
        binaries = build_binaries(GoToolchain(module_dir), config.build.packages, out, [opts])
    if len(binaries) != 1:
        names = ", ".join(b.name for b in binaries)
        raise UserInputError(
            f"{module_dir} has {len(binaries)} main packages ({names}); an image holds one",
            hint="set build.packages in goslim.yaml to the one to image, e.g. [./cmd/server]",
        )
    return binaries[0]


def price_tz(service: Service, options: ImageOptions, output: Output) -> TzChoice | None:
    """When the program loads time zones, build the other variant and measure files against embed."""
    tz = options.static.tz
    zone_need = service.report.needs.zoneinfo
    embedded_now = any(TZ_TAG in flag for flag in service.binary.flags)
    if tz == "none" or (not zone_need.needed and not embedded_now) or service.module_dir is None:
        return None
    with tempfile.TemporaryDirectory(prefix="goslim-tz-") as tmp:
        other = build_service(service.module_dir, service.config, output,
                              platform=str(service.binary.platform), embed_tz=not embedded_now,
                              out_dir=Path(tmp))
        mine = service.binary.path
        plain, embedded = (other.path, mine) if embedded_now else (mine, other.path)
        with output.progress("pricing zoneinfo files against -tags timetzdata"):
            return compare_tz(plain, embedded, options.compression, "embed" if embedded_now else "files",
                              options.static.tz_source)


def render_image(console: Console, result: ImageResult) -> None:
    a = result.assembled
    console.print(f"[bold]{a.binary.name}[/] on [bold]{a.base.name}[/] ({a.platform}, {a.compression} layers)"
                  f" → {result.location}", highlight=False)
    console.print(f"digest {a.digest}", highlight=False)
    if a.base.digest:
        console.print(f"base digest {a.base.digest}", highlight=False)
    for p in a.base.provisions:
        mark = "[green]+[/]" if p.included else "[dim]-[/]"
        where = f"  [dim]{p.source}, {p.version}[/]" if p.included and p.version else ""
        console.print(f"  {mark} {p.item:<10} {p.reason}{where}", highlight=False)
    console.print(f"entrypoint {a.entrypoint}  user {a.user}  workdir {a.workdir}", highlight=False)
    table = Table(title_justify="left", show_edge=False)
    for col, right in (("layer", False), ("pull", True), ("disk", True), ("files", True)):
        table.add_column(col, justify="right" if right else "left")
    for la in a.stats.layers:
        table.add_row(la.created_by or la.digest[:19], human_bytes(la.size), human_bytes(la.tar_size),
                      str(la.files))
    table.add_row("[bold]image[/]", f"[bold]{human_bytes(a.stats.pull_size)}[/]",
                  f"[bold]{human_bytes(a.stats.disk_size)}[/]", f"[bold]{a.stats.files}[/]")
    console.print(table)
    for warning in a.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if result.tz is not None:
        t = result.tz
        console.print(
            f"time zones: zoneinfo files {human_bytes(t.files_bytes)} vs -tags timetzdata "
            f"+{human_bytes(t.embed_bytes)} ({t.compression}); {t.smaller} is smaller by "
            f"{human_bytes(t.saving)} for this binary (this image uses {t.chosen})",
            highlight=False,
        )
