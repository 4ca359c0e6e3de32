"""The decision: which level to ship under a policy and a budget, with the reason in one line."""

from __future__ import annotations

from goslim.upx.models import Budget, LevelRow


def decide(rows: list[LevelRow], policy: str, budget: Budget) -> tuple[str | None, str]:
    """(level or None, one-line reason). ``rows`` starts with the unpacked baseline.

    ``auto`` takes the level with the largest pull saving among those that passed every
    check and fit the budget; a named level is taken if it passed its checks.
    """
    if policy == "off":
        return None, "UPX is off by policy"
    packed = [r for r in rows if r.packed]
    if policy != "auto":
        row = next((r for r in packed if r.level == policy), None)
        if row is None:
            return None, f"{policy} was not evaluated"
        if row.problems:
            return None, f"{policy} refused: {row.problems[0]}"
        note = "" if fits(row, budget) else f"; outside the budget ({budget_text(budget)})"
        return policy, f"{policy} as asked: {figures(row, budget)}{note}"
    working = [r for r in packed if not r.problems]
    if not working:
        if not packed:
            return None, "no UPX level was evaluated"
        return None, "no level passed its checks: " + "; ".join(f"{r.level}: {r.problems[0]}" for r in packed)
    inside = [r for r in working if fits(r, budget)]
    if inside:
        best = max(inside, key=lambda r: (saving(r, budget), -(r.startup_cost_ms or 0.0)))
        return best.level, f"{best.level}: {figures(best, budget)}, inside the budget ({budget_text(budget)})"
    best = max(working, key=lambda r: saving(r, budget))
    return (
        None,
        f"no level fits the budget ({budget_text(budget)}); best was {best.level}: {figures(best, budget)}",
    )


def saving(row: LevelRow, budget: Budget) -> float:
    """Pull saving in percent (positive = smaller) in the budget's layer compression."""
    return -row.change_pct(budget.compression)


def fits(row: LevelRow, budget: Budget) -> bool:
    if row.startup_cost_ms is None:
        return False  # an unmeasured cost cannot be shown to fit
    return saving(row, budget) >= budget.min_pull_saving_pct and row.startup_cost_ms <= budget.max_startup_ms


def figures(row: LevelRow, budget: Budget) -> str:
    cost = (
        "start-up cost not measured"
        if row.startup_cost_ms is None
        else f"start-up {row.startup_cost_ms:+.0f} ms"
    )
    return f"{budget.compression} pull {-saving(row, budget):+.1f}%, {cost}"


def budget_text(budget: Budget) -> str:
    return f"saving ≥ {budget.min_pull_saving_pct:g}%, start-up ≤ +{budget.max_startup_ms:g} ms"
