"""The verify stage: run the checklist on a rootfs + image config, or on an image by location."""

from __future__ import annotations

import platform as host_platform
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from goslim.binary import BinaryInputError, BinaryReport, NotElfError, analyze
from goslim.errors import UserInputError
from goslim.verify import catalog, runtime_checks
from goslim.verify.models import Checklist, CheckResult, CheckStatus, VerifyOptions
from goslim.verify.observe import RunObservation, observe, observed_facts
from goslim.verify.process import ContainerProcess, container_process
from goslim.verify.rootfs import exists_in_rootfs, resolve_in_rootfs
from goslim.verify.runtime import OciRuntime
from goslim.verify.static_checks import STATIC_CHECKS, StaticContext, rootfs_size

HOST_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}

Progress = Callable[[str], None]


def host_architecture() -> str:
    machine = host_platform.machine()
    return HOST_ARCH.get(machine, machine)


def verify_rootfs(
    rootfs: Path,
    image_config: Mapping[str, Any],
    options: VerifyOptions | None = None,
    *,
    label: str | None = None,
    runtime: OciRuntime | None = None,
    progress: Progress | None = None,
    unpacked_bytes: int | None = None,
) -> Checklist:
    """Run the selected checks on an unpacked image: ``rootfs`` plus its OCI image config.

    ``unpacked_bytes``: what unpacking wrote, counted by the unpacker; the size check uses it when
    the compressed size is not given (instead of walking the rootfs again).
    """
    options = options or VerifyOptions()
    progress = progress or (lambda _s: None)
    start = time.monotonic()
    rootfs = Path(rootfs)
    if not rootfs.is_dir():
        raise UserInputError(f"rootfs '{rootfs}' is not a directory", hint="unpack the image first")
    selected = catalog.select(options.checks, options.skip)
    process = container_process(rootfs, image_config, options.extra_env, args=options.args)
    exe_host = resolve_in_rootfs(rootfs, process.executable)
    assert exe_host is not None  # container_process found it
    report = entrypoint_report(exe_host, process.executable)
    interpreter = report.elf.interpreter if report else None
    arch = _check_architecture(image_config, report, needs_run=bool(set(selected) & catalog.RUNTIME_CHECKS))

    results: dict[str, CheckResult] = {}
    obs: RunObservation | None = None
    runtime_name = ""
    if (
        set(selected) & catalog.RUNTIME_CHECKS
        and interpreter
        and not exists_in_rootfs(rootfs, interpreter)
    ):
        # Exec would fail with a bare ENOENT; say why instead, and let `libraries` give the detail.
        results.update(
            _cannot_run(
                f"cannot start: its ELF interpreter {interpreter} is not in the image", selected
            )
        )
    elif set(selected) & catalog.RUNTIME_CHECKS:
        runtime = runtime or OciRuntime(options.runtime)
        runtime_name = runtime.version()
        obs = observe(runtime, rootfs, process, options, progress)
        results.update(_runtime_results(obs, process, options, selected))

    progress("static checks")
    static_start = time.monotonic()
    if options.image_size_bytes is not None:
        image_size, size_kind = options.image_size_bytes, "compressed layers"
    elif unpacked_bytes is not None:
        image_size, size_kind = unpacked_bytes, "unpacked bytes"
    else:
        image_size, size_kind = (rootfs_size(rootfs) if "size" in selected else 0), "unpacked rootfs"
    ctx = StaticContext(
        rootfs=rootfs,
        process=process,
        binary=report,
        binary_size=exe_host.stat().st_size,
        options=options,
        image_size=image_size,
        image_size_kind=size_kind,
        logs=obs.logs if obs else None,
    )
    for check_id, fn in STATIC_CHECKS.items():
        if check_id in selected:
            t = time.monotonic()
            result = fn(ctx)
            results[check_id] = result.model_copy(update={"seconds": round(time.monotonic() - t, 4)})
    phases = {k: round(v, 4) for k, v in (obs.phase_seconds if obs else {}).items()}
    phases["static"] = round(time.monotonic() - static_start, 4)
    return Checklist(
        image=label or str(rootfs),
        phase_seconds=phases,
        runtime=runtime_name,
        platform=f"linux/{arch}",
        results=tuple(results[c] for c in selected if c in results),
        seconds=round(time.monotonic() - start, 3),
        deliberate_wait_seconds=round(obs.deliberate_seconds, 3) if obs else 0.0,
        observed=observed_facts(obs) if obs else None,
        needs=report.needs if report else None,
    )


def _runtime_results(
    obs: RunObservation, process: ContainerProcess, options: VerifyOptions, selected: tuple[str, ...]
) -> dict[str, CheckResult]:
    rc = runtime_checks
    made = {
        "starts": lambda: rc.check_starts(obs, options, process),
        "logs": lambda: rc.check_logs(obs),
        "startup": lambda: rc.check_startup(obs),
        "readiness": lambda: rc.check_readiness(obs),
        "liveness": lambda: rc.check_liveness(obs, options),
        "shutdown": lambda: rc.check_shutdown(obs, options),
        "non-root": lambda: rc.check_non_root(obs, process),
        "read-only-root": lambda: rc.check_read_only_root(obs),
        "limits": lambda: rc.check_limits(obs, options),
    }
    return {cid: fn() for cid, fn in made.items() if cid in selected}


def _cannot_run(reason: str, selected: tuple[str, ...]) -> dict[str, CheckResult]:
    out = {}
    for cid in selected:
        if cid in catalog.RUNTIME_CHECKS:
            status = CheckStatus.FAIL if cid == "starts" else CheckStatus.SKIP
            out[cid] = CheckResult(
                id=cid,
                title=catalog.CHECKS[cid],
                status=status,
                summary=reason if cid == "starts" else "not run: the container cannot start",
            )
    return out


def entrypoint_report(host_path: Path, inside: str) -> BinaryReport | None:
    """goslim.binary's analysis of the entrypoint (packed: through a `upx -d` copy); None for a script."""
    try:
        return analyze(host_path, top=0)
    except NotElfError:
        return None
    except BinaryInputError as exc:
        raise UserInputError(
            f"the image's entrypoint {inside} is not a readable binary: {exc.message}",
            hint="rebuild the image from an intact binary",
        ) from None


def _check_architecture(
    image_config: Mapping[str, Any], report: BinaryReport | None, *, needs_run: bool
) -> str:
    """The image's architecture; bad input when a container must run and it is not this machine's."""
    declared = image_config.get("architecture") if "config" in image_config else None
    binary_arch = (report.elf.goarch or report.elf.machine) if report else None
    arch = str(declared or binary_arch or host_architecture())
    here = host_architecture()
    if needs_run:
        for what, value in (("image", declared), ("entrypoint binary", binary_arch)):
            if value and value != here:
                raise UserInputError(
                    f"the {what} is for linux/{value} but this machine is linux/{here}",
                    hint=f"verify it on a linux/{value} machine, or use --check static",
                )
    return arch
