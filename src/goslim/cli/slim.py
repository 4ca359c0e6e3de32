"""`goslim slim`: the main job — build, analyze, pack, image, verify, scan, sign, report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from goslim import interrupt
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
from goslim.cli.output import human_bytes, line, plain
from goslim.errors import CheckFailedError, ExitStatus, UserInputError

if TYPE_CHECKING:
    from goslim.cli.output import Output
    from goslim.lock import LockFile
    from goslim.platform import Platform
    from goslim.report.models import SlimRun, StageOutcome

STATUS_STYLE = {
    "ok": "green",
    "failed": "red",
    "warned": "yellow",
    "skipped": "dim",
    "not checked": "yellow",
    "cancelled": "yellow",
    "pass": "green",
    "fail": "red",
    "warn": "yellow",
    "skip": "dim",
}


def register(app: typer.Typer) -> None:
    app.command("slim", cls=ContractCommand)(slim)


def slim(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="Go module directory, or package patterns such as ./cmd/... (default: '.')."),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            help="Also write the image here: REGISTRY/REPO:TAG or docker-archive:PATH "
            "(with several services or --shard: a REGISTRY/PREFIX, one repository each)."
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Report and output directory (default: goslim-report/ in the module).")
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(help="static (default), scratch, or an image reference / oci: / docker-archive: path."),
    ] = None,
    upx: Annotated[str | None, typer.Option(help="off, auto, or a level (default, lzma, ...).")] = None,
    platform: Annotated[str | None, typer.Option(
        help="GOOS/GOARCH to build for; a comma list or 'all' makes an image index.")] = None,
    manifest_format: Annotated[str, typer.Option(
        "--manifest-format", help="oci (default) or docker: Docker schema-2 manifests (a Docker manifest "
        "list for several platforms), gzip layers only. A registry that refuses the OCI index gets the "
        "Docker list anyway.")] = "oci",
    db: Annotated[Path | None, typer.Option(help="Go vulnerability database (OSV) directory or zip.")] = None,
    key: Annotated[
        Path | None,
        typer.Option(help="cosign private key: sign the image, attest its verification and SBOM."),
    ] = None,
    reuse_attestation: Annotated[
        bool,
        typer.Option(
            "--reuse-attestation",
            help="Skip the verify run when the image already carries a valid verification attestation "
            "(same digest, contract and check set, signed by --key); with --to REGISTRY, skip build, image, "
            "verify, scan and sign when the registry holds an image made from the same inputs whose "
            "signed verification passed.",
        ),
    ] = False,
    shard: Annotated[
        str | None, typer.Option(help="I/N: only this CI shard's stable slice of the services.")
    ] = None,
    jobs: Annotated[
        int | None, typer.Option(help="Services processed at once (default: the number of cores).")
    ] = None,
    no_ablation: Annotated[
        bool, typer.Option("--no-ablation", help="Skip the per-technique size ablation.")
    ] = False,
    no_compare: Annotated[bool, typer.Option("--no-compare", help="Skip the comparison of bases.")] = False,
    allow_slow_stop: Annotated[
        bool,
        typer.Option("--allow-slow-stop", help="Pass even though the service needed SIGKILL to stop."),
    ] = False,
    redecide: Annotated[
        bool,
        typer.Option("--redecide", help="Measure UPX again even while goslim.lock's decision still holds."),
    ] = False,
    lock: Annotated[
        Path | None,
        typer.Option(help="Lock file of decisions to reuse and record (default: goslim.lock by go.mod)."),
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
    """Build the smallest image that provably works, and write a report of how it got there."""
    # The pipeline and everything it drives load here, not at import: `goslim slim --help` stays quick.
    from goslim.cli.build import resolve_targets  # noqa: PLC0415
    from goslim.config import load_config  # noqa: PLC0415
    from goslim.gobuild import BuildOptions, GoToolchain, plan_build  # noqa: PLC0415
    from goslim.lock import lock_path, read_lock  # noqa: PLC0415
    from goslim.oci import ImageReference  # noqa: PLC0415
    from goslim.pipeline import (  # noqa: PLC0415
        SlimOptions,
        check_writable,
        parse_shard,
        run_many,
        select_shard,
    )

    output = make_output(json_out)
    flags = contract_flags(name, arg, env, port, health, readiness, writable)
    module_dir, patterns = resolve_targets(targets or [])
    config = load_config(module_dir)
    if base:
        config = config.model_copy(update={"image": config.image.model_copy(update={"base": base})})
    the_platform, more_platforms = _slim_platforms(platform, config.build.platforms[0], config.image.base)
    mains = GoToolchain(module_dir).main_packages(
        patterns, env=plan_build(BuildOptions(platform=the_platform)).env
    )
    out_root = (report or module_dir / config.report.dir).resolve()
    check_writable(out_root)
    policy = upx or config.upx.policy
    the_lock_path = lock or lock_path(module_dir)
    # The first `--upx auto` run creates the lock; once it exists every run reads and updates it.
    # A bad lock is one line before any work.
    locked = read_lock(the_lock_path) if policy == "auto" or the_lock_path.exists() else None
    selected = select_shard(sorted(m.import_path for m in mains), parse_shard(shard) if shard else None)
    by_path = {m.import_path: m for m in mains}
    names = {m.import_path: m.name for m in mains}
    dirs = {m.import_path: _relative(m.dir, module_dir) for m in mains}
    # A shard is one slice of many services (CI fan-out): --to is a prefix and each service has its own
    # report folder, also when the pattern matches one main package or the slice holds one.
    several = len(mains) > 1 or shard is not None
    if len(mains) > 1 and flags.name:
        raise UserInputError(
            f"--name {flags.name} would name all {len(mains)} services the same",
            hint="run goslim slim on one main package to name it",
        )
    clashes = sorted({n for n in names.values() if list(names.values()).count(n) > 1})
    if clashes:
        raise UserInputError(
            f"several main packages are named {', '.join(clashes)}; their reports and images would collide",
            hint="run goslim slim on them separately, each with its own --report and --to",
        )

    docker_manifests = _docker_manifests(manifest_format, config.image.compression)

    def options_for(package: str) -> SlimOptions:
        return SlimOptions(
            module_dir=module_dir,
            config=config,
            out_dir=out_root / names[package] if several else out_root,
            package=package,
            package_dir=dirs[package],
            main=by_path[package],
            platform=the_platform,
            more_platforms=more_platforms,
            flags=flags,
            allow_slow_stop=allow_slow_stop,
            ablation=not no_ablation,
            compare=not no_compare,
            upx_policy=policy,
            lock=locked.services.get(package) if locked else None,
            lock_where=str(the_lock_path),
            redecide=redecide,
            to=destination(package),
            mount_from=shared_from(package),
            db=db,
            key=key,
            reuse_attestation=reuse_attestation,
            docker_manifests=docker_manifests,
        )

    def destination(package: str) -> str | None:
        # With several services, --to is a registry prefix: one repository per service.
        return f"{to.rstrip('/')}/{names[package]}:latest" if to and several else to

    def shared_from(package: str) -> tuple[str, ...]:
        """The first service's repository: the others mount the base layers it pushed instead of uploading."""
        first = destination(selected[0]) if selected else None
        if not (several and first) or package == selected[0] or first.startswith(("oci:", "docker-archive:")):
            return ()
        return (ImageReference.parse(first).repository,)

    def on_stage(service: str, outcome: StageOutcome) -> None:
        style = STATUS_STYLE[outcome.status]
        who = f"{names[service]}: " if several else ""
        detail = f" — {outcome.message}" if outcome.message else ""
        output.note(line((f"{outcome.status:>11}", style), " ", who, outcome.stage, " ",
                         (f"{outcome.seconds:.1f}s", "dim"), detail))
        for evidence in outcome.evidence:
            output.note(line("              ", (evidence, "dim")))
        if outcome.status == "failed" and outcome.hint:
            output.note(line("              ", ("hint:", "cyan"), " ", outcome.hint))

    if not selected:
        output.note(f"shard {shard} holds none of the {len(mains)} services")
    with output.progress("goslim slim"):
        runs = run_many([options_for(p) for p in selected], jobs or os.cpu_count() or 1, on_stage)
    if locked is not None and interrupt.requested() is None:  # an interrupted run decided nothing whole
        _record_lock(locked, runs, the_lock_path, output)
    if several or shard:
        output.emit(runs, lambda c: render_services(c, runs))
    else:
        output.emit(runs[0], lambda c: render_summary(c, runs[0]))
    if (signum := interrupt.requested()) is not None:
        where = runs[0].outputs.get("report (html)", str(out_root)) if len(runs) == 1 else str(out_root)
        raise interrupt.Interrupted(signum, hint=f"the report says which stages ran: {where}")
    worst = max((r.exit_status for r in runs), default=0)
    if worst != ExitStatus.OK:
        failed = [f"{r.package}: {_what_failed(r)}" for r in runs if r.exit_status != ExitStatus.OK]
        where = runs[0].outputs.get("report (html)", str(out_root)) if len(runs) == 1 else str(out_root)
        error = CheckFailedError(
            f"goslim slim did not pass: {'; '.join(failed)}", hint=f"the report says why: {where}"
        )
        error.exit_status = ExitStatus(worst)
        raise error


