"""`goslim upx`: pack a binary at each UPX level, measure what it saves and costs, and decide."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from goslim.binary import BinaryReport, NotElfError, analyze
from goslim.cli.contract_options import (
    ArgOpt,
    ContractCommand,
    EnvOpt,
    HealthOpt,
    PortOpt,
    ReadinessOpt,
    contract_flags,
)
from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import human_bytes, line, plain, signed_pct
from goslim.config import GoslimConfig, load_config, parse_config
from goslim.contract_resolve import ContractFlags, resolve_contract, start_probe
from goslim.errors import CheckFailedError, UserInputError
from goslim.fsutil import copy_atomic
from goslim.gobuild.models import Binary
from goslim.platform import Platform
from goslim.probe import ProbeSpec
from goslim.upx import LEVEL_FLAGS, Budget, UpxReport, evaluate, parse_levels

SEVERITY_STYLE = {"info": "dim", "warn": "yellow", "block": "bold red"}


def register(app: typer.Typer) -> None:
    app.command("upx", cls=ContractCommand)(upx)


def upx(
    binary: Annotated[Path, typer.Argument(help="The Go binary to evaluate; it is never modified.")],
    level: Annotated[
        str,
        typer.Option(
            help="auto (goslim.yaml upx.levels, then decide), all (default,best,lzma,best-lzma), "
            f"or one or more of: {', '.join(LEVEL_FLAGS)} (comma-separated)."
        ),
    ] = "auto",
    arg: ArgOpt = None,
    env: EnvOpt = None,
    port: PortOpt = None,
    health: HealthOpt = None,
    readiness: ReadinessOpt = None,
    out: Annotated[Path | None, typer.Option(help="Write the chosen packed binary here.")] = None,
    repetitions: Annotated[
        int, typer.Option("--reps", min=1, max=50, help="Least rounds per variant (more while unclear).")
    ] = 5,
    max_startup_ms: Annotated[
        float | None,
        typer.Option(help="Budget: most start-up cost accepted (goslim.yaml upx.max_startup_ms)."),
    ] = None,
    min_pull_saving: Annotated[
        float | None,
        typer.Option(help="Budget: least pull saving accepted, % (goslim.yaml upx.min_pull_saving_pct)."),
    ] = None,
    compression: Annotated[
        str, typer.Option(help="Layer compression the pull saving is counted in: gzip or zstd.")
    ] = "gzip",
    config: Annotated[
        Path | None, typer.Option(help="goslim.yaml to read (default: ./goslim.yaml when present).")
    ] = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Pack BINARY with UPX per level, measure pull size, start-up and memory, and pick one (or none)."""
    output = make_output(json_out)
    settings = _load(config)
    if compression not in ("gzip", "zstd"):
        raise UserInputError(f"unknown compression '{compression}'", hint="use gzip or zstd")
    levels = parse_levels(level, tuple(settings.upx.levels))
    policy = levels[0] if level not in ("auto", "all") and len(levels) == 1 else "auto"
    budget = Budget.from_config(settings.upx, _compression(compression)).model_copy(
        update={
            k: v
            for k, v in (("max_startup_ms", max_startup_ms), ("min_pull_saving_pct", min_pull_saving))
            if v is not None
        }
    )
    flags = contract_flags(None, arg, env, port, health, readiness, None)
    contract = resolve_contract(flags, settings.service)
    probe = _probe(flags, settings)
    if out is not None and out.is_dir():
        raise UserInputError(f"--out {out} is a directory", hint="give a file path, e.g. dist/app.upx")
    target = describe_binary(binary)
    with tempfile.TemporaryDirectory(prefix="goslim-upx-") as work, output.progress("upx") as step:
        report = evaluate(
            target,
            levels,
            probe,
            budget,
            policy=policy,
            work_dir=Path(work),
            env=contract.env,
            args=contract.args,
            repetitions=repetitions,
            progress=step,
        )
        if out is not None and report.decision.binary is not None:
            _write(report.decision.binary.path, out)
            shipped = Binary.from_file(
                out, **report.decision.binary.model_dump(exclude={"path", "sha256", "size"})
            )
            report = report.model_copy(
                update={"decision": report.decision.model_copy(update={"binary": shipped})}
            )
    output.emit(report, lambda c: render(c, report, out))
    if policy != "auto" and report.decision.level is None:
        raise CheckFailedError(
            report.decision.reason, hint="see the table above; leave it unpacked (--upx off)"
        )


def _write(src: Path, out: Path) -> None:
    try:
        copy_atomic(src, out)
    except OSError as exc:
        raise UserInputError(
            f"cannot write {out}: {exc.strerror}", hint="choose a writable --out path"
        ) from exc


def describe_binary(path: Path) -> Binary:
    """A Binary for a file given on the command line; build facts are read from the file itself."""
    if not path.is_file():
        raise UserInputError(f"{path}: no such file", hint="give the path of a built Go binary")
    path = path.resolve()
    try:
        report: BinaryReport | None = analyze(path, top=0, unpack=False)
    except NotElfError:
        report = None  # check_packable refuses it with the reason
    info = report.build_info if report else None
    go_version, package = (info.go_version, info.path) if info else ("unknown", "")
    arch = (report.elf.goarch or report.elf.machine) if report else "unknown"
    return Binary.from_file(
        path,
        name=path.name,
        package=package,
        module_dir=path.parent,
        platform=Platform(os="linux", architecture=arch),
        profile="unknown",
        go_version=go_version,
        env={},
        flags=[],
    )


