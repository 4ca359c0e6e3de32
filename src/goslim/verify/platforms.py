"""Verify every platform of an image index: this machine's natively, the others under qemu-user.

A platform the machine cannot run (no emulator installed, none known) still gets its static checks,
and its row says it did not run and why. Under emulation, time budgets are widened and timing
results are marked: they are reported, not judged against the native budgets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from goslim.contract import RunContract
from goslim.errors import UserInputError
from goslim.oci.image import Image, Index
from goslim.platform import SUPPORTED, Platform
from goslim.verify.catalog import RUNTIME_CHECKS
from goslim.verify.emulation import Emulator, NoEmulator, find_emulator
from goslim.verify.image import verify_image
from goslim.verify.models import Checklist, CheckResult, VerifyOptions
from goslim.verify.observe import DEFAULT_STARTUP
from goslim.verify.predicate import PlatformVerdict, VerificationPredicate, verification_predicate
from goslim.verify.runtime import OciRuntime
from goslim.verify.verify import Progress, host_architecture

# How much longer an emulated service may take to open its port than the native budget allows.
EMULATED_STARTUP_FACTOR = 10
TIMING_CHECKS = frozenset({"starts", "startup", "readiness", "shutdown"})
EMULATED_TIMING = "emulated: timing reported, not judged against native budgets"
EMULATED_MEMORY = "emulated: the figures include the emulator"

Mode = Literal["native", "emulated", "not run"]


class PlatformRun(BaseModel):
    """How one platform of an index was verified, and its checklist."""

    model_config = ConfigDict(frozen=True)

    platform: str
    digest: str  # the platform's manifest digest
    mode: Mode
    emulator: str | None = None  # the emulator's version line, when emulated
    reason: str | None = None  # why it did not run, when not run
    reused: str | None = None  # which signed verification answered it, when its attested run was reused
    checklist: Checklist

    @property
    def ok(self) -> bool:
        return self.checklist.ok

    @property
    def how(self) -> str:
        """How it ran, in words: natively, emulated (by what), not run (why), or reused."""
        if self.reused:
            return f"reused: its attested {self.mode} run"
        return {"native": "natively", "emulated": f"emulated: {self.emulator}",
                "not run": f"not run: {self.reason}"}[self.mode]


class PlatformChecklists(BaseModel):
    """Every platform of an index verified: one row per platform, in index order."""

    model_config = ConfigDict(frozen=True)

    image: str
    index_digest: str
    runs: tuple[PlatformRun, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs)

    @property
    def failed(self) -> tuple[PlatformRun, ...]:
        return tuple(r for r in self.runs if not r.ok)


def platform_predicates(
    result: PlatformChecklists, contract: RunContract | None, options: VerifyOptions
) -> tuple[VerificationPredicate, dict[str, VerificationPredicate]]:
    """The verification predicates of an index: one per platform manifest, carrying that platform's
    checklist, and the index's, with a row per platform and passed only when every platform passed
    (its checklist is the first platform's, the one a node of the index's first platform runs)."""
    if not result.runs:
        raise UserInputError(f"{result.image} has no platform goslim runs: nothing to attest",
                             hint="goslim targets linux/amd64, arm64, arm, 386, ppc64le, s390x and riscv64")
    mine = {r.platform: verification_predicate(r.checklist, contract, options) for r in result.runs}
    rows = tuple(PlatformVerdict(platform=r.platform, digest=r.digest, mode=r.mode, passed=r.ok)
                 for r in result.runs)
    first = mine[result.runs[0].platform]
    return first.model_copy(update={"passed": result.ok, "platforms": rows}), mine


def select_images(index: Index, wanted: Sequence[Platform] | None) -> list[Image]:
    """The index's images for ``wanted`` (all when None); a platform the index lacks is bad input."""
    if not wanted:
        # Entries that are not a Linux platform goslim targets (unknown/unknown attestations) are not run;
        # a platform listed twice runs once, its first entry (the one a runtime would pull).
        first: dict[str, Image] = {}
        for img in index.images:
            if f"{img.platform.os}/{img.platform.architecture}" in SUPPORTED:
                first.setdefault(str(img.platform), img)
        return list(first.values())
    chosen = []
    for p in wanted:
        match = next((img for img in index.images if p.matches(img.platform)), None)
        if match is None:
            have = ", ".join(str(i.platform) for i in index.images)
            raise UserInputError(f"the index has no {p} image (it has: {have})",
                                 hint="pick --platform from those, or leave it out to verify them all")
        chosen.append(match)
    return chosen


