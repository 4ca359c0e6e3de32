"""VerifyOptions from goslim.yaml's `verify` section, the run contract and flags (CLI and pipeline)."""

from __future__ import annotations

from goslim.config import VerifyConfig
from goslim.contract import RunContract
from goslim.errors import UserInputError
from goslim.verify.catalog import select as select_checks
from goslim.verify.models import ProbeSettings, VerifyOptions


def options_from_config(
    config: VerifyConfig,
    contract: RunContract | None = None,
    *,
    grace: float | None = None,
    alive: float | None = None,
    runtime: str | None = None,
    check: list[str] | None = None,
    skip: list[str] | None = None,
    max_image_mb: float | None = None,
    max_binary_mb: float | None = None,
) -> VerifyOptions:
    """VerifyOptions from goslim.yaml's `verify` section and flag values that are not None; the port,
    probe paths, arguments, environment and writable paths come from the run ``contract`` only."""
    if runtime is not None and runtime not in ("runc", "crun"):
        raise UserInputError(f"unknown runtime '{runtime}'", hint="use runc or crun")
    select_checks(check or config.checks, skip or config.skip)  # bad names fail before any work
    probe_fields: dict[str, object] = {}
    if contract is not None:
        live, ready = contract.liveness, contract.readiness
        probe_fields = {
            "port": contract.probe_port,
            "health": live.path if live is not None and live.kind == "http" else None,
            "readiness": ready.path if ready is not None and ready.kind == "http" else None,
            "extra_env": dict(contract.env) if contract.given("env") else {},
            "args": contract.args if contract.given("args") else None,
            "writable": contract.writable,
        }
    return VerifyOptions(
        runtime=runtime or config.runtime,  # type: ignore[arg-type]
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
        **probe_fields,  # type: ignore[arg-type]
    )