def _record_lock(locked: LockFile, runs: list[SlimRun], path: Path, output: Output) -> None:
    """Write every service's decision into the lock at once; untouched when nothing changed."""
    from goslim.lock import write_lock  # noqa: PLC0415
    for run in runs:
        if run.lock is not None and (run.lock.upx or run.lock.k8s):
            locked = locked.with_service(run.package, run.lock)
    if write_lock(path, locked):
        output.note(line(("wrote", "bold"), f" {path}: the decisions of this run, to commit"))


def _what_failed(run: SlimRun) -> str:
    return ", ".join(run.what_failed()) or "policy"


def _relative(package_dir: Path, module_dir: Path) -> str:
    """./cmd/NAME for a main package inside the module, '.' for the module root."""
    try:
        rel = package_dir.resolve().relative_to(module_dir.resolve())
    except ValueError:
        return str(package_dir)
    return "." if str(rel) == "." else f"./{rel}"


def render_services(console: Console, runs: list[SlimRun]) -> None:
    table = Table(title=f"goslim slim: {len(runs)} services", title_justify="left")
    for col in ("service", "result", "image pull", "checks", "seconds", "report"):
        table.add_column(col, justify="right" if col in ("image pull", "seconds") else "left")
    for r in runs:
        pull = next((j.size for j in r.journey if j.what == "image pull"), 0)
        checks = (
            "-"
            if r.checklist is None
            else ", ".join(f"{n} {k}" for k, n in r.checklist.counts().items() if n)
        )
        result = "[green]ok[/]" if r.exit_status == 0 else f"[red]exit {r.exit_status}[/]"
        table.add_row(
            plain(r.package),
            result,
            human_bytes(pull) if pull else "-",
            checks,
            f"{r.seconds:.1f}",
            plain(r.outputs.get("report (html)", "")),
        )
    console.print(table)


