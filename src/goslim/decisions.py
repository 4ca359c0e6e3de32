"""The decisions that shape what ships, each with its inputs and whether it was measured now or reused.

UPX under ``--upx auto`` is decided under goslim.lock: a recorded decision is reused while its
facts hold (no measuring, so a busy machine cannot change it); otherwise the levels are measured
again, with the recorded level kept where the new verdict is within the spread of the budget.
The manifests' timing values are rounded by goslim.k8s; for the same image, the times recorded in
goslim.lock are reused while a new run's times still fit inside the values they gave.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from goslim import __version__
from goslim.contract import RunContract
from goslim.errors import GoslimError, ToolMissingError
from goslim.gobuild.models import Binary
from goslim.k8s import Manifests, TimingChoice, build_manifests, plan_k8s, startup_window
from goslim.lock import LOCK_NAME, UNPACKED, K8sLock, LockError, UpxLock, upx_facts
from goslim.probe import ProbeSpec
from goslim.report.models import Decision, Source
from goslim.upx import Budget, Previous, UpxReport, apply_policy, replay
from goslim.upx.policy import budget_text
from goslim.upx.tool import Upx
from goslim.verify.models import Observed


@dataclass(frozen=True)
class UpxOutcome:
    """What the upx stage ships, the measurements (None when reused), and the lock entry behind it."""

    shipped: Binary
    report: UpxReport | None
    entry: UpxLock | None  # what goslim.lock holds after this run (None: UPX not under the lock)
    decision: Decision
    note: str  # one line for the stage


def upx_under_lock(
    binary: Binary,
    policy: str,
    budget: Budget,
    probe: ProbeSpec | None,
    *,
    levels: tuple[str, ...],
    work_dir: Path,
    entry: UpxLock | None = None,
    redecide: bool = False,
    where: str = LOCK_NAME,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> UpxOutcome:
    """Ship under ``--upx POLICY``: for ``auto``, reuse ``entry`` (this package's goslim.lock UPX entry)
    while its facts hold and ``redecide`` is not asked; else measure, keeping ``entry``'s level when
    the new verdict is unclear. A named level or ``off`` is used as asked and not recorded."""
    if policy != "auto":
        shipped, report = apply_policy(binary, policy, budget, probe, work_dir=work_dir, env=env, args=args)
        reason = report.decision.reason if report else "UPX is off by policy"
        level = report.decision.level if report else None
        decision = Decision(
            subject="UPX level",
            value=_value(level),
            reason=reason,
            inputs={"policy": policy},
            source="as asked",
        )
        return UpxOutcome(shipped, report, None, decision, reason)
    stale = ""
    if entry is not None and not redecide:
        now = upx_facts(binary.sha256, Upx().version(), list(levels), budget)
        stale = entry.facts.differs(now) or ""
        if not stale:
            return _reuse(binary, entry, probe, work_dir=work_dir, where=where, env=env, args=args)
    previous = Previous(entry.packed_level, where=LOCK_NAME) if entry else None
    shipped, report = apply_policy(
        binary,
        policy,
        budget,
        probe,
        auto_levels=levels,
        work_dir=work_dir,
        env=env,
        args=args,
        previous=previous,
    )
    assert report is not None  # auto always evaluates
    new = UpxLock.from_report(report, __version__)
    why = f"{LOCK_NAME} not reused: {stale}" if stale else ("measured again (--redecide)" if redecide else "")
    note = "; ".join(filter(None, [why, report.decision.reason]))
    return UpxOutcome(shipped, report, new, upx_decision(new, "measured now"), note)


def _reuse(
    binary: Binary,
    entry: UpxLock,
    probe: ProbeSpec | None,
    *,
    work_dir: Path,
    where: str,
    env: Mapping[str, str] | None,
    args: tuple[str, ...],
) -> UpxOutcome:
    level = entry.packed_level
    try:
        shipped = replay(binary, level, probe, work_dir=work_dir, env=env, args=args) if level else binary
    except ToolMissingError:
        raise  # not the lock's fault
    except GoslimError as exc:
        raise LockError(
            f"level {entry.level} cannot be used for {binary.name}: {exc.one_line()}",
            where=where,
            hint="set another level (none is always valid), or measure again with --redecide",
        ) from exc
    source: Source = "set by hand in goslim.lock" if entry.set_by_hand else "reused from goslim.lock"
    by_hand = f" (set by hand; goslim decided {entry.decided_level})" if entry.set_by_hand else ""
    return UpxOutcome(
        shipped,
        None,
        entry,
        upx_decision(entry, source),
        f"reused decision from {LOCK_NAME}: {entry.level}{by_hand}",
    )


def upx_decision(entry: UpxLock, source: Source) -> Decision:
    """The report's view of a UPX decision recorded in (or about to be written to) goslim.lock."""
    facts = entry.facts
    budget = Budget(
        max_startup_ms=facts.max_startup_ms,
        min_pull_saving_pct=facts.min_pull_saving_pct,
        compression=facts.compression,
    )
    inputs = {
        "binary sha256": facts.binary_sha256,
        "UPX": facts.upx_version,
        "budget": budget_text(budget) + f" ({facts.compression} pull)",
        "levels evaluated": ", ".join(facts.levels),
        "rounds per variant": str(entry.repetitions),
        "basis": entry.basis,
        "decided by goslim": entry.decided_level,
        "goslim version": entry.goslim_version,
    }
    for m in entry.measured:
        cost = "start-up not measured"
        if m.startup_cost_ms is not None:
            spread = f" ± {m.startup_spread_ms:.1f}" if m.startup_spread_ms is not None else ""
            cost = f"start-up {m.startup_cost_ms:+.1f}{spread} ms"
        problem = f"; refused: {m.problem}" if m.problem else ""
        inputs[f"level {m.level}"] = f"pull {m.pull_change_pct:+.1f}%, {cost}{problem}"
    return Decision(
        subject="UPX level",
        value=_value(entry.packed_level),
        reason=entry.reason,
        inputs=inputs,
        source=source,
    )


@dataclass(frozen=True)
class ManifestsOutcome:
    """The manifests to write, the times they were made from (for goslim.lock), and the decisions."""

    manifests: Manifests
    entry: K8sLock
    decisions: list[Decision]
    note: str  # one line for the stage ('' when there is nothing to say)


def manifests_under_lock(
    image: str,
    contract: RunContract,
    observed: Observed | None,
    *,
    digest: str,
    entry: K8sLock | None = None,
    redecide: bool = False,
) -> ManifestsOutcome:
    """Kubernetes manifests for ``image``: from ``entry``'s recorded times when it is for the same
    image (``digest``) and this run's times still fit inside the values they gave; else from this
    run's times (rounded to coarse steps either way)."""
    measured = build_manifests(plan_k8s(image, contract, observed=observed)[0])
    now = K8sLock(
        image_digest=digest,
        shutdown_seconds=observed.shutdown_seconds if observed else None,
        startup_seconds=observed.startup_seconds if observed else None,
    )
    fresh = ManifestsOutcome(measured, now, timing_decisions(measured.timings, measured.timings), "")
    if entry is None or redecide or entry.image_digest != digest or observed is None:
        return fresh
    recorded = build_manifests(
        plan_k8s(
            image,
            contract,
            observed=observed,
            shutdown_seconds=entry.shutdown_seconds,
            startup_seconds=entry.startup_seconds,
        )[0]
    )
    crossed = _outgrown(entry, recorded, now)
    if crossed:
        return ManifestsOutcome(
            measured, now, fresh.decisions, f"{LOCK_NAME}'s k8s times not reused: {crossed} (margin crossed)"
        )
    decisions = timing_decisions(recorded.timings, measured.timings, source="reused from goslim.lock")
    return ManifestsOutcome(recorded, entry, decisions, f"k8s times reused from {LOCK_NAME}")


def _outgrown(entry: K8sLock, recorded: Manifests, now: K8sLock) -> str:
    """Why the values made from the recorded times do not hold this run's times ('' when they do)."""
    if now.shutdown_seconds is not None and now.shutdown_seconds > recorded.grace_seconds:
        return f"shutdown took {now.shutdown_seconds:.2f} s, over the grace period {recorded.grace_seconds} s"
    window = startup_window(entry.startup_seconds)[0]
    if now.startup_seconds is not None and now.startup_seconds > window:
        return f"start-up took {now.startup_seconds:.2f} s, over the start-up probe window {window} s"
    return ""


def timing_decisions(
    chosen: list[TimingChoice], raw: list[TimingChoice], source: Source = "rounded from this run's timings"
) -> list[Decision]:
    """The manifest values (``chosen``), each with this run's raw figure (``raw``, same fields)."""
    now = {t.field: t.measured for t in raw}
    return [
        Decision(
            subject=f"k8s {t.field}",
            value=t.value,
            reason=t.rule,
            inputs={"made from": t.measured} if t.measured else {},
            source=source,
            measured_now={"measured": now[t.field]} if now.get(t.field) else {},
        )
        for t in chosen
    ]


def _value(level: str | None) -> str:
    return level if level and level != UNPACKED else f"{UNPACKED} (unpacked)"
