"""The size ablation: build one package once per technique and measure each result."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from goslim.gobuild.build import build_one
from goslim.gobuild.flags import BuildOptions, Profile, plan_build
from goslim.gobuild.toolchain import GoToolchain
from goslim.sizes import file_sizes, percent_change

# (technique name, options relative to a default build), in the order people apply them.
TECHNIQUES: tuple[tuple[str, dict], ...] = (
    ("default", {}),
    ('-ldflags "-s -w"', {"strip": True}),
    ("CGO_ENABLED=0", {"cgo": False}),
    ("-trimpath", {"trimpath": True}),
    ("-buildid=", {"empty_buildid": True}),
    ("slim (all of the above)", {"profile": Profile.SLIM}),
    ("slim + -gcflags=all=-l", {"profile": Profile.SLIM, "no_inline": True}),
)


class AblationRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    technique: str
    flags: list[str]
    env: dict[str, str]
    size: int
    gzip_size: int
    zstd_size: int
    size_change_pct: float
    gzip_change_pct: float
    zstd_change_pct: float


class Ablation(BaseModel):
    model_config = ConfigDict(frozen=True)

    package: str
    platform: str
    go_version: str
    rows: list[AblationRow]

    def row(self, technique: str) -> AblationRow:
        return next(r for r in self.rows if r.technique == technique)


def run_ablation(
    toolchain: GoToolchain,
    pattern: str,
    base: BuildOptions,
    on_step: Callable[[str], None] | None = None,
) -> Ablation:
    """Build ``pattern`` (one main package) once per technique; sizes are measured, not assumed.

    Techniques are built and measured in parallel, up to the cores. Variants that change only link
    flags (-s -w, -buildid=) reuse the compiled packages from Go's build cache and only link again.
    """
    mains = toolchain.main_packages([pattern], env=plan_build(base).env)
    pkg = mains[0]

    def build_and_measure(i: int, name: str, overrides: dict, tmp: Path) -> _Measured:
        if on_step:
            on_step(name)
        opts = base.model_copy(update={"profile": Profile.DEFAULT, **overrides})
        binary = build_one(toolchain, pkg, opts, tmp / f"{i}-{pkg.name}")
        sizes = file_sizes(binary.path)
        binary.path.unlink()  # the sizes are what the ablation keeps
        return _Measured(name, binary.flags, binary.env, sizes)

    with tempfile.TemporaryDirectory(prefix="goslim-ablation-") as tmp_name:
        tmp = Path(tmp_name)
        with ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
            futures = [
                pool.submit(build_and_measure, i, name, overrides, tmp)
                for i, (name, overrides) in enumerate(TECHNIQUES)
            ]
            measured = [f.result() for f in futures]
    base_size, base_gz, base_zst = measured[0].sizes
    rows = [
        AblationRow(
            technique=m.name,
            flags=m.flags,
            env=m.env,
            size=size,
            gzip_size=gz,
            zstd_size=zst,
            size_change_pct=percent_change(size, base_size),
            gzip_change_pct=percent_change(gz, base_gz),
            zstd_change_pct=percent_change(zst, base_zst),
        )
        for m in measured
        for size, gz, zst in [m.sizes]
    ]
    return Ablation(
        package=pkg.import_path, platform=str(base.platform), go_version=toolchain.version, rows=rows
    )


@dataclass(frozen=True)
class _Measured:
    name: str
    flags: list[str]
    env: dict[str, str]
    sizes: tuple[int, int, int]
