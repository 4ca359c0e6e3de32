from goslim.gobuild import Ablation, AblationRow
from goslim.report.claims import base_claim, cgo_claim, no_inline_claim, pprof_claim, strip_claim
from goslim.report.models import BaseRow
from goslim.report.symbolize import StackEvidence


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
    stack = StackEvidence(ran=True, symbolised=True, frames=["main.run at main.go:12"], detail="1 frame")
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
