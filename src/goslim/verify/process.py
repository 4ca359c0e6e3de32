"""What to run: the container process described by an OCI image config, resolved against its rootfs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goslim.errors import UserInputError
from goslim.verify.rootfs import DEFAULT_PATH, find_executable, resolve_user

STOP_SIGNALS = {
    "SIGTERM": "TERM",
    "SIGINT": "INT",
    "SIGQUIT": "QUIT",
    "SIGHUP": "HUP",
    "SIGUSR1": "USR1",
    "SIGUSR2": "USR2",
    "SIGWINCH": "WINCH",
}


@dataclass(frozen=True)
class ContainerProcess:
    """The process the runtime starts, with names already turned into numbers and paths."""

    args: tuple[str, ...]
    env: tuple[str, ...]  # KEY=VALUE
    cwd: str
    uid: int
    gid: int
    user: str  # as the image config wrote it
    executable: str  # args[0] as found in the rootfs
    exposed_ports: tuple[int, ...]  # tcp ports from ExposedPorts
    stop_signal: str  # runc kill name, e.g. TERM

    @property
    def env_map(self) -> dict[str, str]:
        return dict(e.split("=", 1) if "=" in e else (e, "") for e in self.env)


def inner_config(image_config: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept either the full image config JSON (with "config") or just its "config" object."""
    return image_config.get("config", image_config) or {}


def container_process(
    rootfs: Path,
    image_config: Mapping[str, Any],
    extra_env: Mapping[str, str] | None = None,
    *,
    args: tuple[str, ...] | None = None,
) -> ContainerProcess:
    """Resolve Entrypoint+Cmd, Env, WorkingDir, User, ExposedPorts and StopSignal against ``rootfs``.

    ``args``: the run contract's program arguments, in place of the image's Cmd (None: keep Cmd).
    """
    cfg = inner_config(image_config)
    cmd = tuple(cfg.get("Cmd") or ()) if args is None else args
    args = tuple(cfg.get("Entrypoint") or ()) + cmd
    if not args:
        raise UserInputError(
            "the image has no Entrypoint or Cmd", hint="set service.args (--arg) or an entrypoint"
        )
    env = _merge_env(list(cfg.get("Env") or ()), extra_env or {})
    env_map = dict(e.split("=", 1) for e in env if "=" in e)
    executable = find_executable(rootfs, args[0], env_map.get("PATH"))
    if executable is None:
        raise UserInputError(
            f"entrypoint '{args[0]}' does not exist in the image",
            hint="check the image's Entrypoint/Cmd and that the binary is in a layer",
        )
    user_text = str(cfg.get("User") or "")
    user = resolve_user(rootfs, user_text)
    return ContainerProcess(
        args=args,
        env=tuple(env),
        cwd=str(cfg.get("WorkingDir") or "/"),
        uid=user.uid,
        gid=user.gid,
        user=user_text,
        executable=executable,
        exposed_ports=tuple(sorted(_tcp_ports(cfg.get("ExposedPorts") or {}))),
        stop_signal=_stop_signal(str(cfg.get("StopSignal") or "SIGTERM")),
    )


def _merge_env(env: list[str], extra: Mapping[str, str]) -> list[str]:
    keys = [e.split("=", 1)[0] for e in env]
    out = [e for e, k in zip(env, keys, strict=True) if k not in extra]
    out += [f"{k}={v}" for k, v in extra.items()]
    if not any(e.startswith("PATH=") for e in out):
        out.insert(0, f"PATH={DEFAULT_PATH}")  # as Docker and containerd do
    return out


def _tcp_ports(exposed: Mapping[str, Any]) -> set[int]:
    ports = set()
    for key in exposed:
        num, _, proto = str(key).partition("/")
        if num.isdigit() and proto in ("", "tcp"):
            ports.add(int(num))
    return ports


def _stop_signal(name: str) -> str:
    name = name.upper()
    if name.isdigit():
        return name
    full = name if name.startswith("SIG") else "SIG" + name
    if full not in STOP_SIGNALS:
        raise UserInputError(f"unsupported StopSignal '{name}'", hint="use SIGTERM, SIGINT or SIGQUIT")
    return STOP_SIGNALS[full]
