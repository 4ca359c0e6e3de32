"""goslim.lock: the decisions `goslim slim` made for a module, and why, so later runs ship the same.

It sits beside goslim.yaml and is meant to be committed. One entry per main package. A UPX entry
records the level, the facts it was decided on (binary sha256, UPX version, budget, levels
evaluated) and what each level measured then. While the facts hold, the level is reused without
measuring; `level` may be edited by hand (goslim checks it on the binary before using it).
A k8s entry records the times the manifests were made from (see K8sLock).
No timestamps: a re-run that decides the same writes the same bytes, or nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from goslim.errors import UserInputError
from goslim.fsutil import output_error, write_text_atomic
from goslim.models import StrictFrozen
from goslim.upx.levels import LEVEL_FLAGS
from goslim.upx.models import Budget, UpxReport

LOCK_NAME = "goslim.lock"
SCHEMA = 1
UNPACKED = "none"  # the `level` that ships the binary unpacked
HEADER = (
    "# goslim.lock: what goslim slim decided for this module, and why. Commit it.\n"
    "# Later runs reuse a decision while its facts hold; `goslim slim --redecide` measures again.\n"
    f"# `level` may be edited by hand ({UNPACKED} or a UPX level): goslim checks it on the binary first.\n"
)


class LockError(UserInputError):
    """goslim.lock cannot be read or holds something goslim cannot use."""


class UpxFacts(StrictFrozen):
    """What a UPX decision depends on: while these hold, measuring again would answer the same question."""

    binary_sha256: str
    upx_version: str
    levels: list[str]
    max_startup_ms: float
    min_pull_saving_pct: float
    compression: Literal["gzip", "zstd"]

    def differs(self, now: UpxFacts) -> str | None:
        """Why a decision made on these facts does not apply ``now``; None when they still hold."""
        if self.binary_sha256 != now.binary_sha256:
            return f"the binary changed (sha256 {self.binary_sha256[:12]} → {now.binary_sha256[:12]})"
        if self.upx_version != now.upx_version:
            return f"UPX changed ({self.upx_version} → {now.upx_version})"
        if self.levels != now.levels:
            return f"the levels evaluated changed ({', '.join(self.levels)} → {', '.join(now.levels)})"
        if (self.max_startup_ms, self.min_pull_saving_pct, self.compression) != (
            now.max_startup_ms,
            now.min_pull_saving_pct,
            now.compression,
        ):
            return "the budget changed"
        return None


def upx_facts(binary_sha256: str, upx_version: str, levels: list[str], budget: Budget) -> UpxFacts:
    """The facts a UPX decision about the binary with ``binary_sha256`` rests on."""
    return UpxFacts(
        binary_sha256=binary_sha256,
        upx_version=upx_version,
        levels=list(levels),
        max_startup_ms=budget.max_startup_ms,
        min_pull_saving_pct=budget.min_pull_saving_pct,
        compression=budget.compression,
    )


class LevelMeasure(StrictFrozen):
    """One level as it measured when the decision was made."""

    level: str
    pull_change_pct: float  # in the budget's layer compression
    startup_cost_ms: float | None = None
    startup_spread_ms: float | None = None
    problem: str | None = None  # why it must not ship, when it must not


class UpxLock(StrictFrozen):
    """A UPX decision: the level shipped, the facts and measurements behind it."""

    level: str  # a UPX level, or "none": unpacked
    decided_level: str  # what goslim decided; `level` differs when it was edited by hand
    basis: str  # margin holds / kept previous / conservative
    reason: str
    facts: UpxFacts
    repetitions: int  # rounds launched per variant
    measured: list[LevelMeasure] = Field(default_factory=list)
    goslim_version: str

    @field_validator("level", "decided_level")
    @classmethod
    def _known(cls, value: str) -> str:
        if value != UNPACKED and value not in LEVEL_FLAGS:
            names = ", ".join(LEVEL_FLAGS)
            raise ValueError(f"unknown UPX level '{value}' (use {UNPACKED} or one of: {names})")
        return value

    @property
    def packed_level(self) -> str | None:
        """The level to pack at, None for unpacked."""
        return None if self.level == UNPACKED else self.level

    @property
    def set_by_hand(self) -> bool:
        return self.level != self.decided_level

    @classmethod
    def from_report(cls, report: UpxReport, goslim_version: str) -> UpxLock:
        """The entry for a decision just measured."""
        level = report.decision.level or UNPACKED
        budget = report.budget
        return cls(
            level=level,
            decided_level=level,
            basis=report.decision.basis,
            reason=report.decision.reason,
            facts=upx_facts(report.binary.sha256, report.upx_version, report.levels, budget),
            repetitions=report.repetitions,
            measured=[
                LevelMeasure(
                    level=r.level,
                    pull_change_pct=round(r.change_pct(budget.compression), 1),
                    startup_cost_ms=_ms(r.startup_cost_ms),
                    startup_spread_ms=_ms(r.startup_spread_ms),
                    problem=r.problems[0] if r.problems else None,
                )
                for r in report.rows
                if r.packed
            ],
            goslim_version=goslim_version,
        )


class K8sLock(StrictFrozen):
    """The measured times the Kubernetes manifests were made from, for the image they were made for.

    Reused while the image is the same and a new run's times still fit inside the values written
    (grace period, start-up probe window), so a busier machine does not rewrite the manifests.
    """

    image_digest: str
    shutdown_seconds: float | None = None
    startup_seconds: float | None = None


class ServiceLock(StrictFrozen):
    """The decisions for one main package."""

    upx: UpxLock | None = None
    k8s: K8sLock | None = None


class LockFile(StrictFrozen):
    """The whole file: a schema version and an entry per main package (its import path)."""

    schema_: int = Field(alias="schema")
    services: dict[str, ServiceLock] = Field(default_factory=dict)

    def with_service(self, package: str, entry: ServiceLock) -> LockFile:
        return self.model_copy(update={"services": {**self.services, package: entry}})


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def lock_path(module_dir: Path) -> Path:
    """goslim.lock beside goslim.yaml (and go.mod)."""
    return module_dir / LOCK_NAME


def read_lock(path: Path) -> LockFile:
    """The lock at ``path`` (an empty one when there is none); anything wrong is one LockError line."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return LockFile(schema=SCHEMA)
    except (OSError, UnicodeDecodeError) as exc:
        raise LockError(f"cannot read it: {exc}", where=str(path), hint=_HINT) from exc
    return parse_lock(text, where=str(path))


