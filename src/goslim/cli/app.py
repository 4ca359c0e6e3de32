"""The `goslim` command: registers one module per command and holds the one error boundary."""

from __future__ import annotations

import os
import sys
import traceback

import click
import typer
from rich.console import Console
from rich.markup import escape

from goslim import __version__
from goslim.cli import analyze as analyze_cmd
from goslim.cli import build as build_cmd
from goslim.errors import ExitStatus, GoslimError, ToolError

app = typer.Typer(
    name="goslim",
    help="Turn a Go service into the smallest container image that provably works, and show the work.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"goslim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """goslim: build, analyze, pack, image, verify, scan and sign Go services."""


build_cmd.register(app)
analyze_cmd.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map GoslimErrors to one line on stderr and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("GOSLIM_DEBUG") == "1"
    err = Console(stderr=True, soft_wrap=True)
    try:
        app(args=args, prog_name="goslim", standalone_mode=False)
    except GoslimError as exc:
        if debug:
            traceback.print_exc()
        err.print(f"[bold red]error:[/] {escape(exc.one_line())}", highlight=False)
        if isinstance(exc, ToolError) and exc.stderr_tail:
            for line in exc.stderr_tail.splitlines():
                err.print(f"  [dim]{exc.tool}:[/] {escape(line)}", highlight=False)
        if exc.hint:
            err.print(f"  [cyan]hint:[/] {escape(exc.hint)}", highlight=False)
        return int(exc.exit_status)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        err.print("[bold red]interrupted[/]")
        return int(ExitStatus.INTERRUPTED)
    except KeyboardInterrupt:
        err.print("[bold red]interrupted[/]: earlier output is left as it was")
        return int(ExitStatus.INTERRUPTED)
    except click.exceptions.ClickException as exc:
        exc.show()
        return int(ExitStatus.BAD_INPUT)
    return int(ExitStatus.OK)


if __name__ == "__main__":
    raise SystemExit(main())
