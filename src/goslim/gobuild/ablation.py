"""The size ablation: build one package once per technique and measure each result."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from goslim import interrupt
from goslim.gobuild.build import build_one
from goslim.gobuild.flags import BuildOptions, Profile, plan_build
from goslim.gobuild.models import Binary, sha256_file
from goslim.gobuild.toolchain import GoToolchain
from goslim.sizes import file_sizes, percent_change

# The compressed columns compare techniques at gzip's and zstd's own default levels. The layer
# encoders (libdeflate -12, zstd -19) took ~38 s of CPU for the example's seven binaries, these
# ~1.5 s; every technique ranks the same, its change within 0.9 points of the layer encoder's
# with gzip and 3.5 with zstd (bench/ablation_levels). The image stage measures the shipped layers.
GZIP_LEVEL = 6
ZSTD_LEVEL = 3

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
    # The columns' levels; reports written before they were recorded: gzip as layers were written, zstd -19.
    gzip_level: int | None = None
    zstd_level: int = 19

    def row(self, technique: str) -> AblationRow:
        return next(r for r in self.rows if r.technique == technique)

    @property
    def gzip_label(self) -> str:
        """The gzip column's heading: 'gzip -6', or 'gzip' when it was priced as layers are written."""
        return "gzip" if self.gzip_level is None else f"gzip -{self.gzip_level}"

    @property
    def zstd_label(self) -> str:
        return f"zstd -{self.zstd_level}"


def run_ablation(
    toolchain: GoToolchain,
    pattern: str,
    base: BuildOptions,
    on_step: Callable[[str], None] | None = None,
    built: Binary | None = None,
) -> Ablation:
    """Build ``pattern`` (one main package) once per technique; sizes are measured, not assumed.

    ``built``: a binary of this package just built by the caller (goslim slim's build stage); the
    technique with exactly its flags and environment is measured on it instead of linking it again.

    Techniques are built and measured in parallel, up to the cores. Variants that change only link
    flags (-s -w, -buildid=) compile with the default's settings, so Go's build cache serves their
    packages and they only link again. Two techniques that give byte-identical binaries (a default
    build where Go already picks CGO_ENABLED=0) are compressed once: the sizes are the same bytes'.
    """
    mains = toolchain.main_packages([pattern], env=plan_build(base).env)
    pkg = mains[0]
    by_digest: dict[str, Future[tuple[int, int, int]]] = {}
    guard = threading.Lock()

    def build_and_measure(i: int, name: str, overrides: dict, tmp: Path) -> _Measured:
        if on_step:
            on_step(name)
        opts = base.model_copy(update={"profile": Profile.DEFAULT, **overrides})
        if _same_build(built, pkg.import_path, opts):
            assert built is not None
            return _Measured(name, built.flags, built.env, file_sizes(built.path, GZIP_LEVEL, ZSTD_LEVEL))
        binary = build_one(toolchain, pkg, opts, tmp / f"{i}-{pkg.name}")
        with guard:
            earlier = by_digest.get(binary.sha256)
            if earlier is None:
                by_digest[binary.sha256] = mine = Future()
        if earlier is not None:
            binary.path.unlink()
            return _Measured(name, binary.flags, binary.env, earlier.result())
        try:
            interrupt.check()  # compressing is not a cancellation point; stop before it
            mine.set_result(file_sizes(binary.path, GZIP_LEVEL, ZSTD_LEVEL))
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        finally:
            binary.path.unlink()  # the sizes are what the ablation keeps
        return _Measured(name, binary.flags, binary.env, mine.result())

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
        package=pkg.import_path,
        platform=str(base.platform),
        go_version=toolchain.version,
        rows=rows,
        gzip_level=GZIP_LEVEL,
        zstd_level=ZSTD_LEVEL,
    )


def _same_build(built: Binary | None, package: str, opts: BuildOptions) -> bool:
    """Whether ``built`` is what building ``package`` with ``opts`` gives (and is still those bytes)."""
    if built is None or built.package != package:
        return False
    plan = plan_build(opts)
    if list(plan.flags) != built.flags or plan.env != built.env or str(opts.platform) != str(built.platform):
        return False
    try:
        return sha256_file(built.path)[0] == built.sha256
    except OSError:
        return False


@dataclass(frozen=True)
class _Measured:
    name: str
    flags: list[str]
    env: dict[str, str]
    sizes: tuple[int, int, int]
