"""Options every command shares, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from goslim.cli.output import Output

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]
ModuleDirArg = Annotated[
    Path | None,
    typer.Argument(help="Go module directory (default: the bundled example or the current module)."),
]


def make_output(json_out: bool) -> Output:
    return Output(json_mode=json_out)
