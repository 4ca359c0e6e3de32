"""`goslim ci github|gitlab`: print (or write) a CI file that runs `goslim slim` and keeps the report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from goslim.ci_templates import TEMPLATES, render_ci
from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import line
from goslim.config import load_config
from goslim.errors import UserInputError
from goslim.fsutil import write_output


def register(app: typer.Typer) -> None:
    app.command("ci")(ci)


def ci(
    system: Annotated[str, typer.Argument(help="github or gitlab.")],
    module: Annotated[
        str, typer.Option(help="The Go module's folder, relative to the repository root.")
    ] = ".",
    pip_spec: Annotated[str, typer.Option(help="How CI installs goslim (pip requirement).")] = "goslim",
    out: Annotated[Path | None, typer.Option(help="Write the file here instead of printing it.")] = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """A GitHub Actions workflow or GitLab CI job: install goslim, run `goslim slim`, keep the report."""
    if system not in TEMPLATES:
        raise UserInputError(f"unknown CI system '{system}'", hint=f"use one of: {', '.join(TEMPLATES)}")
    output = make_output(json_out)
    module_path = Path(module)
    report_dir = load_config(module_path).report.dir if module_path.is_dir() else "goslim-report"
    text = render_ci(system, module_dir=module, report_dir=report_dir, pip_spec=pip_spec)
    destination = TEMPLATES[system][1]
    if out is not None:
        write_output(out, text)
    if json_out:
        output.emit(
            {"system": system, "path": destination, "out": str(out) if out else None, "text": text},
            lambda c: None,
        )
    elif out is None:
        typer.echo(text, nl=False)
    else:
        output.note(line(("wrote", "green"), f" {out} (in a repository it goes at {destination})"))
