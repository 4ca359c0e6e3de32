"""`goslim analyze`: what is inside a Go binary, what it needs at run time, and what it leaks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from goslim.binary import BinaryReport, analyze
from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import human_bytes, line, plain
from goslim.errors import ExitStatus, GoslimError


class NotGoReportError(GoslimError):
    """The report was printed, but the file is not a Go binary (exit 2)."""


class PackedUnreadableError(GoslimError):
    """The report was printed, but the file is UPX-packed and upx could not unpack it (exit 3)."""

    exit_status = ExitStatus.TOOL_FAILED


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze_cmd)


def analyze_cmd(
    binary: Annotated[Path, typer.Argument(help="The ELF executable to analyze.")],
    top: Annotated[int, typer.Option("--top", min=0, help="How many packages to list by size.")] = 20,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Analyze a binary: ELF facts, Go build info, size by package, run-time needs, findings.

    Exit: 0 Go binary; 2 bad input or a non-Go ELF (its facts still printed); 3 UPX-packed, not unpackable.
    """
    output = make_output(json_out)
    with output.progress(f"analyzing {binary.name}"):
        report = analyze(binary, top=top)
    output.emit(report, lambda c: render_report(c, report))
    if not report.is_go:
        if report.upx_packed and not report.analyzed_unpacked_copy:
            raise PackedUnreadableError(
                f"{binary} is UPX-packed and could not be unpacked to look inside",
                hint="install upx (scripts/setup.sh) so goslim can analyze a `upx -d` copy; see the notes",
            )
        raise NotGoReportError(
            f"{binary} is an ELF file but not a Go binary",
            hint="goslim slims Go programs; build one with the Go toolchain",
        )


def render_report(console: Console, r: BinaryReport) -> None:
    e = r.elf
    bi = r.build_info
    kind = "static" if e.static else f"dynamic ({e.libc or 'unknown libc'})"
    # Every string below was read out of the binary (build info, ELF names, symbols): text, never markup.
    console.print(line((str(r.path), "bold"), f"  {human_bytes(r.size)}  sha256 {r.sha256[:16]}…"),
                  highlight=False)
    console.print(line(
        f"ELF{e.elf_class} {e.machine} ({e.goarch or '?'}), {kind}, {'PIE' if e.pie else 'not PIE'}, "
        f"{'stripped' if e.stripped else 'symbols'}, DWARF {human_bytes(e.dwarf_bytes)}"),
        highlight=False,
    )
    if e.interpreter:
        libraries = ", ".join(e.needed) or "-"
        console.print(line(f"loader {e.interpreter}; libraries: {libraries}"), highlight=False)
    if bi is not None:
        main = bi.main.path or "-"
        console.print(
            line(f"{bi.go_version}  {bi.path}  (module {main} {bi.main.version}, {len(bi.deps)} deps)"),
            highlight=False,
        )
        keys = ("CGO_ENABLED", "GOOS", "GOARCH", "-trimpath", "-tags", "-ldflags", "vcs.revision")
        shown = [f"{k}={bi.settings[k]}" for k in keys if k in bi.settings]
        if shown:
            console.print(line("build " + "  ".join(shown)), highlight=False)
    for note in r.notes:
        console.print(line(("note:", "yellow"), " ", note), highlight=False)

    if r.packages:
        t = Table(title=f"code by package ({r.function_count} functions)", title_justify="left")
        for col in ("package", "module", "functions", "size", "% of file"):
            left = col in ("package", "module")
            t.add_column(col, justify="left" if left else "right", overflow="fold" if left else "ellipsis")
        for p in r.packages:
            t.add_row(
                plain(p.package),
                plain(p.module),
                str(p.functions),
                human_bytes(p.size),
                f"{100 * p.size / r_total(r):.1f}%",
            )
        console.print(t)
    t = Table(title="the rest of the file, by section", title_justify="left")
    for col in ("section", "kind", "size", "% of file"):
        t.add_column(col, justify="left" if col in ("section", "kind") else "right")
    for s in r.sections:
        t.add_row(plain(s.name), plain(s.kind), human_bytes(s.size), f"{100 * s.size / r_total(r):.1f}%")
    console.print(t)

    t = Table(title="run-time needs", title_justify="left")
    for col in ("need", "", "why"):
        t.add_column(col)
    for name, need in r.needs:
        mark = {"needed": "[bold red]yes[/]", "carried": "[green]carried[/]"}.get(need.answer, "[green]no[/]")
        proof = (f" ({', '.join(need.evidence[:3])})", "dim") if need.evidence else ""
        t.add_row(plain(name), mark, line(need.detail, proof))
    console.print(t)

    if r.findings:
        console.print("[bold]findings[/]")
        colors = {"high": "bold red", "medium": "red", "low": "yellow", "info": "cyan"}
        for f in r.findings:
            cost = f" ({human_bytes(f.bytes)})" if f.bytes else ""
            console.print(
                line("  ", (f.severity, colors[f.severity]), f" {f.kind}: ", f.message, cost), highlight=False
            )
            for ev in f.evidence[:5]:
                console.print(line("      ", (ev, "dim")), highlight=False)
    else:
        console.print("[green]no findings[/]")


def r_total(r: BinaryReport) -> int:
    return max(r.unpacked_size or r.size, 1)
