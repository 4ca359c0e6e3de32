"""goslim upx with the real upx, real Go builds and real launches (default and lzma levels only)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from goslim.cli.app import main
from goslim.gobuild.models import Binary, sha256_file
from goslim.launch import start_until_ready
from goslim.probe import ProbeSpec
from goslim.upx import Budget, UpxRefusedError, UpxReport, apply_policy, evaluate, pack
from goslim.upx.policy import decide
from goslim.upx.tool import Upx
from tests.conftest import BuildFixture, need_tool
from tests.unit.upx.elfdata import tiny_elf

READY = ProbeSpec("http", 8080, "/readyz")
ECHO = ProbeSpec("tcp", 9000)
ENV = {"PATH": "/usr/bin:/bin"}


@pytest.fixture(scope="module")
def hello_report(go_build: BuildFixture, tmp_path_factory: pytest.TempPathFactory) -> UpxReport:
    need_tool("upx")
    binary = go_build("hello-api")
    # A budget no UPX level can meet on a Go service: auto must decline and say why.
    budget = Budget(max_startup_ms=100_000, min_pull_saving_pct=60)
    work = tmp_path_factory.mktemp("upx-hello")
    return evaluate(binary, ("default", "lzma"), READY, budget, work_dir=work, repetitions=2)


def test_hello_table_has_measured_columns_per_level(hello_report: UpxReport):
    rows = {r.level: r for r in hello_report.rows}
    assert list(rows) == ["unpacked", "default", "lzma"]
    base = rows["unpacked"]
    assert base.layer_gzip < base.size and base.startup_ms is not None and base.memory is not None
    for level in ("default", "lzma"):
        r = rows[level]
        assert r.upx_test is True and r.size < base.size and r.pack_seconds and r.pack_seconds > 0
        assert r.ready_ok and r.ready_ms is not None and len(r.startup_samples_ms) == 2
        assert r.startup_cost_ms is not None and r.output_matches is True
        # Decompressed into private memory: file-backed pages vanish, anonymous ones grow.
        assert r.memory is not None and r.memory.anon_kib > base.memory.anon_kib
        assert r.memory.file_kib < base.memory.file_kib
        assert r.large_env_ok is True and not r.build_info_readable and not r.problems
    assert rows["lzma"].layer_gzip < rows["default"].layer_gzip
    assert "--version" in hello_report.startup_method and "GET :8080/readyz" in hello_report.ready_method


def test_hello_risks_carry_evidence(hello_report: UpxReport):
    risks = {r.name: r for r in hello_report.risks}
    assert risks["scanners"].severity == "warn"
    assert any("example.com/hello-api" in e for e in risks["scanners"].evidence)
    assert risks["large-environment"].severity == "info"
    assert "1002 variables" in risks["large-environment"].evidence[0]  # 1000 service links, PATH, PORT
    assert set(risks) == {"scanners", "large-environment", "write-xor-execute", "memory", "pie"}


def test_auto_declines_below_the_budget_and_accepts_inside_it(hello_report: UpxReport):
    assert hello_report.decision.level is None and hello_report.decision.binary is None
    assert "no level saves enough" in hello_report.decision.reason
    generous = Budget(max_startup_ms=100_000, min_pull_saving_pct=5)
    level, reason, _ = decide(hello_report.rows, "auto", generous)
    assert level == "lzma", reason  # the largest gzip pull saving, inside this budget
    assert "inside the budget" in reason


def test_hello_input_is_unchanged_and_the_chosen_level_works(hello_report: UpxReport, tmp_path: Path):
    binary = hello_report.binary
    assert sha256_file(binary.path)[0] == binary.sha256
    chosen = hello_report.row("lzma").path
    assert Upx().test(chosen)[0]
    run = start_until_ready(
        [str(chosen)], env={**ENV, "PORT": "8080"}, cwd=tmp_path, probe=READY, timeout_s=20
    )
    assert run.ok and run.detail == "200 OK"


def test_pack_returns_a_tested_binary_and_keeps_the_input(go_build: BuildFixture, tmp_path: Path):
    need_tool("upx")
    echo = go_build("upx-echo")
    packed = pack(echo, "default", tmp_path / "out" / "echo")
    assert packed.path == tmp_path / "out" / "echo" and packed.profile == "slim+upx-default"
    assert packed.size < echo.size and packed.sha256 == sha256_file(packed.path)[0]
    assert sha256_file(echo.path)[0] == echo.sha256
    assert Upx().test(packed.path)[0]
    assert not [p for p in (tmp_path / "out").iterdir() if p.name != "echo"]  # no temp file left
    run = start_until_ready(
        [str(packed.path)], env={**ENV, "PORT": "9000"}, cwd=tmp_path, probe=ECHO, timeout_s=20
    )
    assert run.ok, run.detail


def test_fixture_without_version_flag_is_timed_to_ready(go_build: BuildFixture, tmp_path: Path):
    need_tool("upx")
    echo = go_build("upx-echo")
    budget = Budget(max_startup_ms=100_000, min_pull_saving_pct=-100)  # anything that works fits
    report = evaluate(echo, ("default",), ECHO, budget, work_dir=tmp_path, repetitions=2)
    assert report.startup_method.startswith("exec to ready") and "TCP :9000" in report.ready_method
    packed = report.row("default")
    assert packed.ready_ok and packed.startup_ms is not None and packed.memory is not None
    assert packed.large_env_ok and packed.output_matches is None
    assert report.decision.level == "default" and report.decision.binary is not None
    assert Upx().test(report.decision.binary.path)[0]


def _copy(src: Path, dest: Path) -> Path:
    shutil.copy2(src, dest)
    return dest


def _describe(path: Path, like: Binary) -> Binary:
    return Binary.from_file(path, **like.model_dump(exclude={"path", "sha256", "size"}))


def test_refusals_are_one_line_and_leave_the_input_unchanged(go_build: BuildFixture, tmp_path: Path):
    need_tool("upx")
    echo = go_build("upx-echo")
    packed = pack(echo, "default", tmp_path / "packed")
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n" + "echo hello\n" * 5000)
    os.chmod(script, 0o755)
    tiny = tmp_path / "tiny"
    tiny.write_bytes(tiny_elf())
    os.chmod(tiny, 0o755)
    cases = [(packed.path, "already packed"), (script, "not an ELF executable"), (tiny, "too small")]
    for path, words in cases:
        binary = _describe(path, echo)
        with pytest.raises(UpxRefusedError) as err:
            pack(binary, "default", tmp_path / f"{path.name}.out")
        assert words in err.value.message and "\n" not in err.value.message
        assert sha256_file(path)[0] == binary.sha256
        assert not (tmp_path / f"{path.name}.out").exists()


def test_cli_prints_the_tables_and_writes_the_choice(go_build: BuildFixture, tmp_path: Path, capsys):
    need_tool("upx")
    echo = go_build("upx-echo")
    src = _copy(echo.path, tmp_path / "echo")
    before = sha256_file(src)[0]
    out = tmp_path / "dist" / "echo.upx"
    args = ["upx", str(src), "--level", "default", "--port", "9000", "--reps", "2", "--out", str(out)]
    assert main([*args, "--min-pull-saving", "-100", "--max-startup-ms", "100000"]) == 0
    text = capsys.readouterr().out
    assert "size and pull" in text and "start-up and ready" in text and "decision (default): default" in text
    assert f"wrote {out}" in text and Upx().test(out)[0]
    assert sha256_file(src)[0] == before


def test_cli_json_is_one_document(go_build: BuildFixture, tmp_path: Path, capsys):
    need_tool("upx")
    src = _copy(go_build("upx-echo").path, tmp_path / "echo")
    assert (
        main(["upx", str(src), "--level", "default", "--reps", "1", "--json", "--min-pull-saving", "90"]) == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert [r["level"] for r in doc["rows"]] == ["unpacked", "default"]
    assert doc["decision"]["policy"] == "default" and doc["decision"]["level"] == "default"
    assert "outside the budget" in doc["decision"]["reason"]


def test_apply_policy_with_a_named_level_ships_the_packed_binary(go_build: BuildFixture, tmp_path: Path):
    need_tool("upx")
    echo = go_build("upx-echo")
    shipped, report = apply_policy(echo, "default", Budget(), ECHO, work_dir=tmp_path)
    assert report is not None and report.levels == ["default"]
    assert shipped.profile == "slim+upx-default" and shipped.path.parent == tmp_path
    assert Upx().test(shipped.path)[0] and sha256_file(echo.path)[0] == echo.sha256
