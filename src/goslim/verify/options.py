"""VerifyOptions from goslim.yaml's `verify` section and flags (shared by the CLI and the pipeline)."""

from __future__ import annotations

from goslim.config import VerifyConfig
from goslim.errors import UserInputError
from goslim.verify.catalog import select as select_checks
from goslim.verify.models import ProbeSettings, VerifyOptions


def options_from_config(
    config: VerifyConfig,
    *,
    port: int | None = None,
    health: str | None = None,
    readiness: str | None = None,
    grace: float | None = None,
    alive: float | None = None,
    runtime: str | None = None,
    check: list[str] | None = None,
    skip: list[str] | None = None,
    env: list[str] | None = None,
    max_image_mb: float | None = None,
    max_binary_mb: float | None = None,
) -> VerifyOptions:
    """VerifyOptions from goslim.yaml's `verify` section, overridden by flag values that are not None."""
    if runtime is not None and runtime not in ("runc", "crun"):
        raise UserInputError(f"unknown runtime '{runtime}'", hint="use runc or crun")
    select_checks(check or config.checks, skip or config.skip)  # bad names fail before any work
    return VerifyOptions(
        runtime=runtime or config.runtime,  # type: ignore[arg-type]
        port=port if port is not None else config.port,
        health=health or config.health,
        readiness=readiness or config.readiness,
        startup=ProbeSettings(**config.startup.model_dump()) if config.startup else None,
        liveness=ProbeSettings(**config.liveness.model_dump()) if config.liveness else None,
        alive_seconds=alive if alive is not None else config.alive_seconds,
        grace_seconds=grace if grace is not None else config.grace_seconds,
        checks=tuple(check or config.checks),
        skip=tuple(skip or config.skip),
        max_image_mb=max_image_mb if max_image_mb is not None else config.max_image_mb,
        max_binary_mb=max_binary_mb if max_binary_mb is not None else config.max_binary_mb,
        memory_mb=config.memory_mb,
        pids=config.pids,
        cpus=config.cpus,
        kubernetes_env=config.kubernetes_env,
        extra_env=_parse_env(env or []),
    )


def _parse_env(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserInputError(f"--env '{pair}' is not KEY=VALUE")
        out[key] = value
    return out