def _load(config: Path | None) -> GoslimConfig:
    if config is None:
        return load_config(Path.cwd())
    if not config.is_file():
        raise UserInputError(f"{config}: no such file", hint="give the path of a goslim.yaml")
    return parse_config(config.read_text(), where=str(config))


def _compression(name: str) -> Literal["gzip", "zstd"]:
    return "zstd" if name == "zstd" else "gzip"


def _cost(cost_ms: float | None, spread_ms: float | None) -> str:
    if cost_ms is None:
        return ""
    return f"{cost_ms:+.0f}" + (f" ± {spread_ms:.0f}" if spread_ms is not None else "")


def _probe(flags: ContractFlags, settings: GoslimConfig) -> ProbeSpec | None:
    """The run contract's ready probe (flags, then goslim.yaml's service section)."""
    probe = start_probe(resolve_contract(flags, settings.service))
    if probe is None and (flags.health or flags.readiness):
        raise UserInputError("--health needs --port", hint="give the port the binary listens on")
    return probe


def render(console: Console, report: UpxReport, out: Path | None) -> None:
    b = report.binary
    console.print(
        line(
            ("goslim upx", "bold"),
            f" {b.path.name} ({human_bytes(b.size)}, {b.platform}, {b.go_version}) "
            f"· UPX {report.upx_version} · {report.repetitions} rounds per variant, medians",
        )
    )
    sizes = _table("size and pull (MiB; Δ against unpacked)")
    for col in ("level", "file", "Δ", "gzip", "Δ", "zstd", "Δ", "pack", "upx -t"):
        sizes.add_column(col, justify="left" if col in ("level", "upx -t") else "right", no_wrap=True)
    for r in report.rows:
        sizes.add_row(
            r.level,
            _mib(r.size),
            signed_pct(r.size_change_pct) if r.packed else "",
            _mib(r.layer_gzip),
            signed_pct(r.gzip_change_pct) if r.packed else "",
            _mib(r.layer_zstd),
            signed_pct(r.zstd_change_pct) if r.packed else "",
            f"{r.pack_seconds:.1f}s" if r.pack_seconds is not None else "",
            ("ok" if r.upx_test else "[red]FAILED[/]") if r.packed else "",
        )
    console.print(sizes)
    cost = _table("start-up and ready (ms), RssAnon/RssFile at ready (MiB), checks")
    for col in ("level", "start", "cost", "ready", "anon", "file", "big env", "W^X", "scan"):
        cost.add_column(
            col, justify="left" if col in ("level", "big env", "W^X", "scan") else "right", no_wrap=True
        )
    for r in report.rows:
        cost.add_row(
            r.level,
            _ms(r.startup_ms),
            _cost(r.startup_cost_ms, r.startup_spread_ms),
            _ms(r.ready_ms) if r.ready_ok else "[red]not ready[/]",
            _mib(r.memory.anon_kib * 1024) if r.memory else "",
            _mib(r.memory.file_kib * 1024) if r.memory else "",
            "ok" if r.large_env_ok else plain(_short(r.large_env_detail), "red"),
            plain(_short(r.write_exec_denied) or "not tried"),
            "ok" if r.build_info_readable else "[yellow]hidden[/]",
        )
    console.print(cost)
    console.print(plain(f"start: {report.startup_method}; ready: {report.ready_method}", "dim"))
    console.print(
        plain(
            f"cost: median of paired differences over {report.repetitions} rounds "
            "± half-width of its 90% confidence interval",
            "dim",
        )
    )
    console.print(
        "[dim]big env: run with a large environment; W^X: run with memory-deny-write-execute; "
        "scan: Go build info readable by scanners[/]"
    )
    console.print(plain(f"pull size: {report.size_method}", "dim"))
    # Risks, problems and reasons quote upx's output and the binary: shown as text, never markup.
    for risk in report.risks:
        style = SEVERITY_STYLE[risk.severity]
        console.print(line((f"{risk.severity:5}", style), f" {risk.name}: ", risk.summary))
        for evidence in risk.evidence:
            console.print(line("        ", (f"· {evidence}", "dim")))
    for r in report.rows:
        for problem in r.problems:
            console.print(line(("problem", "bold red"), f" {r.level}: ", problem))
    chosen = report.decision.level
    verdict = (chosen, "bold green") if chosen else ("none", "bold")
    console.print(line(f"decision ({report.decision.policy}): ", verdict, " — ", report.decision.reason))
    if out is not None:
        if report.decision.binary is not None:
            console.print(line(f"wrote {out} ({human_bytes(report.decision.binary.size)}, upx -t passed)"))
        else:
            console.print(plain(f"nothing written to {out}: no level was chosen", "dim"))


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)


def _ms(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "n/a"


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.2f}"


def _short(detail: str) -> str:
    """'exit 0' -> 'ok', 'killed by SIGSEGV' -> 'SIGSEGV': table cells stay narrow; risks carry the words."""
    if detail == "exit 0" or detail.startswith("ready"):
        return "ok"
    return detail.removeprefix("killed by ")
