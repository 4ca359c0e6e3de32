"""Start-up cost with its spread, and measuring until the budget verdict no longer depends on noise.

The cost of a level is the median of paired differences (level minus unpacked, launched back to
back in the same round, so load on the machine hits both). Its spread is the half-width of the
distribution-free confidence interval of that median (order statistics of the differences, at
least 90% confidence). A level is *inside* the budget only when its cost is below the budget by
more than the spread, *over* only when above by more than it, and *unclear* in between.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Literal

from goslim.upx.measure import Progress, RuntimeFigures, StartupPlan, measure_runtime

MIN_REPETITIONS = 5
MAX_REPETITIONS = 21
CONFIDENCE = 0.90

Verdict = Literal["inside", "over", "unclear"]


def paired_cost(baseline: list[float], level: list[float]) -> tuple[float, float] | None:
    """(median cost, spread) in ms from per-round samples; None with fewer than two pairs."""
    diffs = sorted(lv - base for base, lv in zip(baseline, level, strict=False))
    if len(diffs) < 2:
        return None
    cost = statistics.median(diffs)
    low, high = median_interval(diffs)
    return round(cost, 2), round(max(cost - low, high - cost), 2)


def median_interval(ordered: list[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The order-statistic interval [x(k), x(n+1-k)] holding the true median with ``confidence``
    (the widest, min..max, when there are too few samples to reach it)."""
    n = len(ordered)
    k = 1
    # P(median < x(k)) = P(Binomial(n, 1/2) <= k - 1); both tails together must stay under 1 - confidence.
    while k < (n + 1) // 2 and 2 * _binomial_tail(n, k) <= 1 - confidence:
        k += 1
    return ordered[k - 1], ordered[n - k]


def _binomial_tail(n: int, k: int) -> float:
    """P(Binomial(n, 1/2) <= k)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def verdict(cost: float | None, spread: float | None, max_ms: float) -> Verdict:
    """inside / over the budget by more than the spread, or unclear (an unmeasured cost is never inside)."""
    if cost is None or spread is None:
        return "unclear"
    if max_ms - cost > spread:
        return "inside"
    if cost - max_ms > spread:
        return "over"
    return "unclear"


def measure_startup(
    variants: Mapping[str, Path],
    plan: StartupPlan,
    *,
    env: Mapping[str, str],
    cwd: Path,
    max_ms: float,
    decisive: Collection[str],
    repetitions: int = MIN_REPETITIONS,
    max_repetitions: int = MAX_REPETITIONS,
    progress: Progress | None = None,
) -> tuple[dict[str, RuntimeFigures], int]:
    """Launch the variants (the first is the unpacked baseline) ``repetitions`` rounds, interleaved,
    then one more round at a time while the budget verdict of a ``decisive`` level is unclear.

    Returns the figures and the rounds run. Extra rounds only time start-up (no memory, no ready
    run when a version flag times it), and launch the baseline and the decisive levels, so the
    samples of every level stay paired round by round.
    """
    figures = measure_runtime(variants, plan, env=env, cwd=cwd, repetitions=repetitions, progress=progress)
    rounds = repetitions
    while rounds < max_repetitions:
        unclear = [name for name in decisive if _verdict(figures, variants, name, max_ms) == "unclear"]
        if not unclear or figures[next(iter(variants))].failure:
            break
        names = [next(iter(variants)), *(n for n in variants if n in decisive and not figures[n].failure)]
        if progress:
            progress(f"round {rounds + 1}: {', '.join(unclear)} within the spread of the budget")
        more = measure_runtime(
            {n: variants[n] for n in names}, plan, env=env, cwd=cwd, repetitions=1, timing_only=True
        )
        for name in names:
            figures[name].startup_samples_ms.extend(more[name].startup_samples_ms)
            figures[name].version_outputs.extend(more[name].version_outputs)
            if more[name].failure:
                figures[name].failure = more[name].failure
        rounds += 1
    return figures, rounds


def _verdict(
    figures: Mapping[str, RuntimeFigures], variants: Mapping[str, Path], name: str, max_ms: float
) -> Verdict:
    if figures[name].failure:
        return "over"  # a failing level is refused on its problems, not on its cost
    base = figures[next(iter(variants))].startup_samples_ms
    measured = paired_cost(base, figures[name].startup_samples_ms)
    return verdict(*(measured or (None, None)), max_ms)
