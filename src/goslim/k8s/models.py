"""The input of the manifest generator: what verify proved about the image, in one small model."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from goslim.models import StrictFrozen as Frozen

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class Probe(Frozen):
    """One Kubernetes probe: an HTTP GET on ``path`` or a TCP connect, on the container port."""

    kind: Literal["http", "tcp"] = "http"
    path: str = "/healthz"
    period_seconds: int = Field(default=10, ge=1)
    failure_threshold: int = Field(default=3, ge=1)
    timeout_seconds: int = Field(default=1, ge=1)


class Probes(Frozen):
    startup: Probe | None = None
    liveness: Probe | None = None
    readiness: Probe | None = None


class Resources(Frozen):
    """Requests and limits; CPU limit is optional because CFS throttling hurts latency."""

    cpu_request: str = "50m"
    memory_request: str = "32Mi"
    cpu_limit: str | None = "500m"
    memory_limit: str = "128Mi"


class K8sInput(Frozen):
    """What the manifests are made from; the pipeline fills it from verify's measurements."""

    name: str  # Deployment/Service name (DNS-1123 label): the run contract's name
    image_ref: str  # repository, e.g. registry.example.com/team/app (no tag, no digest)
    digest: str  # sha256:<64 hex>: the image is always pinned by digest
    image_placeholder: bool = False  # image_ref is REGISTRY/NAME: nobody said where the image is pushed
    ports: tuple[int, ...] = ()  # the run contract's ports; the first is the one probes use
    probes: Probes = Field(default_factory=Probes)
    writable: tuple[str, ...] = ()  # paths the service writes: an emptyDir each
    shutdown_seconds: float | None = Field(default=None, ge=0)  # measured SIGTERM-to-exit time
    needed_kill: bool = False  # verify had to SIGKILL it: the grace period did not suffice
    grace_margin_seconds: float = Field(default=5.0, ge=0)
    grace_seconds: int | None = Field(default=None, ge=1)  # explicit override of the computed grace
    prestop_sleep_seconds: int = Field(default=0, ge=0)  # lets endpoints drain before SIGTERM
    startup_seconds: float | None = Field(default=None, ge=0)  # measured start-to-ready time
    replicas: int = Field(default=2, ge=1)
    canary_percent: float | None = Field(default=None, gt=0, lt=100)
    stable_image: str | None = None  # full ref (repo@sha256:...) the stable track keeps running
    resources: Resources = Field(default_factory=Resources)
    namespace: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    args: list[str] = Field(default_factory=list)
    user: int = 65532

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str) -> str:
        if not _DIGEST_RE.match(value):
            raise ValueError("must be sha256:<64 lowercase hex digits>")
        return value

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= p <= 65535 for p in value):
            raise ValueError("ports must be 1-65535")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if len(value) > 56 or not _NAME_RE.match(value):  # 56 leaves room for "-canary"
            raise ValueError("must be a DNS-1123 label (a-z, 0-9, '-') of at most 56 characters")
        return value

    @property
    def image(self) -> str:
        return f"{self.image_ref}@{self.digest}"


class TimingChoice(Frozen):
    """A manifest value derived from a measured time: what was written, by which rule, from what."""

    field: str  # terminationGracePeriodSeconds, startupProbe
    value: str  # as written in the YAML
    rule: str  # how the value follows from the measurement (the same on every run)
    measured: str = ""  # this run's raw measurement ('' when none was taken)


class Manifests(Frozen):
    """The generated objects, their YAML, and what the user should know."""

    objects: list[dict]
    yaml: str
    grace_seconds: int
    replicas: dict[str, int]  # track -> replicas
    notes: list[str]
    timings: list[TimingChoice] = Field(default_factory=list)  # values rounded from measured times
    slow_stop: bool = False  # shutdown needed SIGKILL: the YAML says so; commands exit 1 unless allowed
