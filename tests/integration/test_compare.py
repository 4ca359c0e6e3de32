"""`goslim compare`: the example on static and scratch (and a base that cannot be read), run for real."""

from __future__ import annotations

import json

from goslim.cli.app import main
from tests.conftest import need_tool


def test_compare_example_runs_each_base(go_build, tmp_path, capsys) -> None:
    need_tool("runc")
    need_tool("umoci")
    hello = go_build("hello-api")
    missing = f"oci:{tmp_path / 'no-such-layout'}"
    code = main(["compare", str(hello.path), "--base", missing, "--port", "8080", "--json"])
    assert code == 0, capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    rows = {r["base"]: r for r in doc["rows"]}
    assert list(rows) == [missing, "static", "scratch"]
    assert rows[missing]["error"] and "does not exist" in rows[missing]["error"]
    static, scratch = rows["static"], rows["scratch"]
    assert static["start"]["started"] and static["start"]["exit_code"] == 0
    # hello-api exits 1 without zoneinfo and CA roots: scratch is smaller but does not start.
    assert not scratch["start"]["started"] and scratch["start"]["exit_code"] == 1
    assert scratch["pull_size"] < static["pull_size"] and scratch["files"] == 1
    assert static["carried"] == ["passwd", "nsswitch", "ca-bundle", "zoneinfo", "os-release"]


def test_compare_without_running(go_build, capsys) -> None:
    hello = go_build("hello-api")
    code = main(["compare", str(hello.path), "--no-run", "--compression", "zstd"])
    out = capsys.readouterr().out
    assert code == 0 and "static" in out and "scratch" in out and "not run" in out


def test_compare_with_upx_variant(go_build, capsys) -> None:
    need_tool("upx")
    hello = go_build("hello-api")
    code = main(["compare", str(hello.path), "--no-run", "--upx", "default", "--json"])
    assert code == 0, capsys.readouterr().err
    rows = {(r["base"], r["variant"]): r for r in json.loads(capsys.readouterr().out)["rows"]}
    slim, packed = rows[("static", "slim")], rows[("static", "slim + upx default")]
    assert packed["disk_size"] < slim["disk_size"]
    assert ("scratch", "slim + upx default") in rows