def verify_index(
    index: Index,
    options: VerifyOptions,
    *,
    label: str,
    platforms: Sequence[Platform] | None = None,
    runtime: OciRuntime | None = None,
    progress: Progress | None = None,
    emulators: dict[str, Emulator | NoEmulator] | None = None,
    reused: Mapping[str, PlatformRun] | None = None,
) -> PlatformChecklists:
    """Run the checklist on each chosen platform's image, except those ``reused`` answers (by
    platform, see ``reused_run``); ``emulators`` overrides the lookup (tests)."""
    step = progress or (lambda _s: None)
    here = host_architecture()
    runs = []
    for img in select_images(index, platforms):
        name = str(img.platform)
        if reused and name in reused:
            step(f"{name}: reused its signed verification")
            runs.append(reused[name])
            continue
        arch = img.platform.architecture
        runs.append(_verify_one(img, name, arch, here, options, label, runtime, step, emulators))
    return PlatformChecklists(image=label, index_digest=str(index.digest), runs=tuple(runs))


def reused_run(img: Image, checklist: Checklist, label: str, why: str) -> PlatformRun:
    """A platform answered by the checklist attested on its manifest, in the mode it ran then (the
    emulated marks its timing results carry say which)."""
    emulated = any(r.measured.get("emulated") for r in checklist.results)
    return PlatformRun(platform=str(img.platform), digest=str(img.digest),
                       mode="emulated" if emulated else "native", reused=why,
                       checklist=checklist.model_copy(update={"image": f"{label} ({img.platform})"}))


def _verify_one(
    img: Image, name: str, arch: str, here: str, options: VerifyOptions, label: str,
    runtime: OciRuntime | None, step: Progress, emulators: dict[str, Emulator | NoEmulator] | None,
) -> PlatformRun:
    where = f"{label} ({name})"

    def sub(s: str) -> None:
        step(f"{name}: {s}")

    if arch == here:
        checklist = verify_image(img, options, runtime=runtime, progress=sub)
        return PlatformRun(platform=name, digest=str(img.digest), mode="native",
                           checklist=checklist.model_copy(update={"image": where}))
    found = (emulators or {}).get(arch) or find_emulator(arch)
    if isinstance(found, NoEmulator):
        # Not runnable here: still judge what can be judged without running it.
        static_only = options.model_copy(update={"skip": (*options.skip, *sorted(RUNTIME_CHECKS))})
        checklist = verify_image(img, static_only, runtime=runtime, progress=sub)
        return PlatformRun(platform=name, digest=str(img.digest), mode="not run", reason=found.reason,
                           checklist=checklist.model_copy(update={"image": where}))
    checklist = verify_image(img, emulated_options(options, found), runtime=runtime, progress=sub)
    results = tuple(_mark_emulated(r) for r in checklist.results)
    return PlatformRun(platform=name, digest=str(img.digest), mode="emulated", emulator=found.version,
                       checklist=checklist.model_copy(update={"image": where, "results": results}))


def emulated_options(options: VerifyOptions, emulator: Emulator) -> VerifyOptions:
    """Run under ``emulator``, with the startup budget widened for it (timing is not judged natively)."""
    startup = options.startup or DEFAULT_STARTUP
    return options.model_copy(update={
        "emulator": emulator,
        "startup": startup.model_copy(update={"failure_threshold": startup.failure_threshold
                                              * EMULATED_STARTUP_FACTOR}),
    })


def _mark_emulated(result: CheckResult) -> CheckResult:
    """Timing and memory figures of an emulated run say so, in the summary and the measured figures."""
    if result.id in TIMING_CHECKS:
        note = EMULATED_TIMING
    elif result.id == "limits":
        note = EMULATED_MEMORY
    else:
        return result
    return result.model_copy(update={"summary": f"{result.summary} ({note})",
                                     "measured": {**result.measured, "emulated": True}})
