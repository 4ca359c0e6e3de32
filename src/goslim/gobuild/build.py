"""Build main packages into an output directory, atomically and in parallel."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from goslim.errors import SourceBuildError, ToolError, UserInputError
from goslim.gobuild.flags import BuildOptions, plan_build
from goslim.gobuild.models import Binary
from goslim.gobuild.toolchain import GoToolchain, MainPackage

VCS_ERROR = "error obtaining VCS status"


def build_binaries(
    toolchain: GoToolchain,
    patterns: Sequence[str],
    out_dir: Path,
    options: Sequence[BuildOptions],
) -> list[Binary]:
    """Build every main package matched by ``patterns`` once per options (platform).

    Each binary is built into a temp file inside ``out_dir`` and renamed into place
    only on success, so a failed build never leaves a half-written file behind.
    """
    if not options:
        raise UserInputError("no platform to build for")
    env0 = plan_build(options[0]).env
    mains = toolchain.main_packages(patterns, env=env0)
    multi_platform = len({o.platform for o in options}) > 1
    jobs = [(pkg, opts) for opts in options for pkg in mains]
    names = [_output_path(out_dir, pkg, opts, multi_platform) for pkg, opts in jobs]
    if len(set(names)) != len(names):
        raise UserInputError("two main packages would write the same file name", hint="build them separately")
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = min(len(jobs), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(build_one, toolchain, pkg, opts, dest)
            for (pkg, opts), dest in zip(jobs, names, strict=True)
        ]
        return [f.result() for f in futures]


def build_one(toolchain: GoToolchain, pkg: MainPackage, opts: BuildOptions, dest: Path) -> Binary:
    plan = plan_build(opts)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    flags = list(plan.flags)
    try:
        try:
            toolchain.build(pkg.import_path, tmp, flags, plan.env)
        except ToolError as exc:
            if VCS_ERROR in exc.stderr_tail and opts.buildvcs:
                # Not a git checkout go can read (e.g. a copied tree): build without stamping.
                flags = [*flags, "-buildvcs=false"]
                toolchain.build(pkg.import_path, tmp, flags, plan.env)
            else:
                raise _explain_cgo(toolchain, pkg, plan.env, exc) from exc
        os.chmod(tmp, 0o755)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return Binary.from_file(
        dest,
        name=pkg.name,
        package=pkg.import_path,
        module_dir=toolchain.module_dir,
        platform=opts.platform,
        profile=opts.profile.value,
        go_version=toolchain.version,
        env=plan.env,
        flags=flags,
    )


def _explain_cgo(toolchain: GoToolchain, pkg: MainPackage, env: dict[str, str], exc: ToolError) -> ToolError:
    """A build with CGO_ENABLED=0 that fails because a dependency needs cgo gets a clear reason."""
    if env.get("CGO_ENABLED") != "0":
        return exc
    cgo = toolchain.cgo_packages(pkg.import_path)
    if not cgo:
        return exc
    return SourceBuildError(
        f'{pkg.import_path} needs cgo (import "C" in {", ".join(cgo[:3])}), which CGO_ENABLED=0 excludes',
        tool="go",
        returncode=exc.returncode,
        stderr_tail=exc.stderr_tail,
        where=str(toolchain.module_dir),
        hint="replace the cgo dependency with a pure-Go one, or build with --profile default "
        "and use a base image that has its C library (e.g. --base debian:bookworm-slim)",
    )


def _output_path(out_dir: Path, pkg: MainPackage, opts: BuildOptions, multi_platform: bool) -> Path:
    if multi_platform:
        return out_dir / opts.platform.slug / pkg.name
    return out_dir / pkg.name
