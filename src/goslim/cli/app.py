"""The `goslim` command: registers one module per command and holds the one error boundary."""

from __future__ import annotations

import os
import sys
import traceback

import typer

from goslim import __version__, interrupt
from goslim.cli import analyze as analyze_cmd
from goslim.cli import attest as attest_cmd
from goslim.cli import build as build_cmd
from goslim.cli import ci as ci_cmd
from goslim.cli import compare as compare_cmd
from goslim.cli import dockerfile as dockerfile_cmd
from goslim.cli import image as image_cmd
from goslim.cli import inspect as inspect_cmd
from goslim.cli import k8s as k8s_cmd
from goslim.cli import lint as lint_cmd
from goslim.cli import report as report_cmd
from goslim.cli import scan as scan_cmd
from goslim.cli import sign as sign_cmd
from goslim.cli import slim as slim_cmd
from goslim.cli import upx as upx_cmd
from goslim.cli import verify as verify_cmd
from goslim.cli.output import line, safe_console
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
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """goslim: build, analyze, pack, image, verify, scan and sign Go services."""


slim_cmd.register(app)
build_cmd.register(app)
dockerfile_cmd.register(app)
lint_cmd.register(app)
k8s_cmd.register(app)
ci_cmd.register(app)
image_cmd.register(app)
inspect_cmd.register(app)
compare_cmd.register(app)
analyze_cmd.register(app)
scan_cmd.register(app)
sign_cmd.register(app)
attest_cmd.register(app)
upx_cmd.register(app)
verify_cmd.register(app)
report_cmd.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map GoslimErrors to one line on stderr and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("GOSLIM_DEBUG") == "1"
    err = safe_console(stderr=True)
    # SIGINT and SIGTERM: the first stops the work, cleanup always finishes (goslim.interrupt).
    restore_signals = interrupt.install()
    try:
        # Standalone mode lets click print usage errors (exit 2); our errors pass through it.
        app(args=args, prog_name="goslim", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except interrupt.Interrupted as stop:
        # Not a GoslimError (stages must not catch it), so click does not print "Aborted!" either.
        err.print(line(("error:", "bold red"), " ", str(stop), "; cleanup finished"), highlight=False)
        if stop.hint:
            err.print(line("  ", ("hint:", "cyan"), " ", stop.hint), highlight=False)
        return int(stop.exit_status)
    except GoslimError as exc:
        if debug:
            traceback.print_exc()
        # Messages quote image names, config values and tools' stderr: shown as text, never markup.
        err.print(line(("error:", "bold red"), " ", exc.one_line()), highlight=False)
        if isinstance(exc, ToolError) and exc.stderr_tail:
            for tail in exc.stderr_tail.splitlines():
                err.print(line("  ", (f"{exc.tool}:", "dim"), " ", tail), highlight=False)
        if exc.hint:
            err.print(line("  ", ("hint:", "cyan"), " ", exc.hint), highlight=False)
        return int(exc.exit_status)
    finally:
        restore_signals()
    return int(ExitStatus.OK)


if __name__ == "__main__":
    raise SystemExit(main())
