from goslim.gobuild import Ablation, AblationRow
from goslim.report.claims import base_claim, cgo_claim, no_inline_claim, pprof_claim, strip_claim
from goslim.report.models import BaseRow
from goslim.report.symbolize import StackEvidence, parse_dump


def row(name: str, size: int, base: int = 1000) -> AblationRow:
    change = (size - base) * 100 / base
    return AblationRow(
        technique=name,
        flags=[],
        env={},
        size=size,
        gzip_size=size // 2,
        zstd_size=size // 3,
        size_change_pct=change,
        gzip_change_pct=change,
        zstd_change_pct=change,
    )


def ablation(strip: int, cgo: int, slim: int, no_inline: int) -> Ablation:
    rows = [
        row("default", 1000),
        row('-ldflags "-s -w"', strip),
        row("CGO_ENABLED=0", cgo),
        row("-trimpath", 999),
        row("-buildid=", 1000),
        row("slim (all of the above)", slim),
        row("slim + -gcflags=all=-l", no_inline),
    ]
    return Ablation(package="example.com/x", platform="linux/amd64", go_version="go1.26", rows=rows)


def test_strip_claim_holds_inside_the_range_and_not_outside() -> None:
    assert strip_claim(ablation(650, 990, 640, 600)).verdict == "holds"  # 35 %
    assert strip_claim(ablation(900, 990, 640, 600)).verdict == "does not hold"  # 10 %


def test_cgo_claim_measured_not_assumed() -> None:
    claim = cgo_claim(ablation(650, 992, 640, 600))
    assert claim.verdict == "does not hold"
    assert claim.measured.startswith("0.8% smaller on disk")


def test_no_inline_compares_against_slim() -> None:
    assert no_inline_claim(ablation(650, 990, 640, 600)).verdict == "holds"
    assert no_inline_claim(ablation(650, 990, 640, 700)).verdict == "does not hold"


def test_missing_inputs_are_not_measured() -> None:
    assert strip_claim(None).verdict == "not measured"
    assert pprof_claim(None, None).verdict == "not measured"
    assert base_claim([]).verdict == "not measured"


def test_pprof_claim_refuted_by_a_symbolised_dump() -> None:
    stack = StackEvidence(ran=True, symbolised=True, frames=["main.run at main.go:12"], detail="1 frame",
                          dumped=True)
    claim = pprof_claim(stack, stripped=True)
    assert claim.verdict == "does not hold"
    assert claim.evidence == ["main.run at main.go:12"]


def test_base_claim_needs_alpine_to_judge() -> None:
    rows = [
        BaseRow(base="static", pull_size=3000, disk_size=9000, layers=2, files=10, starts=True),
        BaseRow(base="scratch", pull_size=2900, disk_size=8000, layers=1, files=1, starts=False),
    ]
    assert base_claim(rows).verdict == "not measured"
    rows.append(
        BaseRow(base="alpine:3.20", pull_size=6000, disk_size=15000, layers=2, files=500, starts=True)
    )
    claim = base_claim(rows)
    assert claim.verdict == "does not hold"
    assert "static" in claim.measured


DUMP = """SIGQUIT: quit
PC=0x46e1a1 m=0 sigcode=0

goroutine 1 [select]:
main.run(0xc000010000)
\t/src/main.go:42 +0x1f
main.main()
\t/src/main.go:12 +0x25
"""


def test_pprof_claim_is_not_judged_from_an_unrelated_line() -> None:
    # A service that exits at once with a warning printed no dump: no evidence either way.
    stack = parse_dump(
        'level=warn msg="no config file, using defaults"\nlisten tcp :80: bind: permission denied\n'
    )
    assert not stack.dumped
    claim = pprof_claim(stack, stripped=True)
    assert claim.verdict == "not measured"
    assert "no goroutine dump" in claim.measured and "permission denied" in claim.measured


def test_pprof_claim_from_a_real_dump() -> None:
    stack = parse_dump(DUMP)
    assert stack.dumped and stack.symbolised
    assert stack.frames[0] == "main.run at main.go:42"
    assert pprof_claim(stack, stripped=True).verdict == "does not hold"
    unsymbolised = parse_dump("goroutine 1 [running]:\n?()\n\t?:0 +0x0\n")
    assert unsymbolised.dumped and not unsymbolised.symbolised
    assert pprof_claim(unsymbolised, stripped=True).verdict == "holds"


def test_base_claim_after_a_comparison_where_nothing_started() -> None:
    rows = [BaseRow(base="static", pull_size=3000, disk_size=9000, layers=2, files=10, starts=False,
                    detail="exited after 0.2s with exit code 1")]
    claim = base_claim(rows)
    assert claim.verdict == "not measured"
    assert "no base compared" not in claim.measured
    assert "none of the 1 bases compared started" in claim.measured
