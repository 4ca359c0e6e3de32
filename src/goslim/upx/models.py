"""Artifacts of the compress stage: one row per level, the risks, and the decision."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from goslim.config import UpxConfig
from goslim.gobuild.models import Binary
from goslim.models import Frozen


class Budget(Frozen):
    """What packing may cost and must save for `auto` to accept it."""

    max_startup_ms: float = 150.0
    min_pull_saving_pct: float = 10.0
    compression: Literal["gzip", "zstd"] = "gzip"  # the layer compression the pull saving is counted in

    @classmethod
    def from_config(cls, config: UpxConfig, compression: Literal["gzip", "zstd"] = "gzip") -> Budget:
        return cls(
            max_startup_ms=config.max_startup_ms,
            min_pull_saving_pct=config.min_pull_saving_pct,
            compression=compression,
        )


class Memory(Frozen):
    """RSS at ready, KiB (median over the launches)."""

    rss_kib: int
    anon_kib: int
    file_kib: int


class LevelRow(Frozen):
    """Measurements of one variant: the unpacked baseline (level 'unpacked') or one UPX level."""

    level: str
    flags: list[str] = Field(default_factory=list)
    path: Path
    sha256: str
    size: int
    layer_gzip: int
    layer_zstd: int
    size_change_pct: float = 0.0
    gzip_change_pct: float = 0.0
    zstd_change_pct: float = 0.0
    pack_seconds: float | None = None
    upx_test: bool | None = None  # None for the unpacked baseline
    upx_test_evidence: str = ""
    startup_ms: float | None = None  # median, by the report's startup_method
    startup_samples_ms: list[float] = Field(default_factory=list)
    startup_cost_ms: float | None = None  # median of (this minus unpacked) over the rounds, same run
    startup_spread_ms: float | None = None  # half-width of that median's >= 90% confidence interval
    ready_ok: bool = False
    ready_ms: float | None = None  # median exec-to-ready
    ready_detail: str = ""
    memory: Memory | None = None
    output_matches: bool | None = None  # version output equal to the unpacked binary's
    large_env_ok: bool | None = None
    large_env_detail: str = ""
    write_exec_denied: str = ""  # how it ran with W^X enforced (PR_SET_MDWE), '' when not tried
    build_info_readable: bool = False  # as goslim.binary.read_build_info (and so scanners) sees it
    build_info: str = ""  # evidence: what was read, or why nothing was
    problems: list[str] = Field(default_factory=list)  # why this level must not ship

    @property
    def packed(self) -> bool:
        return self.level != "unpacked"

    def change_pct(self, compression: str) -> float:
        return self.gzip_change_pct if compression == "gzip" else self.zstd_change_pct


class Risk(Frozen):
    """A known way packing can hurt, with what goslim measured about it on this binary."""

    name: str
    severity: Literal["info", "warn", "block"]
    summary: str
    evidence: list[str] = Field(default_factory=list)


# How a decision was reached: every verdict it rests on held by more than the spread
# ("margin holds"), an unclear verdict kept the previous decision, or the conservative choice
# was shipped because nothing earlier was recorded; "as asked" for a named level, "off" for none.
DecisionBasis = Literal["margin holds", "kept previous", "conservative", "as asked", "off"]


class UpxDecision(Frozen):
    """What to ship: a packed level, or none, and why in one line."""

    policy: str
    level: str | None
    reason: str
    basis: DecisionBasis = "margin holds"
    binary: Binary | None = None  # the packed Binary to ship, when a level was chosen


class UpxReport(Frozen):
    """`goslim upx` result: a row per level (baseline first), risks with evidence, the decision."""

    binary: Binary
    upx_version: str
    budget: Budget
    levels: list[str]
    repetitions: int  # rounds launched: the minimum, plus those needed to make the verdicts clear
    startup_method: str
    ready_method: str
    size_method: str
    rows: list[LevelRow]
    risks: list[Risk]
    decision: UpxDecision

    def row(self, level: str) -> LevelRow:
        return next(r for r in self.rows if r.level == level)
