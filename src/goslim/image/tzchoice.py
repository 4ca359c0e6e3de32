"""Zoneinfo files in the base, or time/tzdata embedded in the binary: which pulls fewer bytes?

Both costs are measured as layers built the way the image builds them: the zoneinfo
tree as its own layer, and the growth of the binary's layer when built with
``-tags timetzdata``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from goslim.bases.sources import TzSource, load_zoneinfo
from goslim.image.assemble import layer_entry
from goslim.oci import FileEntry, build_layer


class TzChoice(BaseModel):
    """The two ways to give a binary time zones, priced in compressed (pulled) bytes."""

    model_config = ConfigDict(frozen=True)

    compression: str
    files_bytes: int  # the zoneinfo layer, compressed
    files_source: str
    embed_bytes: int  # how much the binary's layer grows with -tags timetzdata, compressed
    smaller: Literal["files", "embed"]
    chosen: Literal["files", "embed"]

    @property
    def saving(self) -> int:
        return abs(self.files_bytes - self.embed_bytes)


def compare_tz(
    plain: Path,
    embedded: Path,
    compression: Literal["gzip", "zstd"],
    chosen: Literal["files", "embed"],
    source: TzSource = "auto",
) -> TzChoice:
    """Price zoneinfo-as-files against ``embedded`` (the same program built with timetzdata)."""
    tree = load_zoneinfo(source)
    files_layer = build_layer([layer_entry(e) for e in tree.entries], compression, mtime=0)
    plain_layer = build_layer([FileEntry.from_path("/app/x", plain)], compression, mtime=0)
    embed_layer = build_layer([FileEntry.from_path("/app/x", embedded)], compression, mtime=0)
    embed_cost = embed_layer.size - plain_layer.size
    return TzChoice(
        compression=compression,
        files_bytes=files_layer.size,
        files_source=f"{tree.source}, {tree.version}",
        embed_bytes=embed_cost,
        smaller="files" if files_layer.size <= embed_cost else "embed",
        chosen=chosen,
    )

