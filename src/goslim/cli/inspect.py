"""`goslim inspect IMAGE`: digest, platform, size, layers and config of an image anywhere."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import human_bytes, line, plain
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
    # Everything here comes from the image or its registry: shown as Text, never as markup.
    console.print(plain(s.location, "bold"))
    console.print(line("  digest       ", s.digest))
    if s.index_digest:
        console.print(line("  index        ", s.index_digest, f" ({', '.join(s.platforms)})"))
    console.print(line("  platform     ", s.platform, f"   size {human_bytes(s.size)}   created ",
                       s.created if s.created is not None else "-"))
    cfg = s.config
    for key in ("Entrypoint", "Cmd", "User", "WorkingDir", "Env", "ExposedPorts", "StopSignal", "Labels"):
        if cfg.get(key):
            console.print(line(f"  {key:<13}", _shown(cfg[key])), highlight=False)
    table = Table(show_edge=False)
    table.add_column("#", justify="right")
    table.add_column("layer digest")
    table.add_column("size", justify="right")
    table.add_column("media type")
    for i, layer in enumerate(s.layers):
        table.add_row(str(i), plain(layer.digest[:19]), human_bytes(layer.size),
                      plain(layer.media_type.rsplit(".", 2)[-1]))
    console.print(table)


def _shown(value: object) -> str:
    """A config value on one line: lists joined by spaces, objects as key=value (labels) or keys."""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" if isinstance(v, str) and v else str(k) for k, v in value.items())
    return str(value)
