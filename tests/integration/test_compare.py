"""`goslim compare`: the example on static and scratch (and a base that cannot be read), run for real."""

from __future__ import annotations

import json
import shutil

from goslim.cli.app import main
from goslim.oci import FileEntry, Image, RegistryClient, build_layer, new_config, push
from goslim.platform import Platform
from tests.conftest import app_dir, need_tool
from tests.integration.test_verify_platforms import need_qemu


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


def test_compare_per_platform_on_request(registry, tmp_path, capsys) -> None:
    """`compare --platform linux/amd64,linux/arm64`: a build per platform, each base's image of that
    platform, arm64 run under qemu-user; a base without arm64 gets a refused row on the arm64 table only."""
    need_tool("go")
    need_qemu()
    module = tmp_path / "hello-api"
    shutil.copytree(app_dir("hello-api"), module)
    cfg = new_config(Platform(os="linux", architecture="amd64"), env=["PATH=/bin"], workdir="/")
    base = Image.build(cfg, [build_layer([FileEntry.file("/etc/hostname", b"base\n")], mtime=0)])
    ref = registry.ref("compare/amd64-only", "1")
    with RegistryClient() as client:
        push(base, ref, client)
    code = main(["compare", str(module), "--platform", "linux/amd64,linux/arm64", "--base", ref,
                 "--port", "8080", "--json"])
    assert code == 0, capsys.readouterr().err
    amd, arm = json.loads(capsys.readouterr().out)["comparisons"]
    assert (amd["platform"], arm["platform"]) == ("linux/amd64", "linux/arm64")
    amd_rows, arm_rows = ({r["base"]: r for r in c["rows"]} for c in (amd, arm))
    assert amd_rows[ref]["error"] is None
    assert "for arm64 but base" in arm_rows[ref]["error"] and "is linux/amd64" in arm_rows[ref]["error"]
    assert arm_rows["static"]["start"]["started"] and arm_rows["static"]["start"]["exit_code"] == 0
    assert "emulated: qemu-aarch64" in arm["start_check"] and "emulated" not in amd["start_check"]
    assert arm_rows["static"]["digest"] != amd_rows["static"]["digest"]
