"""The checks goslim verify knows, their groups, and `--check` / `--skip` selection."""

from __future__ import annotations

from collections.abc import Iterable

from goslim.errors import UserInputError
from goslim.verify.models import CheckResult, CheckStatus

# id -> title, in the order they are reported.
CHECKS: dict[str, str] = {
    "starts": "starts and stays alive",
    "logs": "writes logs to stdout/stderr",
    "startup": "startup probe",
    "readiness": "readiness probe (time to ready)",
    "liveness": "liveness probe",
    "shutdown": "graceful shutdown on SIGTERM",
    "non-root": "runs as non-root",
    "read-only-root": "works on a read-only root",
    "limits": "stays within pids and memory limits",
    "no-shell": "no shell or package manager",
    "libraries": "loader and libraries present",
    "ca-roots": "CA roots present when needed",
    "zoneinfo": "zoneinfo present or embedded when needed",
    "users": "/etc/passwd present when users are looked up",
    "setuid": "no setuid/setgid files",
    "world-writable": "nothing world-writable but /tmp",
    "size": "image and binary size budgets",
}

GROUPS: dict[str, tuple[str, ...]] = {
    "probes": ("startup", "readiness", "liveness"),
    "runtime": (
        "starts",
        "logs",
        "startup",
        "readiness",
        "liveness",
        "shutdown",
        "non-root",
        "read-only-root",
        "limits",
    ),
    "static": (
        "no-shell",
        "libraries",
        "ca-roots",
        "zoneinfo",
        "users",
        "setuid",
        "world-writable",
        "size",
    ),
}

RUNTIME_CHECKS = frozenset(GROUPS["runtime"])


def expand(names: Iterable[str]) -> set[str]:
    """Check ids named directly or through a group; an unknown name is bad input."""
    out: set[str] = set()
    for raw in names:
        for name in (n.strip() for n in raw.split(",")):
            if not name:
                continue
            if name in GROUPS:
                out.update(GROUPS[name])
            elif name in CHECKS:
                out.add(name)
            else:
                known = ", ".join([*CHECKS, *GROUPS])
                raise UserInputError(f"unknown check '{name}'", hint=f"use one of: {known}")
    return out


def select(checks: Iterable[str], skip: Iterable[str]) -> tuple[str, ...]:
    """The check ids to run, in report order: `checks` (all when empty) minus `skip`."""
    wanted = expand(checks) or set(CHECKS)
    wanted -= expand(skip)
    return tuple(c for c in CHECKS if c in wanted)


def check_result(
    check_id: str,
    status: CheckStatus,
    summary: str,
    evidence: list[str] | tuple[str, ...] = (),
    seconds: float = 0.0,
    **measured: float | int | str | None,
) -> CheckResult:
    """A result titled from the catalog, so a check reads the same in every report."""
    return CheckResult(
        id=check_id,
        title=CHECKS[check_id],
        status=status,
        summary=summary,
        evidence=tuple(evidence),
        seconds=round(seconds, 3),
        measured=measured,
    )
