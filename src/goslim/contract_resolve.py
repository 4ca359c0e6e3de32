"""The one resolver of the run contract: flags, then goslim.yaml, then the image config, then what
verify discovered. Every stage that runs or describes the service reads its answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from goslim.config import ServiceConfig
from goslim.contract import Probe, RunContract, Source
from goslim.errors import UserInputError
from goslim.models import StrictFrozen
from goslim.probe import ProbeSpec
from goslim.verify.models import Observed

DEFAULT_USER = "65532:65532"
NAME_MAX = 56  # a DNS-1123 label of 63, less room for "-canary"
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ContractFlags(StrictFrozen):
    """What the command line said about the run contract; empty means "not given"."""

    name: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)
    ports: tuple[int, ...] = ()
    health: str | None = None
    readiness: str | None = None
    writable: tuple[str, ...] = ()


def parse_flags(
    *,
    name: str | None = None,
    args: list[str] | tuple[str, ...] = (),
    env: list[str] | tuple[str, ...] = (),
    ports: list[int] | tuple[int, ...] = (),
    health: str | None = None,
    readiness: str | None = None,
    writable: list[str] | tuple[str, ...] = (),
) -> ContractFlags:
    """Check and type the run-contract flags; a bad value is one line naming the flag."""
    if name is not None:
        check_name(name, "--name")
    for flag, path in (("--health", health), ("--readiness", readiness)):
        if path is not None and not path.startswith("/"):
            raise UserInputError(
                f"{flag} '{path}' is not an HTTP path", hint=f"write it as /path, e.g. {flag} /healthz"
            )
    for path in writable:
        if not path.startswith("/") or "\0" in path or ".." in path.split("/"):
            raise UserInputError(
                f"--writable '{path}' is not an absolute in-image path",
                hint="write it as /path, e.g. /var/cache/app",
            )
    for port in ports:
        if not 1 <= port <= 65535:
            raise UserInputError(f"--port {port} is not a TCP port", hint="use 1-65535")
    return ContractFlags(
        name=name,
        args=tuple(args),
        env=parse_env(env, flag="--env"),
        ports=tuple(dict.fromkeys(ports)),
        health=health,
        readiness=readiness,
        writable=tuple(dict.fromkeys(writable)),
    )


def given_flags(contract: RunContract, flags: ContractFlags) -> ContractFlags:
    """``flags`` over what a recorded ``contract`` says was given (flag or goslim.yaml), so a later
    command (goslim k8s --verified report.json) keeps what the run was told, and may still change it."""
    earlier = ContractFlags(
        name=contract.name if contract.given("name") else None,
        args=contract.args if contract.given("args") else (),
        env=dict(contract.env) if contract.given("env") else {},
        ports=contract.ports if contract.given("ports") else (),
        health=_given_path(contract, "liveness"),
        readiness=_given_path(contract, "readiness"),
        writable=contract.writable if contract.given("writable") else (),
    )
    return ContractFlags(
        name=flags.name or earlier.name,
        args=flags.args or earlier.args,
        env={**earlier.env, **flags.env},
        ports=flags.ports or earlier.ports,
        health=flags.health or earlier.health,
        readiness=flags.readiness or earlier.readiness,
        writable=flags.writable or earlier.writable,
    )


def _given_path(contract: RunContract, field: str) -> str | None:
    probe = contract.liveness if field == "liveness" else contract.readiness
    return probe.path if probe is not None and probe.kind == "http" and contract.given(field) else None


def parse_env(pairs: list[str] | tuple[str, ...], *, flag: str) -> dict[str, str]:
    """KEY=VALUE pairs as a mapping; a later pair wins."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not _ENV_KEY_RE.match(key):
            raise UserInputError(f"{flag} '{pair}' is not KEY=VALUE", hint=f"e.g. {flag} LOG_LEVEL=debug")
        out[key] = value
    return out


def check_name(name: str, where: str) -> str:
    """A service name must be a DNS-1123 label: it names Kubernetes objects and output files."""
    if len(name) > NAME_MAX or not _NAME_RE.match(name):
        raise UserInputError(
            f"{where} '{name}' is not a valid service name",
            hint=f"use lowercase letters, digits and '-' (at most {NAME_MAX}), e.g. --name my-api",
        )
    return name


def name_from_package(package: str) -> str | None:
    """The main package's last path element (``example.com/app/v2`` → ``app``), made a DNS-1123 label."""
    parts = [p for p in package.strip().rstrip("/").split("/") if p not in ("", ".")]
    if len(parts) > 1 and re.fullmatch(r"v\d+", parts[-1]):
        parts = parts[:-1]
    if not parts:
        return None
    name = re.sub(r"[^a-z0-9-]+", "-", parts[-1].lower()).strip("-")[:NAME_MAX].strip("-")
    return name or None


