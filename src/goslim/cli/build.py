"""`goslim build`: build Go main packages with a profile, or measure the size ablation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import human_bytes, line, plain, signed_pct
from goslim.config import load_config
from goslim.gobuild import Ablation, Binary, BuildOptions, GoToolchain, Profile, build_binaries
from goslim.gobuild.ablation_cache import cached_ablation
from goslim.gobuild.flags import parse_x_stamps
from goslim.gobuild.toolchain import find_module_root
from goslim.platform import Platform


def register(app: typer.Typer) -> None:
    app.command("build")(build)


def build(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="Module directory or package patterns (./cmd/...). Default: '.'"),
    ] = None,
    profile: Annotated[str | None, typer.Option(help="slim or default (goslim.yaml: build.profile).")] = None,
    platform: Annotated[
        str | None, typer.Option(help="Comma-separated GOOS/GOARCH list, e.g. linux/amd64,linux/arm64.")
    ] = None,
    tags: Annotated[str | None, typer.Option(help="Comma-separated build tags.")] = None,
    x: Annotated[
        list[str] | None, typer.Option("--x", help="-X stamp importpath.name=value (repeatable).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory (default: dist/ in the module).")] = None,
    ablation: Annotated[
        bool, typer.Option("--ablation", help="Measure each size technique instead.")
    ] = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Build Go main packages (slim: CGO_ENABLED=0 -trimpath -ldflags "-s -w -buildid=")."""
    output = make_output(json_out)
    module_dir, patterns = resolve_targets(targets or [])
    full_config = load_config(module_dir)
    config = full_config.build
    platforms = [Platform.parse(p) for p in (platform.split(",") if platform else config.platforms)]
    base = BuildOptions(
        profile=Profile.parse(profile or config.profile),
        tags=tuple(t for t in (tags.split(",") if tags else config.tags) if t),
        x={**config.x, **parse_x_stamps(x or [])},
    )
    toolchain = GoToolchain(module_dir)
    if ablation:
        with output.progress("ablation") as step:
            cached = cached_ablation(
                toolchain,
                patterns[0],
                base.model_copy(update={"platform": platforms[0]}),
                exclude=[module_dir / config.out, module_dir / full_config.report.dir],
                on_step=step,
            )
        output.note(f"ablation {cached.describe()}")
        result = cached.ablation
        output.emit(result, lambda c: render_ablation(c, result))
        return
    out_dir = (out or module_dir / config.out).resolve()
    options = [base.model_copy(update={"platform": p}) for p in platforms]
    with output.progress("go build"):
        binaries = build_binaries(toolchain, patterns, out_dir, options)
    output.emit(binaries, lambda c: render_binaries(c, binaries))


def resolve_targets(targets: list[str]) -> tuple[Path, list[str]]:
    """Split CLI targets into (module root, package patterns relative to it)."""
    if not targets:
        return find_module_root(Path.cwd()), ["."]
    first = Path(targets[0].removesuffix("/..."))
    if (
        len(targets) == 1
        and first.is_dir()
        and (first / "go.mod").is_file()
        and not targets[0].endswith("...")
    ):
        return first.resolve(), ["."]
    root = find_module_root(first if first.is_dir() else Path.cwd())
    patterns = []
    for t in targets:
        p = Path(t.removesuffix("/...")).resolve()
        rel = p.relative_to(root) if p.is_relative_to(root) else None
        if rel is None:
            patterns.append(t)
        else:
            patterns.append(
                "./" + str(rel) + ("/..." if t.endswith("...") else "")
                if str(rel) != "."
                else ("./..." if t.endswith("...") else ".")
            )
    return root, patterns


def render_binaries(console: Console, binaries: list[Binary]) -> None:
    table = Table(title="goslim build", title_justify="left")
    for col in ("binary", "platform", "profile", "size", "sha256"):
        table.add_column(col, justify="right" if col == "size" else "left")
    for b in binaries:
        table.add_row(plain(b.path), str(b.platform), b.profile, human_bytes(b.size), b.sha256[:16])
    console.print(table)


def render_ablation(console: Console, ablation: Ablation) -> None:
    table = Table(
        title=line(f"size ablation: {ablation.package} ({ablation.platform}, {ablation.go_version})"),
        title_justify="left",
    )
    for col in ("technique", "file", "Δ file", ablation.gzip_label, "Δ gzip", ablation.zstd_label, "Δ zstd"):
        table.add_column(col, justify="left" if col == "technique" else "right")
    for r in ablation.rows:
        table.add_row(
            plain(r.technique),
            human_bytes(r.size),
            signed_pct(r.size_change_pct),
            human_bytes(r.gzip_size),
            signed_pct(r.gzip_change_pct),
            human_bytes(r.zstd_size),
            signed_pct(r.zstd_change_pct),
        )
    console.print(table)
    console.print("[dim]Δ = change against the default build of the same package, measured in this run.[/]")
