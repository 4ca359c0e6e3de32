from pathlib import Path

from goslim.upx import LevelRow, Memory
from goslim.upx.risks import assess_risks, selinux_state
from tests.reports import make_report


def row(level: str, **fields) -> LevelRow:
    base = {"path": Path("/w/app"), "sha256": "0" * 64, "size": 1, "layer_gzip": 1, "layer_zstd": 1}
    return LevelRow(level=level, **(base | fields))


ROWS = [
    row(
        "unpacked",
        build_info_readable=True,
        build_info="go1.26, main module m, 3 dependencies",
        large_env_ok=True,
        large_env_detail="exit 0",
        write_exec_denied="exit 0",
        memory=Memory(rss_kib=11000, anon_kib=5000, file_kib=6000),
    ),
    row(
        "lzma",
        build_info="no Go build info",
        large_env_ok=False,
        large_env_detail="killed by SIGSEGV",
        write_exec_denied="killed by SIGSEGV",
        memory=Memory(rss_kib=12000, anon_kib=12000, file_kib=8),
    ),
]


def test_each_risk_carries_evidence_from_the_rows():
    risks = {
        r.name: r
        for r in assess_risks(
            make_report("amd64"), ROWS, env_count=1000, env_bytes=40000, selinux="not enabled"
        )
    }
    assert risks["scanners"].severity == "warn"
    assert "lzma: no Go build info" in risks["scanners"].evidence
    assert risks["large-environment"].severity == "block"
    assert "lzma: killed by SIGSEGV" in risks["large-environment"].evidence
    assert any("PR_SET_MDWE" in e for e in risks["write-xor-execute"].evidence)
    assert "RssAnon +6.8 MiB" in risks["memory"].evidence[0]
    assert risks["pie"].severity == "info" and "non-PIE" in risks["pie"].evidence[0]


def test_no_packed_rows_no_risks():
    assert assess_risks(make_report("amd64"), ROWS[:1], env_count=0, env_bytes=0, selinux="x") == []


def test_selinux_state(tmp_path):
    enforce = tmp_path / "enforce"
    assert selinux_state(enforce) == "not enabled"
    enforce.write_text("1\n")
    assert selinux_state(enforce) == "enforcing"
    enforce.write_text("0\n")
    assert selinux_state(enforce) == "permissive"