def render_summary(console: Console, run: SlimRun) -> None:
    from goslim.cli.causes import render_causes  # noqa: PLC0415
    if run.journey:
        table = Table(title="size journey", title_justify="left")
        for col in ("step", "what", "size", "vs default"):
            table.add_column(col, justify="left" if col in ("step", "what") else "right")
        first = run.journey[0].size
        for j in run.journey:
            table.add_row(plain(j.label), plain(j.what), human_bytes(j.size), f"{j.size / first:.3f}x")
        console.print(table)
    if run.checklist:
        table = Table(title=line(f"checklist ({run.checklist.runtime})"), title_justify="left")
        for col in ("check", "result", "summary"):
            table.add_column(col)
        for r in run.checklist.results:
            style = STATUS_STYLE[r.status.value]
            table.add_row(plain(r.title), f"[{style}]{r.status.value}[/]", plain(r.summary))
        console.print(table)
        render_causes(console, run.checklist)  # the log line that explains it, and the fix
    if run.analysis and run.analysis.findings:
        console.print("[bold]findings[/]")
        for f in run.analysis.findings:
            console.print(line(f"  {f.severity:>6}  ", f.kind, ": ", f.message), highlight=False)
    if run.claims:
        table = Table(title="guide claims, measured on this binary", title_justify="left")
        for col in ("claim", "verdict", "measured"):
            table.add_column(col)
        for c in run.claims:
            table.add_row(plain(c.claim), plain(c.verdict), plain(c.measured))
        console.print(table)
    if run.contract:
        console.print("[bold]run contract[/] (where each value came from)")
        for described in run.contract.describe():
            console.print(line("  ", described), highlight=False)
    for what, path in run.outputs.items():
        console.print(line((what, "bold"), ": ", path), highlight=False)


def _slim_platforms(text: str | None, default: str, base: str) -> tuple[Platform, tuple[Platform, ...]]:
    """(the platform the whole pipeline runs on, the index's other platforms): this machine's first."""
    from goslim.image.platforms import requested_platforms  # noqa: PLC0415
    from goslim.oci.layout import default_platform  # noqa: PLC0415
    from goslim.platform import Platform  # noqa: PLC0415

    if text is None or ("," not in text and text.strip() != "all"):
        return Platform.parse(text or default), ()
    platforms = requested_platforms(text, base)
    here = default_platform()
    first = next((p for p in platforms if p.matches(here) or here.matches(p)), platforms[0])
    return first, tuple(p for p in platforms if p is not first)


def _docker_manifests(manifest_format: str, compression: str) -> bool:
    """--manifest-format: whether the image goes out as Docker schema 2 (refused with zstd layers)."""
    if manifest_format not in ("oci", "docker"):
        raise UserInputError(f"unknown --manifest-format '{manifest_format}'", hint="use oci or docker")
    if manifest_format == "docker" and compression != "gzip":
        raise UserInputError("--manifest-format docker takes gzip layers only: Docker schema 2 has no zstd",
                             hint="set image.compression: gzip in goslim.yaml, or write the OCI format")
    return manifest_format == "docker"
