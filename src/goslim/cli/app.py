"""The `goslim` command: registers one module per command and holds the one error boundary."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

import click
import typer
from typer.core import TyperGroup

from goslim import __version__, interrupt
from goslim.errors import ExitStatus, GoslimError, ToolError

if TYPE_CHECKING:
    from rich.text import Text

    from goslim.cli.output import SafeConsole

# Command -> (module whose register(app) adds it, the line `goslim --help` shows for it).
# A module is imported only when its command runs or prints its own help, so `goslim --help`
# pays for none of them; tests/unit/test_cli_lazy.py checks each line against the command's docstring.
COMMANDS: dict[str, tuple[str, str]] = {
    "slim": (
        "goslim.cli.slim",
        "Build the smallest image that provably works, and write a report of how it got there.",
    ),
    "build": (
        "goslim.cli.build",
        'Build Go main packages (slim: CGO_ENABLED=0 -trimpath -ldflags "-s -w -buildid=").',
    ),
    "dockerfile": (
        "goslim.cli.dockerfile",
        "Write a Dockerfile (BuildKit cache mounts, slim flags, nonroot, exec ENTRYPOINT) and .dockerignore.",
    ),
    "lint": (
        "goslim.cli.lint",
        "Check a Dockerfile: cache-busting layers, root user, shell-form ENTRYPOINT, cgo on scratch, more.",
    ),
    "k8s": (
        "goslim.cli.k8s",
        "Kubernetes manifests with proven probes, a measured grace period and a locked-down securityContext.",
    ),
    "ci": (
        "goslim.cli.ci",
        "A GitHub Actions workflow or GitLab CI pipeline: install goslim, run `goslim slim`, "
        "keep the report.",
    ),
    "image": (
        "goslim.cli.image",
        "Build (slim profile) or take a binary, put it on a base that carries what it needs, "
        "write the image.",
    ),
    "inspect": (
        "goslim.cli.inspect",
        "Show an image's digest, platform, size, layers and runtime config (registries: no layer download).",
    ),
    "compare": (
        "goslim.cli.compare",
        "The same service on each base: pull size, disk size, layers, files, and whether it starts.",
    ),
    "analyze": (
        "goslim.cli.analyze",
        "Analyze a binary: ELF facts, Go build info, size by package, run-time needs, findings.",
    ),
    "scan": (
        "goslim.cli.scan",
        "Scan a Go binary or image: vulnerabilities (OSV), SBOMs (CycloneDX 1.6, SPDX 2.3), SARIF.",
    ),
    "keygen": (
        "goslim.cli.sign",
        "Make an ECDSA P-256 key pair in cosign's format (cosign.key encrypted, cosign.pub).",
    ),
    "sign": (
        "goslim.cli.sign",
        "Sign an image by digest; the signature is stored as cosign stores it (sha256-<hex>.sig).",
    ),
    "verify-signature": (
        "goslim.cli.sign",
        "Verify an image's cosign signatures with a public key (exit 1 when none matches).",
    ),
    "sign-blob": (
        "goslim.cli.sign",
        "Detached signature for a file: writes FILE.sig (as `cosign sign-blob`) and FILE.sha256.",
    ),
    "verify-blob": (
        "goslim.cli.sign",
        "Verify a file against FILE.sha256 and its detached signature.",
    ),
    "attest": (
        "goslim.cli.attest",
        "Attach a signed attestation (in-toto statement in a DSSE envelope) as `cosign attest` does.",
    ),
    "verify-attestation": (
        "goslim.cli.attest",
        "Check an image's attestation offline with a public key; print the checklist a goslim one carries.",
    ),
    "upx": (
        "goslim.cli.upx",
        "Pack BINARY with UPX per level, measure pull size, start-up and memory, and pick one (or none).",
    ),
    "verify": (
        "goslim.cli.verify",
        "Run the image under runc and check it starts, logs, answers probes, stops on SIGTERM, and more.",
    ),
    "report": (
        "goslim.cli.report",
        "Work with goslim reports.",
    ),
}


def load_command(name: str) -> click.Command:
    """Import the module of command ``name`` and build its click command (as typer would)."""
    module_name, _help = COMMANDS[name]
    module = importlib.import_module(module_name)
    holder = typer.Typer()
    module.register(holder)
    info = next((c for c in holder.registered_commands if c.name == name), None)
    if info is not None:
        return typer.main.get_command_from_info(info, pretty_exceptions_short=False, rich_markup_mode="rich")
    group = next(g for g in holder.registered_groups if g.name == name)  # `goslim report merge`
    return typer.main.get_group_from_info(
        group, pretty_exceptions_short=False, suggest_commands=True, rich_markup_mode="rich"
    )


class LazyGroup(TyperGroup):
    """The root group: lists every command from COMMANDS and imports one only to run it or show its help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        # Listing for `goslim --help`: the line alone, no import.
        return click.Command(cmd_name, help=COMMANDS[cmd_name][1], short_help=COMMANDS[cmd_name][1])

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else None
        if name in COMMANDS and name not in self.commands:
            self.commands[name] = load_command(name)
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="goslim",
    cls=LazyGroup,
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


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map GoslimErrors to one line on stderr and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("GOSLIM_DEBUG") == "1"
    # SIGINT and SIGTERM: the first stops the work, cleanup always finishes (goslim.interrupt).
    restore_signals = interrupt.install()
    try:
        # Standalone mode lets click print usage errors (exit 2); our errors pass through it.
        app(args=args, prog_name="goslim", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except interrupt.Interrupted as stop:
        # Not a GoslimError (stages must not catch it), so click does not print "Aborted!" either.
        err, line = _error_output()
        err.print(line(("error:", "bold red"), " ", str(stop), "; cleanup finished"), highlight=False)
        if stop.hint:
            err.print(line("  ", ("hint:", "cyan"), " ", stop.hint), highlight=False)
        return int(stop.exit_status)
    except GoslimError as exc:
        if debug:
            traceback.print_exc()
        # Messages quote image names, config values and tools' stderr: shown as text, never markup.
        err, line = _error_output()
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


def _error_output() -> tuple[SafeConsole, Callable[..., Text]]:
    """stderr's console and the line builder: imported on the error path only (rich is not cheap)."""
    from goslim.cli.output import line, safe_console  # noqa: PLC0415

    return safe_console(stderr=True), line


if __name__ == "__main__":
    raise SystemExit(main())
