from pathlib import Path

from goslim.upx import Budget, LevelRow
from goslim.upx.policy import decide, fits


def row(level: str, gzip_pct: float, cost_ms: float | None, problems: tuple[str, ...] = ()) -> LevelRow:
    return LevelRow(
        level=level,
        path=Path(f"/w/app.{level}"),
        sha256="0" * 64,
        size=1,
        layer_gzip=1,
        layer_zstd=1,
        gzip_change_pct=gzip_pct,
        zstd_change_pct=gzip_pct / 2,
        startup_cost_ms=cost_ms,
        ready_ok=True,
        problems=list(problems),
    )


BASE = row("unpacked", 0.0, None)
ROWS = [BASE, row("default", -4.0, 40.0), row("lzma", -24.0, 120.0)]


def test_auto_takes_the_biggest_saving_inside_the_budget():
    level, reason = decide(ROWS, "auto", Budget(max_startup_ms=150, min_pull_saving_pct=10))
    assert level == "lzma"
    assert "gzip pull -24.0%" in reason and "+120 ms" in reason


def test_auto_declines_when_no_saving_reaches_the_budget():
    level, reason = decide(ROWS, "auto", Budget(max_startup_ms=1000, min_pull_saving_pct=30))
    assert level is None
    assert "no level fits the budget" in reason and "best was lzma" in reason


def test_auto_declines_when_the_start_up_cost_is_over_budget():
    level, reason = decide(ROWS, "auto", Budget(max_startup_ms=100, min_pull_saving_pct=10))
    assert level is None and "+120 ms" in reason


def test_budget_can_count_the_saving_in_zstd():
    level, _ = decide(ROWS, "auto", Budget(max_startup_ms=150, min_pull_saving_pct=10, compression="zstd"))
    assert level == "lzma"  # -12% in zstd
    level, _ = decide(ROWS, "auto", Budget(max_startup_ms=150, min_pull_saving_pct=13, compression="zstd"))
    assert level is None


def test_a_level_with_problems_is_never_chosen():
    rows = [
        BASE,
        row("default", -4.0, 40.0),
        row("lzma", -24.0, 20.0, ("large-environment smoke run failed",)),
    ]
    level, reason = decide(rows, "auto", Budget(max_startup_ms=150, min_pull_saving_pct=2))
    assert level == "default"
    level, reason = decide(rows, "lzma", Budget())
    assert level is None and "lzma refused: large-environment" in reason


def test_named_level_is_taken_even_outside_the_budget_and_says_so():
    level, reason = decide(ROWS, "default", Budget(min_pull_saving_pct=10))
    assert level == "default" and "outside the budget" in reason


def test_unmeasured_start_up_cannot_fit_and_off_packs_nothing():
    assert not fits(row("lzma", -24.0, None), Budget())
    assert decide(ROWS, "off", Budget()) == (None, "UPX is off by policy")


def test_every_level_failing_names_the_failures():
    rows = [BASE, row("default", -4.0, 1.0, ("`upx -t` failed",))]
    level, reason = decide(rows, "auto", Budget())
    assert level is None and reason == "no level passed its checks: default: `upx -t` failed"
