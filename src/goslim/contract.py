"""The run contract: how to run and probe one service, resolved once and read by every stage.

Resolved in one place (``goslim.contract_resolve``, owned by the service-model work) from, in
order: the command line, goslim.yaml, the image config, and what verify discovered. Image config,
verify, compare, upx start-up, Dockerfile, Kubernetes manifests and the report all read this model;
none of them decides a port, a probe or an argument on its own.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Where a value of the contract came from, so the report can say "discovered" or "from --port".
Source = Literal["flag", "goslim.yaml", "image config", "discovered", "default"]


class Probe(BaseModel):
    """A Kubernetes-style probe: HTTP GET of a path on a port, or a TCP connect to a port."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["http", "tcp"]
    port: int | None = Field(default=None, ge=1, le=65535)  # None: the service's probe port, once known
    path: str | None = None  # set for http, None for tcp

    def describe(self) -> str:
        where = f":{self.port}" if self.port is not None else ""
        return f"GET {where}{self.path}" if self.kind == "http" else f"TCP {where or '(port not known)'}"


class RunContract(BaseModel):
    """Everything needed to run the service the way it will run in production."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str  # the service's name: --name, else the main package's last element
    package: str = "."  # the main package, relative to the module root (./cmd/NAME)
    args: tuple[str, ...] = ()  # program arguments after the entrypoint (--arg, or after --)
    env: dict[str, str] = Field(default_factory=dict)
    ports: tuple[int, ...] = ()  # TCP ports the service serves; the first is the probe port
    liveness: Probe | None = None
    readiness: Probe | None = None
    writable: tuple[str, ...] = ()  # in-image paths that must be writable (emptyDir in k8s)
    user: str = "65532:65532"
    sources: dict[str, Source] = Field(default_factory=dict)  # field name -> where its value came from

    @property
    def probe_port(self) -> int | None:
        """The port probes go to: the first of ``ports``; None until given or discovered."""
        return self.ports[0] if self.ports else None

    def source(self, field: str) -> Source:
        """Where ``field``'s value came from ("default" when nothing set it)."""
        return self.sources.get(field, "default")

    def given(self, field: str) -> bool:
        """Did the user give ``field`` (flag or goslim.yaml)? Values from the image config are already
        in the image, so runs and manifests need not repeat them."""
        return self.source(field) in ("flag", "goslim.yaml")

    def describe(self) -> list[str]:
        """One line per fact, with its source, for reports and notes."""
        lines = [f"name {self.name} ({self.source('name')})"]
        if self.args:
            lines.append(f"args {' '.join(self.args)} ({self.source('args')})")
        if self.env:
            lines.append(f"env {', '.join(sorted(self.env))} ({self.source('env')})")
        if self.ports:
            lines.append(f"ports {', '.join(map(str, self.ports))} ({self.source('ports')})")
        for what, probe in (("liveness", self.liveness), ("readiness", self.readiness)):
            if probe is not None:
                lines.append(f"{what} {probe.describe()} ({self.source(what)})")
        if self.writable:
            lines.append(f"writable {', '.join(self.writable)} ({self.source('writable')})")
        return lines
