"""Artifacts of the verify stage: what to check (``VerifyOptions``) and what was found (``Checklist``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from goslim.binary.models import Needs


class CheckStatus(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


class CheckResult(BaseModel):
    """One check: its verdict, a one-line summary, and the evidence behind it."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    status: CheckStatus
    summary: str
    evidence: tuple[str, ...] = ()  # log lines, timings, exit codes, paths
    seconds: float = 0.0  # wall time spent on this check
    measured: dict[str, bool | int | float | str | None] = Field(default_factory=dict)  # figures for reports


class Listener(BaseModel):
    """A socket the service listened on, read from the container's network namespace."""

    model_config = ConfigDict(frozen=True)

    proto: Literal["tcp", "udp"]
    port: int
    loopback: bool = False  # bound to 127.0.0.1 or ::1 only: not reachable from outside the pod


class ProbeAnswer(BaseModel):
    """What one HTTP path answered during discovery."""

    model_config = ConfigDict(frozen=True)

    port: int
    path: str
    status: int | None  # None: no HTTP answer
    catch_all: bool = False  # the port answers 2xx for any path, so this path proves nothing


class Observed(BaseModel):
    """What the one container run showed, as facts (no verdicts): read by k8s, report, attestations.

    Owned by goslim.verify; the run contract resolver reads it to fill what the user did not give.
    """

    model_config = ConfigDict(frozen=True)

    listening: tuple[Listener, ...] = ()
    probes: tuple[ProbeAnswer, ...] = ()  # discovery answers, per port and path
    port: int | None = None  # the port probed
    liveness: str | None = None  # the path that answered 2xx for liveness (None: TCP or nothing)
    readiness: str | None = None
    startup_seconds: float | None = None  # runtime start until ready
    shutdown_seconds: float | None = None  # stop signal until exit
    needed_kill: bool = False  # did not exit within the grace period after the stop signal
    exit_code: int | None = None  # after the stop signal (or early exit)
    injected: tuple[str, ...] = ()  # what the sandbox provided as a runtime would: /etc/hosts, HOSTNAME, ...
    sandbox: tuple[str, ...] = ()  # how the run was confined: seccomp, user/cgroup namespaces, limits


class Checklist(BaseModel):
    """Everything ``goslim verify`` found about one image, in check order."""

    model_config = ConfigDict(frozen=True)

    image: str  # what was verified: a location, or the rootfs path
    image_digest: str | None = None  # manifest digest, when an image (not a bare rootfs) was verified
    runtime: str  # "runc 1.1.5", or "" when no container ran
    platform: str  # os/architecture the image is for
    results: tuple[CheckResult, ...]
    seconds: float  # wall time of the whole checklist
    deliberate_wait_seconds: float = 0.0  # alive window + time waited for the stop signal
    phase_seconds: dict[str, float] = Field(
        default_factory=dict
    )  # unpack, start, probes, alive, shutdown, static
    observed: Observed | None = None  # None when no container ran
    needs: Needs | None = None  # what the entrypoint needs from the image (goslim.binary's answer)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.status is CheckStatus.FAIL)

    @property
    def ok(self) -> bool:
        return not self.failed

    def result(self, check_id: str) -> CheckResult:
        """The result of one check by id; KeyError when it was not run."""
        for r in self.results:
            if r.id == check_id:
                return r
        raise KeyError(check_id)

    def counts(self) -> dict[str, int]:
        return {s.value: sum(1 for r in self.results if r.status is s) for s in CheckStatus}


class ProbeSettings(BaseModel):
    """A Kubernetes-style probe: where to look and how patiently."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["http", "tcp"] = "http"
    path: str = "/healthz"
    port: int | None = None  # None: the port found for the image
    period_seconds: float = 0.2
    failure_threshold: int = 50
    timeout_seconds: float = 1.0


class VerifyOptions(BaseModel):
    """How to run and judge the image; built from goslim.yaml `verify` and flags."""

    model_config = ConfigDict(frozen=True)

    runtime: Literal["runc", "crun"] = "runc"
    port: int | None = None  # None: found from EXPOSE or the sockets the process listens on
    health: str | None = None  # liveness path; None: found among common paths
    readiness: str | None = None  # readiness path; None: found among common paths, else the health path
    startup: ProbeSettings | None = None
    liveness: ProbeSettings | None = None
    alive_seconds: float = 5.0
    grace_seconds: float = 30.0
    checks: tuple[str, ...] = ()  # only these check ids or groups (empty: all)
    skip: tuple[str, ...] = ()
    max_image_mb: float | None = None
    max_binary_mb: float | None = None
    memory_mb: int = 512
    pids: int = 256
    cpus: float = Field(default=1.0, gt=0)  # CPU quota of the container, in CPUs
    kubernetes_env: bool = False  # add the KUBERNETES_SERVICE_* variables every pod sees
    extra_env: dict[str, str] = Field(default_factory=dict)  # added to the image's Env for the run
    args: tuple[str, ...] | None = None  # replaces the image's Cmd for the run; None: the image's own
    writable: tuple[str, ...] = ()  # in-image paths mounted as tmpfs (the service writes there)
    start_timeout_seconds: float = 30.0  # runtime create/start
    image_size_bytes: int | None = None  # compressed size of the image, when known (else the rootfs size)
    # Set by verify_image: the rootfs was unpacked with owners shifted by this host id, so the
    # container runs in a user namespace mapping its ids from 0 onto it. None: no user namespace.
    rootfs_id_shift: int | None = None