_HINT = f"fix it, or delete it and run again (goslim measures and writes a new {LOCK_NAME})"


def parse_lock(text: str, *, where: str) -> LockFile:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise LockError(f"not valid YAML{line}", where=where, hint=_HINT) from exc
    if data is None:
        return LockFile(schema=SCHEMA)
    if not isinstance(data, dict) or not isinstance(data.get("schema"), int):
        raise LockError("not a goslim.lock: no 'schema' number at the top", where=where, hint=_HINT)
    if data["schema"] > SCHEMA:
        raise LockError(
            f"schema {data['schema']} is newer than this goslim reads ({SCHEMA})",
            where=where,
            hint="upgrade goslim, or delete the file to decide again",
        )
    try:
        return LockFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        what = "unknown key" if err["type"] == "extra_forbidden" else "invalid value for"
        detail = "" if err["type"] == "extra_forbidden" else f": {err['msg'].removeprefix('Value error, ')}"
        raise LockError(f"{what} '{key}'{detail}", where=where, hint=_HINT) from exc


def render_lock(lock: LockFile) -> str:
    """The file's text: a header, then YAML in a fixed key order."""
    data = lock.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["services"] = dict(sorted(data["services"].items()))
    return HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def write_lock(path: Path, lock: LockFile) -> bool:
    """Write the lock atomically when its text changed; True when it was written."""
    text = render_lock(lock)
    try:
        if path.read_text() == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise output_error(path, exc) from exc
    return True
