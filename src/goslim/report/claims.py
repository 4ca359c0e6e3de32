"""Common rules of thumb from Go slimming guides, each checked against this run's measurements."""

from __future__ import annotations

from goslim.gobuild import Ablation
from goslim.report.models import BaseRow, Claim
from goslim.report.symbolize import StackEvidence
from goslim.upx.models import UpxReport


def _in_range(saving: float, low: float, high: float) -> str:
    if low <= saving <= high:
        return "holds"
    return "partly" if saving > 0 and abs(saving - low) < 5 else "does not hold"


def _saving_claim(ablation: Ablation | None, claim: str, technique: str, low: float, high: float) -> Claim:
    if ablation is None:
        return Claim(claim=claim, measured="ablation not run", verdict="not measured")
    row = ablation.row(technique)
    saving = -row.size_change_pct
    return Claim(
        claim=claim,
        measured=f"{saving:.1f}% smaller on disk, {-row.gzip_change_pct:.1f}% smaller as a gzip layer",
        verdict=_in_range(saving, low, high),  # type: ignore[arg-type]
        evidence=[f"default {ablation.rows[0].size:,} B -> {technique} {row.size:,} B"],
    )


def strip_claim(ablation: Ablation | None) -> Claim:
    return _saving_claim(ablation, '-ldflags "-s -w" saves 30-40%', '-ldflags "-s -w"', 30, 40)


def cgo_claim(ablation: Ablation | None) -> Claim:
    return _saving_claim(ablation, "CGO_ENABLED=0 saves 20-60%", "CGO_ENABLED=0", 20, 60)


def no_inline_claim(ablation: Ablation | None) -> Claim:
    claim = "-gcflags=all=-l shrinks the binary"
    if ablation is None:
        return Claim(claim=claim, measured="ablation not run", verdict="not measured")
    slim, no_inline = ablation.rows[-2], ablation.rows[-1]
    change = (no_inline.size - slim.size) * 100 / slim.size
    return Claim(
        claim=claim,
        measured=f"{change:+.1f}% on disk against slim ({no_inline.size:,} vs {slim.size:,} B); "
        "it also turns off inlining, which costs run time (not measured here)",
        verdict="holds" if no_inline.size < slim.size else "does not hold",
    )


def upx_claim(upx: UpxReport | None) -> Claim:
    claim = "UPX saves 25-50%"
    if upx is None:
        return Claim(claim=claim, measured="UPX stage not run", verdict="not measured")
    packed = [r for r in upx.rows if r.packed and not r.problems]
    if not packed:
        return Claim(claim=claim, measured="no level packed cleanly", verdict="not measured")
    best = min(packed, key=lambda r: r.size)
    disk, pull = -best.size_change_pct, -best.gzip_change_pct
    disk_ok = 25 <= disk <= 50 or disk > 50
    pull_ok = pull >= 25
    verdict = "holds" if disk_ok and pull_ok else ("partly" if disk_ok else "does not hold")
    return Claim(
        claim=claim,
        measured=f"best level '{best.level}': {disk:.1f}% smaller on disk, but {pull:.1f}% smaller to pull "
        f"(registries already gzip layers)",
        verdict=verdict,  # type: ignore[arg-type]
        evidence=[
            f"{r.level}: disk {-r.size_change_pct:+.1f}% saving, pull {-r.gzip_change_pct:+.1f}% saving, "
            f"start-up cost {r.startup_cost_ms or 0:.0f} ms"
            for r in packed
        ],
    )


def pprof_claim(stack: StackEvidence | None, stripped: bool | None) -> Claim:
    claim = "a stripped binary cannot be symbolised by pprof"
    if stack is None or not stack.ran or not stack.dumped:
        # Judged only on a goroutine dump: anything else the binary printed is no evidence.
        return Claim(claim=claim, measured=stack.detail if stack else "not run", verdict="not measured")
    what = "stripped (no .symtab, no DWARF)" if stripped else "not stripped"
    if stack.symbolised:
        return Claim(
            claim=claim,
            measured=f"the {what} binary printed a symbolised goroutine dump: pclntab survives -s -w",
            verdict="does not hold",
            evidence=stack.frames,
        )
    return Claim(claim=claim, measured=f"{what}: {stack.detail}", verdict="holds")


def base_claim(rows: list[BaseRow]) -> Claim:
    claim = "alpine is the smallest practical base"
    starting = [r for r in rows if r.upx == "off" and r.starts is not False]
    if not rows:
        return Claim(claim=claim, measured="no base compared", verdict="not measured")
    if not starting:
        compared = sorted({r.base for r in rows})
        return Claim(
            claim=claim,
            measured=f"none of the {len(compared)} bases compared started ({', '.join(compared)})",
            verdict="not measured",
            evidence=[f"{r.base}: {r.detail}" for r in rows if r.detail],
        )
    smallest = min(starting, key=lambda r: r.pull_size)
    evidence = [
        f"{r.base}: pull {r.pull_size:,} B, disk {r.disk_size:,} B, starts: {r.starts}" for r in starting
    ]
    alpine = [r for r in starting if "alpine" in r.base]
    if not alpine:
        return Claim(
            claim=claim,
            measured=f"alpine not compared (pass --base alpine); smallest base that starts: {smallest.base}",
            verdict="not measured",
            evidence=evidence,
        )
    holds = smallest in alpine
    return Claim(
        claim=claim,
        measured=f"smallest base that starts: {smallest.base} ({smallest.pull_size:,} B to pull)",
        verdict="holds" if holds else "does not hold",
        evidence=evidence,
    )


def evaluate_claims(
    ablation: Ablation | None,
    upx: UpxReport | None,
    bases: list[BaseRow],
    stack: StackEvidence | None,
    stripped: bool | None,
) -> list[Claim]:
    """Every claim the report shows, in the order guides usually make them."""
    return [
        strip_claim(ablation),
        cgo_claim(ablation),
        upx_claim(upx),
        no_inline_claim(ablation),
        pprof_claim(stack, stripped),
        base_claim(bases),
    ]
