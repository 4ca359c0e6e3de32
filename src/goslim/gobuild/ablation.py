"""The size ablation: build one package once per technique and measure each result."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
    """Build ``pattern`` (one main package) once per technique; sizes are measured, not assumed."""
    mains = toolchain.main_packages([pattern], env=plan_build(base).env)
    pkg = mains[0]
    measured: list[tuple[str, list[str], dict[str, str], tuple[int, int, int]]] = []
    with tempfile.TemporaryDirectory(prefix="goslim-ablation-") as tmp, ThreadPoolExecutor(2) as pool:
        pending = []
        for i, (name, overrides) in enumerate(TECHNIQUES):
            if on_step:
                on_step(name)
            opts = base.model_copy(update={"profile": Profile.DEFAULT, **overrides})
            binary = build_one(toolchain, pkg, opts, Path(tmp) / f"{i}-{pkg.name}")
            # Compress in the background while the next technique compiles.
            pending.append((name, binary, pool.submit(file_sizes, binary.path)))
        for name, binary, sizes in pending:
            measured.append((name, binary.flags, binary.env, sizes.result()))
    base_size, base_gz, base_zst = measured[0][3]
    rows = [
        AblationRow(
            technique=name,
            flags=flags,
            env=env,
            size=size,
            gzip_size=gz,
            zstd_size=zst,
            size_change_pct=percent_change(size, base_size),
            gzip_change_pct=percent_change(gz, base_gz),
            zstd_change_pct=percent_change(zst, base_zst),
        )
        for name, flags, env, (size, gz, zst) in measured
    ]
    return Ablation(
        package=pkg.import_path, platform=str(base.platform), go_version=toolchain.version, rows=rows
    )
