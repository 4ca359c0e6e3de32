"""`goslim image`: put a Go service on a minimal base and write the image somewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.table import Table

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
from goslim.cli.output import Output, human_bytes, line
from goslim.config import load_config
from goslim.contract import RunContract
from goslim.contract_resolve import ContractFlags
from goslim.errors import UserInputError
from goslim.gobuild.toolchain import find_module_root
from goslim.image import AssembledImage, ImageOptions, assemble
from goslim.image.locations import default_location, write_image
from goslim.image.platforms import (
    AssembledIndex,
    as_docker,
    assemble_index,
    docker_assembled,
    requested_platforms,
)
from goslim.image.service import load_service, load_services, price_tz
from goslim.image.tzchoice import TzChoice
from goslim.oci.reference import ImageLocation

TZ_TAG = "timetzdata"


class IndexResult(BaseModel):
    """What `goslim image --platform A,B` made: an image index, one image per platform, and where it went."""

    model_config = ConfigDict(frozen=True)

    location: str
    index: AssembledIndex
    contract: RunContract


class ImageResult(BaseModel):
    """What `goslim image` made and where it went."""

    model_config = ConfigDict(frozen=True)

    location: str
    assembled: AssembledImage
    contract: RunContract
    tz: TzChoice | None = None


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
ManifestFormatOpt = Annotated[str, typer.Option(
    "--manifest-format", help="oci (default) or docker: Docker schema-2 manifests (and a Docker manifest "
    "list for several platforms), gzip layers only. A registry that refuses the OCI index gets the Docker "
    "list anyway.")]
PlatformOpt = Annotated[str | None, typer.Option(
    help="GOOS/GOARCH to build for (default: goslim.yaml); a comma list or 'all' writes an OCI image index.")]


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
    manifest_format: ManifestFormatOpt = "oci",
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
    if manifest_format not in ("oci", "docker"):
        raise UserInputError(f"unknown --manifest-format '{manifest_format}'", hint="use oci or docker")
    if manifest_format == "docker" and compression == "zstd":
        raise UserInputError("--manifest-format docker takes gzip layers only: Docker schema 2 has no zstd",
                             hint="drop --compression zstd, or write the OCI format")
    docker = manifest_format == "docker"
    if to is not None:
        ImageLocation.parse(to)  # a bad destination fails before any build
    if base not in (None, "static", "scratch"):
        ImageLocation.parse(base)
    flags = contract_flags(name, arg, env, port, health, readiness, writable)
    if platform is not None and ("," in platform or platform.strip() == "all"):
        _image_index(output, target, base, to, tag, compression, tz, user, app_dir, platform, flags,
                     docker=docker)
        return
    service = load_service(target, output.progress, platform=platform, embed_tz=tz == "embed")
    cfg = service.config.image
    contract = service.contract(flags)
    options = ImageOptions.from_config(
        cfg, contract, user=user, compression=compression, tz=tz, app_dir=app_dir
    )
    base_spec = base or cfg.base
    with output.progress(f"assembling on {base_spec}"):
        assembled = assemble(service.binary, service.report, base_spec, options)
        if docker:
            assembled = docker_assembled(assembled)
    tz_choice = price_tz(service, options, output.progress) if service.module_dir is not None else None
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


def _image_index(
    output: Output, target: str | None, base: str | None, to: str | None, tag: str | None,
    compression: str | None, tz: str | None, user: str | None, app_dir: str | None, platform: str,
    flags: ContractFlags, *, docker: bool = False,
) -> None:
    """`--platform A,B|all`: one build and one image per platform, under one OCI image index (with
    ``docker``: a Docker manifest list). ``--tz embed`` builds every platform with the embedded zoneinfo."""
    path = Path(target) if target else None
    module_dir = find_module_root(path if path is not None and path.is_dir() else Path.cwd())
    cfg = load_config(module_dir).image
    base_spec = base or cfg.base
    with output.progress(f"listing the platforms of {base_spec}"):
        platforms = requested_platforms(platform, base_spec)
    services = load_services(target, platforms, output.progress, embed_tz=tz == "embed")
    first = services[0]
    contract = first.contract(flags)
    options = ImageOptions.from_config(
        cfg, contract, user=user, compression=compression, tz=tz, app_dir=app_dir
    )
    with output.progress(f"assembling {len(services)} platforms on {base_spec}"):
        assembled = assemble_index(services, base_spec, options)
        if docker:
            assembled = as_docker(assembled)
    version = assembled.images[0].labels.get("org.opencontainers.image.version")
    location = to or cfg.to or default_location(module_dir, first.config.build.out)
    with output.progress(f"writing {location}"):
        written = write_image(location, assembled.index, tag=tag or cfg.tag or version or "latest",
                              name=contract.name)
    if ImageLocation.parse(location).kind == "registry" and not written.endswith(f"@{assembled.digest}"):
        # The registry refused the OCI index and took the Docker manifest list (same blobs) instead.
        assembled = as_docker(assembled)
        output.note(line(("note:", "yellow"), f" {location} does not take the OCI index media type: "
                         f"pushed a Docker manifest list, digest {assembled.digest}"))
    result = IndexResult(location=written, index=assembled, contract=contract)
    output.emit(result, lambda c: render_index(c, result))


def render_index(console: Console, result: IndexResult) -> None:
    idx = result.index
    console.print(line(f"image index of {len(idx.images)} platforms → ", result.location), highlight=False)
    console.print(line("index digest ", idx.digest), highlight=False)
    table = Table(title_justify="left", show_edge=False)
    for col, right in (("platform", False), ("base", False), ("digest", False), ("pull", True),
                       ("disk", True)):
        table.add_column(col, justify="right" if right else "left")
    for a in idx.images:
        table.add_row(line(a.platform), line(a.base.name), line(a.digest[:19]), human_bytes(a.pull_size),
                      human_bytes(a.disk_size))
    table.add_row("[bold]all[/]", "", "", f"[bold]{human_bytes(idx.pull_size)}[/]", "")
    console.print(table)
    for a in idx.images:
        for warning in a.warnings:
            console.print(line(("warning:", "yellow"), f" {a.platform}: ", warning), highlight=False)


def render_image(console: Console, result: ImageResult) -> None:
    a = result.assembled
    by = f" by {a.encoder}" if a.encoder else ""
    console.print(line((a.binary.name, "bold"), " on ", (a.base.name, "bold"),
                       f" ({a.platform}, {a.compression} layers{by}) → ", result.location), highlight=False)
    console.print(line("digest ", a.digest), highlight=False)
    if a.base.digest:
        console.print(line("base digest ", a.base.digest), highlight=False)
    for p in a.base.provisions:
        mark = ("+", "green") if p.included else ("-", "dim")
        where = (f"  {p.source}, {p.version}", "dim") if p.included and p.version else ""
        console.print(line("  ", mark, " ", f"{p.item:<10}", " ", p.reason, where), highlight=False)
    console.print(line(f"entrypoint {a.entrypoint}  user {a.user}  workdir {a.workdir}"), highlight=False)
    table = Table(title_justify="left", show_edge=False)
    for col, right in (("layer", False), ("pull", True), ("disk", True), ("files", True)):
        table.add_column(col, justify="right" if right else "left")
    for la in a.stats.layers:
        # created_by comes from the base image's history.
        table.add_row(line(la.created_by or la.digest[:19]), human_bytes(la.size), human_bytes(la.tar_size),
                      str(la.files))
    table.add_row("[bold]image[/]", f"[bold]{human_bytes(a.stats.pull_size)}[/]",
                  f"[bold]{human_bytes(a.stats.disk_size)}[/]", f"[bold]{a.stats.files}[/]")
    console.print(table)
    for warning in a.warnings:
        console.print(line(("warning:", "yellow"), " ", warning), highlight=False)
    if result.tz is not None:
        t = result.tz
        console.print(
            f"time zones: zoneinfo files {human_bytes(t.files_bytes)} vs -tags timetzdata "
            f"+{human_bytes(t.embed_bytes)} ({t.compression}); {t.smaller} is smaller by "
            f"{human_bytes(t.saving)} for this binary (this image uses {t.chosen})",
            highlight=False,
        )
