"""The decision: which level to ship under a policy and a budget, with the reason in one line.

Sizes decide exactly; a start-up cost decides only through its margin: a level is inside the
budget when below it by more than its spread, over when above by more than it (goslim.upx.margin).
When the choice hinges on an unclear level, the previous decision is kept; with none recorded,
the conservative choice ships: the best level that provably fits, else the unpacked binary.
An unproven cost could break the start-up promise the budget stands for, while declining a level
costs only pull bytes, which are known exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from goslim.upx.margin import verdict
from goslim.upx.models import Budget, DecisionBasis, LevelRow


@dataclass(frozen=True)
class Previous:
    """The decision recorded by an earlier run: a level, or None for unpacked."""

    level: str | None
    where: str = "goslim.lock"


class Choice(NamedTuple):
    level: str | None
    reason: str
    basis: DecisionBasis


def decide(rows: list[LevelRow], policy: str, budget: Budget, previous: Previous | None = None) -> Choice:
    """The level to ship (or None), why, and on what basis. ``rows`` starts with the unpacked baseline.

    ``auto`` takes the level with the largest pull saving among those that passed every check,
    save enough, and are inside the start-up budget by more than their spread; a named level is
    taken if it passed its checks.
    """
    if policy == "off":
        return Choice(None, "UPX is off by policy", "off")
    packed = [r for r in rows if r.packed]
    if policy != "auto":
        row = next((r for r in packed if r.level == policy), None)
        if row is None:
            return Choice(None, f"{policy} was not evaluated", "as asked")
        if row.problems:
            return Choice(None, f"{policy} refused: {row.problems[0]}", "as asked")
        note = "" if fits(row, budget) else f"; outside the budget ({budget_text(budget)})"
        return Choice(policy, f"{policy} as asked: {figures(row, budget)}{note}", "as asked")
    working = [r for r in packed if not r.problems]
    if not working:
        if not packed:
            return Choice(None, "no level was evaluated", "margin holds")
        failures = "; ".join(f"{r.level}: {r.problems[0]}" for r in packed)
        choice = Choice(None, "no level passed its checks: " + failures, "margin holds")
        return _against(previous, choice, "its checks now fail")
    saving_enough = [r for r in working if saving(r, budget) >= budget.min_pull_saving_pct]
    if not saving_enough:
        best = max(working, key=lambda r: saving(r, budget))
        reason = f"no level saves enough ({budget_text(budget)}); best was {_with_figures(best, budget)}"
        return _against(previous, Choice(None, reason, "margin holds"), "the pull saving changed")
    inside = [r for r in saving_enough if _verdict(r, budget) == "inside"]
    clear = max(inside, key=lambda r: (saving(r, budget), -(r.startup_cost_ms or 0.0)), default=None)
    unclear = [
        r
        for r in saving_enough
        if _verdict(r, budget) == "unclear" and (clear is None or saving(r, budget) > saving(clear, budget))
    ]
    if not unclear:
        if clear is not None:
            reason = f"{_with_figures(clear, budget)}, inside the budget by more than the spread"
            reason += f" ({budget_text(budget)})"
            return _against(previous, Choice(clear.level, reason, "margin holds"))
        best = max(saving_enough, key=lambda r: saving(r, budget))
        reason = f"no level fits the budget ({budget_text(budget)}); best was {_with_figures(best, budget)}"
        return _against(previous, Choice(None, reason, "margin holds"))
    doubt = "; ".join(_with_figures(r, budget) for r in unclear)
    why = f"within the spread of the budget ({budget_text(budget)}): {doubt}"
    contenders = {*(r.level for r in unclear), clear.level if clear else None}
    if previous is not None and previous.level in contenders:
        kept = f"kept {_name(previous.level)} from {previous.where}: {why}"
        return Choice(previous.level, kept, "kept previous")
    fallback = f"{clear.level}, the best level that fits by more than the spread" if clear else "unpacked"
    conservative = f"{fallback} (the conservative choice: a cost not shown to fit is not shipped): {why}"
    return _against(previous, Choice(clear.level if clear else None, conservative, "conservative"))


def _against(previous: Previous | None, choice: Choice, what: str = "the margin was crossed") -> Choice:
    """A decision that differs from the previous one says what changed (for a cost: the margin was
    crossed, since an unclear verdict would have kept the previous level)."""
    if previous is None or previous.level == choice.level:
        return choice
    return choice._replace(reason=f"{choice.reason}; {previous.where} had {_name(previous.level)}: {what}")


def _with_figures(row: LevelRow, budget: Budget) -> str:
    return f"{row.level}: {figures(row, budget)}"


def _name(level: str | None) -> str:
    return level or "unpacked"


def _verdict(row: LevelRow, budget: Budget) -> str:
    return verdict(row.startup_cost_ms, row.startup_spread_ms, budget.max_startup_ms)


def saving(row: LevelRow, budget: Budget) -> float:
    """Pull saving in percent (positive = smaller) in the budget's layer compression."""
    return -row.change_pct(budget.compression)


def fits(row: LevelRow, budget: Budget) -> bool:
    """Saves enough and is inside the start-up budget by more than the spread of its cost."""
    return saving(row, budget) >= budget.min_pull_saving_pct and _verdict(row, budget) == "inside"


def figures(row: LevelRow, budget: Budget) -> str:
    if row.startup_cost_ms is None:
        cost = "start-up cost not measured"
    elif row.startup_spread_ms is None:
        cost = f"start-up {row.startup_cost_ms:+.0f} ms"
    else:
        cost = f"start-up {row.startup_cost_ms:+.0f} ± {row.startup_spread_ms:.0f} ms"
    return f"{budget.compression} pull {-saving(row, budget):+.1f}%, {cost}"


def budget_text(budget: Budget) -> str:
    return f"saving ≥ {budget.min_pull_saving_pct:g}%, start-up ≤ +{budget.max_startup_ms:g} ms"
