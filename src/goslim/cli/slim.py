"""`goslim slim`: the main job — build, analyze, pack, image, verify, scan, sign, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from goslim.cli.build import resolve_targets
from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import human_bytes
from goslim.config import load_config
from goslim.errors import CheckFailedError, ExitStatus
from goslim.pipeline import SlimOptions, run_slim
from goslim.platform import Platform
from goslim.report.models import SlimRun, StageOutcome

STATUS_STYLE = {"ok": "green", "failed": "red", "skipped": "dim", "pass": "green", "fail": "red",
                "warn": "yellow", "skip": "dim"}


def register(app: typer.Typer) -> None:
    app.command("slim")(slim)


def slim(
    target: Annotated[str | None, typer.Argument(help="Go module directory or package (default: '.').")] = None,
    to: Annotated[str | None, typer.Option(help="Also write the image here: REGISTRY/REPO:TAG or docker-archive:PATH.")] = None,
    report: Annotated[Path | None, typer.Option(help="Report and output directory (default: goslim-report/ in the module).")] = None,
    base: Annotated[str | None, typer.Option(help="static (default), scratch, or an image reference / oci: / docker-archive: path.")] = None,
    upx: Annotated[str | None, typer.Option(help="off, auto, or a level (default, lzma, ...).")] = None,
    platform: Annotated[str | None, typer.Option(help="GOOS/GOARCH to build for.")] = None,
    db: Annotated[Path | None, typer.Option(help="Go vulnerability database (OSV) directory or zip.")] = None,
    key: Annotated[Path | None, typer.Option(help="cosign private key to sign the image with.")] = None,
    no_ablation: Annotated[bool, typer.Option("--no-ablation", help="Skip the per-technique size ablation.")] = False,
    no_compare: Annotated[bool, typer.Option("--no-compare", help="Skip the comparison of bases.")] = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Build the smallest image that provably works, and write a report of how it got there."""
    output = make_output(json_out)
    module_dir, patterns = resolve_targets([target] if target else [])
    config = load_config(module_dir)
    image_cfg = config.image.model_copy(update={"base": base}) if base else config.image
    config = config.model_copy(update={"image": image_cfg})
    opts = SlimOptions(
        module_dir=module_dir,
        config=config,
        out_dir=(report or module_dir / config.report.dir).resolve(),
        package=patterns[0],
        platform=Platform.parse(platform or config.build.platforms[0]),
        ablation=not no_ablation,
        compare=not no_compare,
        upx_policy=upx or config.upx.policy,
        to=to,
        db=db,
        key=key,
    )

    def on_stage(outcome: StageOutcome) -> None:
        style = STATUS_STYLE[outcome.status]
        detail = f" — {outcome.message}" if outcome.message else ""
        output.note(f"[{style}]{outcome.status:>7}[/] {outcome.stage} [dim]{outcome.seconds:.1f}s[/]{detail}")

    with output.progress("goslim slim"):
        run = run_slim(opts, on_stage=on_stage)
    output.emit(run, lambda c: render_summary(c, run))
    if run.exit_status != ExitStatus.OK:
        failed = [s.stage for s in run.failed_stages]
        if run.checklist is not None and not run.checklist.ok:
            failed.append("verify: " + ", ".join(r.id for r in run.checklist.failed))
        error = CheckFailedError(f"goslim slim did not pass: {'; '.join(failed)}",
                                 hint=f"the report says why: {run.outputs.get('report (html)', '')}")
        error.exit_status = ExitStatus(run.exit_status)
        raise error


def render_summary(console: Console, run: SlimRun) -> None:
    if run.journey:
        table = Table(title="size journey", title_justify="left")
        for col in ("step", "what", "size", "vs default"):
            table.add_column(col, justify="left" if col in ("step", "what") else "right")
        first = run.journey[0].size
        for j in run.journey:
            table.add_row(j.label, j.what, human_bytes(j.size), f"{j.size / first:.3f}x")
        console.print(table)
    if run.checklist:
        table = Table(title=f"checklist ({run.checklist.runtime})", title_justify="left")
        for col in ("check", "result", "summary"):
            table.add_column(col)
        for r in run.checklist.results:
            style = STATUS_STYLE[r.status.value]
            table.add_row(r.title, f"[{style}]{r.status.value}[/]", r.summary)
        console.print(table)
    if run.analysis and run.analysis.findings:
        console.print("[bold]findings[/]")
        for f in run.analysis.findings:
            console.print(f"  {f.severity:>6}  {f.kind}: {f.message}", highlight=False)
    if run.claims:
        table = Table(title="guide claims, measured on this binary", title_justify="left")
        for col in ("claim", "verdict", "measured"):
            table.add_column(col)
        for c in run.claims:
            table.add_row(c.claim, c.verdict, c.measured)
        console.print(table)
    for what, path in run.outputs.items():
        console.print(f"[bold]{what}[/]: {path}", highlight=False)
