"""`goslim inspect IMAGE`: digest, platform, size, layers and config of an image anywhere."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import human_bytes
from goslim.oci.inspect import ImageSummary, inspect_image
from goslim.oci.registry import RegistryClient


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)


def inspect(
    image: Annotated[str, typer.Argument(help="oci:PATH[:TAG], docker-archive:PATH or HOST/REPO[:TAG|@DIG]")],
    platform: Annotated[str | None, typer.Option(help="Platform to pick from an index: linux/arm64")] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Allow plain http to any registry.")] = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show an image's digest, platform, size, layers and runtime config (registries: no layer download)."""
    output = make_output(json_out)
    with RegistryClient(insecure=insecure) as client, output.progress("inspect"):
        summary = inspect_image(image, platform, client)
    output.emit(summary.to_dict(), lambda c: render(c, summary))


def render(console: Console, s: ImageSummary) -> None:
    console.print(f"[bold]{s.location}[/bold]")
    console.print(f"  digest       {s.digest}")
    if s.index_digest:
        console.print(f"  index        {s.index_digest} ({', '.join(s.platforms)})")
    console.print(f"  platform     {s.platform}   size {human_bytes(s.size)}   created {s.created or '-'}")
    cfg = s.config
    for key in ("Entrypoint", "Cmd", "User", "WorkingDir", "Env", "ExposedPorts", "StopSignal"):
        if cfg.get(key):
            value = cfg[key]
            if isinstance(value, list | dict):
                shown = " ".join(value) if isinstance(value, list) else ", ".join(value)
            else:
                shown = str(value)
            console.print(f"  {key:<13}{shown}", highlight=False, markup=False)
    table = Table(show_edge=False)
    table.add_column("#", justify="right")
    table.add_column("layer digest")
    table.add_column("size", justify="right")
    table.add_column("media type")
    for i, layer in enumerate(s.layers):
        table.add_row(str(i), layer.digest[:19], human_bytes(layer.size), layer.media_type.rsplit(".", 2)[-1])
    console.print(table)
