"""What one `goslim slim` run produced: every stage's result, the claims, and the outputs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from goslim.attestation import ReusedImage
from goslim.binary import BinaryReport
from goslim.contract import RunContract
from goslim.gobuild import Ablation, Binary
from goslim.image.assemble import AssembledImage
from goslim.image.platforms import AssembledIndex
from goslim.inputs import ImageInputs
from goslim.lock import ServiceLock
from goslim.models import Frozen
from goslim.scan.models import ScanReport
from goslim.upx.models import UpxReport
from goslim.verify.models import Checklist
from goslim.verify.platforms import PlatformChecklists

# ok: ran and passed; failed: a tool or input error, failed checks, or a broken policy; warned: passed
# with warnings; skipped: not run (why); not checked: ran but could not check what it is for (why);
# cancelled: goslim was interrupted while it ran, or before it could run.
StageStatus = Literal["ok", "failed", "warned", "skipped", "not checked", "cancelled"]


class StageOutcome(Frozen):
    """How one stage went (a ``StageStatus``), with the one-line reason for anything but ok."""

    stage: str
    status: StageStatus
    seconds: float = 0.0
    message: str = ""
    hint: str | None = None
    evidence: tuple[str, ...] = ()  # the lines that explain a failure (the compiler's own, a tool's stderr)
    policy: str | None = None  # a policy the stage's result broke (the run exits 1), e.g. scan --fail-on

    @property
    def fails_run(self) -> bool:
        """The stage is why the run does not pass: it failed, or its result broke a policy."""
        return self.status == "failed" or self.policy is not None


class Claim(Frozen):
    """A rule of thumb from slimming guides, checked on this binary."""

    claim: str
    measured: str
    verdict: Literal["holds", "does not hold", "partly", "not measured"]
    evidence: list[str] = Field(default_factory=list)


class JourneyStep(Frozen):
    """One point of the size journey from the default build to the final image."""

    label: str
    size: int
    what: Literal["file", "image disk", "image pull"]


class BaseRow(Frozen):
    """The same binary on one base: what a pull and a disk cost, and whether it starts."""

    base: str
    upx: str = "off"
    pull_size: int
    disk_size: int
    layers: int
    files: int
    starts: bool | None = None
    detail: str = ""


Source = Literal[
    "measured now",
    "reused from goslim.lock",
    "set by hand in goslim.lock",
    "as asked",
    "rounded from this run's timings",
]


class Decision(Frozen):
    """One decision: what was decided, the rule and inputs it follows from, and where it came from.

    ``subject``, ``value``, ``reason`` and ``inputs`` are the decision; ``source`` says whether this
    run measured it or reused it, and ``measured_now`` holds this run's raw figures behind a rounded
    value (noise: they never change the value by themselves).
    """

    subject: str
    value: str
    reason: str
    inputs: dict[str, str] = Field(default_factory=dict)
    source: Source
    measured_now: dict[str, str] = Field(default_factory=dict)


class SlimRun(Frozen):
    """Everything the report renders; serialised as the report's JSON."""

    goslim_version: str
    module_dir: str
    package: str = ""
    started: str
    seconds: float = 0.0
    stages: list[StageOutcome] = Field(default_factory=list)
    ablation: Ablation | None = None
    binary: Binary | None = None
    analysis: BinaryReport | None = None
    upx: UpxReport | None = None  # the measurements, when UPX was measured in this run
    decisions: list[Decision] = Field(default_factory=list)  # what shaped the shipped artifacts, and why
    lock: ServiceLock | None = None  # this package's goslim.lock entry after the run
    contract: RunContract | None = None  # the run contract, resolved after verify (with what it found)
    inputs: ImageInputs | None = None  # what the image is made from (goslim.inputs), when computed
    reused: ReusedImage | None = None  # the registry image reused for the same inputs: nothing was built
    image: AssembledImage | None = None
    image_location: str | None = None
    published: str | None = None  # where --to wrote the image too: REPO@DIGEST for a registry
    bases: list[BaseRow] = Field(default_factory=list)
    checklist: Checklist | None = None
    checklist_reused: str | None = None  # the signed verification that answered verify, when reused
    index: AssembledIndex | None = None  # with several platforms: the index over every platform's image
    platform_checks: PlatformChecklists | None = None  # the index's other platforms, verified
    scan: ScanReport | None = None
    # The index's other platforms, each scanned from its own binary: platform -> report.
    platform_scans: dict[str, ScanReport] = Field(default_factory=dict)
    sbom: dict[str, str] = Field(default_factory=dict)  # format -> path
    signature: str | None = None
    claims: list[Claim] = Field(default_factory=list)
    journey: list[JourneyStep] = Field(default_factory=list)
    outputs: dict[str, str] = Field(default_factory=dict)  # what -> path
    exit_status: int = 0

    def stage(self, name: str) -> StageOutcome | None:
        return next((s for s in self.stages if s.stage == name), None)

    @property
    def failed_stages(self) -> list[StageOutcome]:
        return [s for s in self.stages if s.fails_run]

    def what_failed(self) -> list[str]:
        """What kept this run from passing: each failed stage, named by its broken policy or failed checks."""
        failed = []
        for s in self.failed_stages:
            if s.policy:
                failed.append(f"{s.stage}: {s.policy}")
            elif s.stage == "verify" and self.checklist is not None and not self.checklist.ok:
                failed.append("verify checks " + ", ".join(r.id for r in self.checklist.failed))
            else:
                failed.append(s.stage)
        return failed
