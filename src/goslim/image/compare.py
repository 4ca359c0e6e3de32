"""The same service on several bases, measured: pull size, disk size, layers, files, does it start?"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from goslim.errors import GoslimError
from goslim.gobuild import Binary
from goslim.image.assemble import AssembledImage, assemble
from goslim.image.options import ImageOptions
from goslim.image.startcheck import StartCheck
from goslim.oci import Image
from goslim.sizes import xz_size

StartChecker = Callable[[Image], StartCheck]


class Variant(BaseModel):
    """One binary to compare (the slim build, or the same packed with UPX)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    label: str  # "slim", "slim + upx lzma"
    binary: Binary
    report: Any = Field(exclude=True)  # its BinaryReport


class CompareRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    base: str
    variant: str
    digest: str | None = None
    base_digest: str | None = None
    pull_size: int | None = None
    disk_size: int | None = None
    layers: int | None = None
    files: int | None = None
    carried: list[str] = Field(default_factory=list)  # what the base put in (static)
    start: StartCheck | None = None
    error: str | None = None  # why this base could not take the binary

    @property
    def starts(self) -> bool | None:
        return None if self.start is None else self.start.started


class Comparison(BaseModel):
    model_config = ConfigDict(frozen=True)

    service: str
    compression: str
    rows: list[CompareRow]
    start_check: str  # how "starts?" was decided, or why it was skipped
    baseline: str  # the row the ratios are against
    platform: str | None = None  # set by `compare --platform`: which platform's binary and base images

    def row(self, base: str, variant: str = "slim") -> CompareRow:
        return next(r for r in self.rows if r.base == base and r.variant == variant)


def compare_bases(
    variants: Sequence[Variant],
    bases: Sequence[str],
    options: ImageOptions,
    *,
    start_checker: StartChecker | None = None,
    start_check: str = "skipped",
    on_step: Callable[[str], None] | None = None,
    assembled_already: Mapping[tuple[str, str], AssembledImage] | None = None,
) -> Comparison:
    """Assemble every variant on every base; a base that cannot take the binary gets a row saying why.

    ``assembled_already`` maps (base, variant label) to an image the caller assembled with the same
    binary, report and ``options`` (the pipeline's own image), so it is not assembled twice.
    """
    rows: list[CompareRow] = []
    done = assembled_already or {}
    for variant in variants:
        for spec in bases:
            if on_step:
                on_step(f"{variant.label} on {spec}")
            try:
                assembled = done.get((spec, variant.label)) or assemble(
                    variant.binary, variant.report, spec, options
                )
            except GoslimError as exc:
                rows.append(CompareRow(base=spec, variant=variant.label, error=exc.one_line()))
                continue
            start = start_checker(assembled.image) if start_checker else None
            rows.append(_row(spec, variant.label, assembled, start))
    return Comparison(
        service=variants[0].binary.name,
        compression=options.compression,
        rows=rows,
        start_check=start_check,
        baseline=bases[0],
    )


def _row(spec: str, label: str, a: AssembledImage, start: StartCheck | None) -> CompareRow:
    return CompareRow(
        base=spec,
        variant=label,
        digest=a.digest,
        base_digest=a.base.digest,
        pull_size=a.stats.pull_size,
        disk_size=a.stats.disk_size,
        layers=len(a.stats.layers),
        files=a.stats.files,
        carried=[p.item for p in a.base.provisions if p.included],
        start=start,
    )


def floor_size(binary: Binary, report: Any) -> int:
    """The pull size no image format beats by much: xz -9e of the binary plus of the files its needs
    put in the need-driven static base (``report``: its BinaryReport)."""
    needed = assemble(binary, report, "static", ImageOptions()).image.layers[0]
    with contextlib.closing(needed.open_uncompressed()) as fh:
        needed_tar = fh.read()
    return xz_size(binary.path.read_bytes()) + xz_size(needed_tar)