def resolve_contract(
    flags: ContractFlags,
    service: ServiceConfig,
    *,
    package: str = ".",
    main_package: str | None = None,
    image_config: Mapping[str, Any] | None = None,
    observed: Observed | None = None,
    user: str | None = None,
) -> RunContract:
    """The run contract from, in order: ``flags``, goslim.yaml's ``service``, the image config, and
    what verify ``observed``; ``sources`` says where each value came from.

    ``package``: the main package relative to the module (``./cmd/api``); ``main_package``: its import
    path, whose last element names the service when neither --name nor service.name does.
    """
    cfg = _inner(image_config)
    sources: dict[str, Source] = {}

    def pick(field: str, *layers: tuple[Source, Any]) -> Any:
        for source, value in layers:
            if value:
                sources[field] = source
                return value
        return None

    entry = [str(a) for a in cfg.get("Entrypoint") or []]
    name = (
        pick(
            "name",
            ("flag", flags.name),
            ("goslim.yaml", service.name and check_name(service.name, "service.name in goslim.yaml")),
            ("default", name_from_package(main_package or "") or name_from_package(package)),
            ("image config", name_from_package(entry[0]) if entry else None),
        )
        or "app"
    )
    args = pick(
        "args",
        ("flag", flags.args),
        ("goslim.yaml", tuple(service.args)),
        ("image config", _strings(cfg.get("Cmd"))),
    )
    env = pick(
        "env",
        ("flag", {**service.env, **flags.env} if flags.env else None),
        ("goslim.yaml", dict(service.env)),
        ("image config", _image_env(cfg.get("Env"))),
    )
    ports = pick(
        "ports",
        ("flag", flags.ports),
        ("goslim.yaml", tuple(dict.fromkeys(service.ports))),
        ("image config", _exposed_tcp(cfg.get("ExposedPorts"))),
        ("discovered", _observed_ports(observed)),
    )
    probe_port = ports[0] if ports else None
    found = observed if observed is not None and observed.port == probe_port else None
    liveness_path = pick(
        "liveness",
        ("flag", flags.health),
        ("goslim.yaml", service.health),
        ("discovered", found.liveness if found else None),
    )
    liveness = Probe(kind="http", port=probe_port, path=liveness_path) if liveness_path else None
    if liveness is None and probe_port is not None:
        liveness = Probe(kind="tcp", port=probe_port)
        sources["liveness"] = sources["ports"]
    readiness_path = pick(
        "readiness",
        ("flag", flags.readiness),
        ("goslim.yaml", service.readiness),
        ("discovered", found.readiness if found else None),
    )
    readiness = Probe(kind="http", port=probe_port, path=readiness_path) if readiness_path else liveness
    if readiness_path is None and liveness is not None:
        sources["readiness"] = sources["liveness"]
    writable = pick(
        "writable",
        ("flag", flags.writable),
        ("goslim.yaml", tuple(dict.fromkeys(service.writable))),
        ("image config", tuple(sorted(str(v) for v in (cfg.get("Volumes") or {}) if isinstance(v, str)))),
    )
    the_user = (
        pick(
            "user",
            ("image config", str(cfg.get("User") or "")),
            ("goslim.yaml", user if user and user != DEFAULT_USER else None),
        )
        or DEFAULT_USER
    )
    return RunContract(
        name=name,
        package=package,
        args=args or (),
        env=env or {},
        ports=ports or (),
        liveness=liveness,
        readiness=readiness,
        writable=writable or (),
        user=the_user,
        sources=sources,
    )


def start_probe(contract: RunContract) -> ProbeSpec | None:
    """The probe that says the service is ready: readiness, else liveness; None without a port."""
    probe = contract.readiness or contract.liveness
    port = (probe.port if probe else None) or contract.probe_port
    if probe is None or port is None:
        return None
    if probe.kind == "http" and probe.path:
        return ProbeSpec(kind="http", port=port, path=probe.path)
    return ProbeSpec(kind="tcp", port=port)


def _inner(image_config: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not image_config:
        return {}
    inner = image_config.get("config", image_config)
    return inner if isinstance(inner, Mapping) else {}


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _image_env(value: object) -> dict[str, str]:
    # PATH belongs to the base image, not to the service's contract.
    pairs = (str(e).partition("=") for e in value) if isinstance(value, list) else ()
    return {k: v for k, sep, v in pairs if sep and k and k != "PATH"}


def _exposed_tcp(value: object) -> tuple[int, ...]:
    ports: list[int] = []
    for key in value if isinstance(value, Mapping) else ():
        number, _, proto = str(key).partition("/")
        if (proto or "tcp") == "tcp" and number.isdigit() and 1 <= int(number) <= 65535:
            ports.append(int(number))
    return tuple(sorted(set(ports)))


def _observed_ports(observed: Observed | None) -> tuple[int, ...]:
    """The probed port first, then every other TCP port the service listened on."""
    if observed is None:
        return ()
    # A port bound to loopback alone is not the pod's: neither a Service nor the kubelet reaches it.
    tcp = [li.port for li in observed.listening if li.proto == "tcp" and not li.loopback]
    first = [observed.port] if observed.port is not None else []
    return tuple(dict.fromkeys([*first, *sorted(tcp)]))
