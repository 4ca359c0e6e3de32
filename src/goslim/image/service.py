"""The service `image` and `compare` work on: a binary goslim builds from a module (slim profile) or a
built one given as a file, with its analysis and the module's goslim.yaml."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from goslim.binary import BinaryReport, analyze
from goslim.config import GoslimConfig, load_config
from goslim.contract import RunContract
from goslim.contract_resolve import ContractFlags, resolve_contract
from goslim.errors import UserInputError
from goslim.gobuild import Binary, BuildOptions, GoToolchain, Profile, build_binaries
from goslim.gobuild.toolchain import find_module_root
from goslim.image.options import ImageOptions
from goslim.image.tzchoice import TzChoice, compare_tz
from goslim.platform import Platform

TZ_TAG = "timetzdata"

# Shows a long step ("go build (slim)") while it runs; the CLI passes its spinner.
Progress = Callable[[str], AbstractContextManager[object]]


def _quiet(_description: str) -> AbstractContextManager[object]:
    return nullcontext()


@dataclass(frozen=True)
class Service:
    """A binary to image, its analysis, and (when goslim built it) the module it came from."""

    binary: Binary
    report: BinaryReport
    module_dir: Path | None
    config: GoslimConfig

    def contract(self, flags: ContractFlags) -> RunContract:
        """The run contract of this service from the flags and goslim.yaml (before any image exists)."""
        package = self.config.build.packages[0] if self.module_dir is not None else "."
        return resolve_contract(
            flags,
            self.config.service,
            package=package,
            main_package=self.binary.package or self.binary.name,
            user=self.config.image.user,
        )


def load_service(
    target: str | None, progress: Progress = _quiet, *, platform: str | None = None, embed_tz: bool = False
) -> Service:
    """A built binary (from a module directory, slim profile) or a given file, with its analysis."""
    path = Path(target) if target else None
    if path is not None and path.is_file():
        config = load_config(path.parent)
        with progress(f"analyzing {path.name}"):
            report = analyze(path)
        if not report.elf.goarch:
            raise UserInputError(f"{path} is for machine {report.elf.machine}, which goslim does not target")
        binary = Binary.from_file(
            path,
            name=path.name,
            package=report.build_info.path if report.build_info else "",
            module_dir=path.parent,
            platform=Platform(os="linux", architecture=report.elf.goarch),
            profile="given",
            go_version=report.build_info.go_version if report.build_info else "",
            env={},
            flags=[],
        )
        return Service(binary, report, None, config)
    if path is not None and not path.exists():
        raise UserInputError(f"{path} does not exist", hint="give a Go module directory or a built binary")
    module_dir = find_module_root(path or Path.cwd())
    config = load_config(module_dir)
    binary = build_service(module_dir, config, progress, platform=platform, embed_tz=embed_tz)
    with progress(f"analyzing {binary.name}"):
        report = analyze(binary.path)
    return Service(binary, report, module_dir, config)


def build_service(
    module_dir: Path,
    config: GoslimConfig,
    progress: Progress = _quiet,
    *,
    platform: str | None = None,
    embed_tz: bool = False,
    out_dir: Path | None = None,
) -> Binary:
    """Build the module's one main package with the slim profile."""
    tags = tuple(config.build.tags) + ((TZ_TAG,) if embed_tz and TZ_TAG not in config.build.tags else ())
    opts = BuildOptions(
        profile=Profile.SLIM,
        platform=Platform.parse(platform or config.build.platforms[0]),
        tags=tags,
        x=dict(config.build.x),
    )
    out = out_dir or (module_dir / config.build.out)
    with progress("go build (slim)"):
        binaries = build_binaries(GoToolchain(module_dir), config.build.packages, out, [opts])
    if len(binaries) != 1:
        names = ", ".join(b.name for b in binaries)
        raise UserInputError(
            f"{module_dir} has {len(binaries)} main packages ({names}); an image holds one",
            hint="set build.packages in goslim.yaml to the one to image, e.g. [./cmd/server]",
        )
    return binaries[0]


def price_tz(service: Service, options: ImageOptions, progress: Progress = _quiet) -> TzChoice | None:
    """When the program loads time zones, build the other variant and measure files against embed."""
    tz = options.static.tz
    zone_need = service.report.needs.zoneinfo
    embedded_now = any(TZ_TAG in flag for flag in service.binary.flags)
    if tz == "none" or (not zone_need.needed and not embedded_now) or service.module_dir is None:
        return None
    if zone_need.names is not None and not embedded_now:
        return None  # a few named zone files always cost less than embedding the whole database
    with tempfile.TemporaryDirectory(prefix="goslim-tz-") as tmp:
        other = build_service(
            service.module_dir,
            service.config,
            progress,
            platform=str(service.binary.platform),
            embed_tz=not embedded_now,
            out_dir=Path(tmp),
        )
        mine = service.binary.path
        plain, embedded = (other.path, mine) if embedded_now else (mine, other.path)
        with progress("pricing zoneinfo files against -tags timetzdata"):
            return compare_tz(
                plain,
                embedded,
                options.compression,
                "embed" if embedded_now else "files",
                options.static.tz_source,
            )
