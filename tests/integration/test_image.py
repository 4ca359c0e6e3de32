"""`goslim image` for real: Go builds, analyze, layers read back by skopeo/umoci, run by runc."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from goslim.bases import IncompatibleBaseError
from goslim.binary import analyze
from goslim.cli.app import main
from goslim.image import ImageOptions, assemble
from goslim.image.startcheck import check_starts
from goslim.oci import write_oci_layout
from goslim.verify import VerifyOptions
from tests.conftest import app_dir, need_tool

HEALTHZ = VerifyOptions(port=8080, health="/healthz", readiness="/healthz", grace_seconds=10)


def layer_paths(assembled) -> set[str]:
    out: set[str] = set()
    for layer in assembled.image.layers:
        with layer.open_uncompressed() as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
            out.update(m.name for m in tar)
    return out


@pytest.fixture(scope="module")
def hello(go_build):
    binary = go_build("hello-api")
    return binary, analyze(binary.path)


def test_example_on_default_base_runs_and_stops_cleanly(hello, tmp_path) -> None:
    need_tool("umoci")
    need_tool("runc")
    binary, report = hello
    assembled = assemble(binary, report, "static")
    write_oci_layout(tmp_path / "layout", assembled.image, "t")
    # skopeo reads what goslim wrote and agrees on the digest.
    raw = subprocess.run(["skopeo", "inspect", "--raw", f"oci:{tmp_path / 'layout'}:t"], capture_output=True,
                         check=True, timeout=60).stdout
    assert json.loads(raw)["config"]["digest"] == assembled.image.manifest["config"]["digest"]
    result = check_starts(assembled.image, HEALTHZ)
    assert result.started, result
    assert "GET :8080/healthz" in result.detail and result.verdicts["readiness"] == "pass"
    assert result.exit_code == 0, result.log_tail


def test_roots_and_zoneinfo_follow_the_needs(go_build) -> None:
    roots = go_build("needs-roots")
    zones = go_build("needs-zoneinfo")
    plain = go_build("no-needs")
    roots_img = assemble(roots, analyze(roots.path), "static")
    assert "etc/ssl/certs/ca-certificates.crt" in layer_paths(roots_img)
    zones_img = assemble(zones, analyze(zones.path), "static")
    zone_paths = {p for p in layer_paths(zones_img) if p.startswith("usr/share/zoneinfo/")}
    # The one constant name it loads, plus UTC (and the directories they sit in).
    assert {"usr/share/zoneinfo/America/New_York", "usr/share/zoneinfo/UTC"} <= zone_paths
    assert len(zone_paths) <= 6, zone_paths
    plain_report = analyze(plain.path)
    plain_img = assemble(plain, plain_report, "static")
    paths = layer_paths(plain_img)
    assert "etc/ssl/certs/ca-certificates.crt" not in paths and "etc/passwd" in paths
    # With time/tzdata linked in, analyze finds no zoneinfo need and the base carries none.
    embedded = go_build("needs-zoneinfo", tags=("timetzdata",))
    embedded_report = analyze(embedded.path)
    assert not embedded_report.needs.zoneinfo.needed
    embedded_paths = layer_paths(assemble(embedded, embedded_report, "static"))
    assert not any(p.startswith("usr/share/zoneinfo") for p in embedded_paths)


def test_no_needs_binary_gets_no_zoneinfo(go_build) -> None:
    plain = go_build("no-needs")
    plain_report = analyze(plain.path)
    paths = layer_paths(assemble(plain, plain_report, "static"))
    assert not plain_report.needs.zoneinfo.needed
    assert not any(p.startswith("usr/share/zoneinfo") for p in paths)


def test_missing_roots_is_what_breaks_scratch(go_build) -> None:
    need_tool("umoci")
    need_tool("runc")
    roots = go_build("needs-roots")
    report = analyze(roots.path)
    on_scratch = check_starts(assemble(roots, report, "scratch").image, HEALTHZ)
    assert not on_scratch.started and on_scratch.exit_code == 1
    on_static = check_starts(assemble(roots, report, "static").image, HEALTHZ)
    assert on_static.started and on_static.exit_code == 0


def test_cgo_dynamic_refused_on_scratch_naming_the_interpreter(go_build) -> None:
    dyn = go_build("cgo-dynamic", profile="default", cgo=True)
    report = analyze(dyn.path)
    assert not report.elf.static
    with pytest.raises(IncompatibleBaseError) as err:
        assemble(dyn, report, "scratch")
    assert report.elf.interpreter in err.value.message
    assert "CGO_ENABLED=0" in (err.value.hint or "")


def test_cli_image_from_binary_json(hello, tmp_path, capsys) -> None:
    binary, _ = hello
    code = main(["image", str(binary.path), "--to", f"oci:{tmp_path / 'out'}:v1", "--compression", "zstd",
                 "--json"])
    out = capsys.readouterr().out
    assert code == 0
    doc = json.loads(out)
    assert doc["location"] == f"oci:{tmp_path / 'out'}:v1"
    a = doc["assembled"]
    assert a["compression"] == "zstd" and a["stats"]["pull_size"] > 0 and a["stats"]["disk_size"] > 0
    included = {p["item"]: p for p in a["base"]["provisions"] if p["included"]}
    assert included["ca-bundle"]["version"] and included["zoneinfo"]["version"]
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "v1"


def test_cli_refuses_dynamic_binary_on_static(go_build, capsys) -> None:
    dyn = go_build("cgo-dynamic", profile="default", cgo=True)
    code = main(["image", str(dyn.path), "--base", "static", "--to", "oci:/nonexistent-never-written"])
    err = capsys.readouterr().err
    assert code == 2
    assert "dynamically linked" in err and "hint:" in err and "Traceback" not in err
    assert not Path("/nonexistent-never-written").exists()


def test_cli_image_from_module_dir_prices_time_zones(tmp_path, capsys) -> None:
    need_tool("go")
    # The example takes its zone name from the environment, so any zone may load: files vs embed.
    module = tmp_path / "hello-api"
    shutil.copytree(app_dir("hello-api"), module)
    code = main(["image", str(module), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["location"].startswith(f"oci:{module / 'dist' / 'image'}")
    tz = doc["tz"]
    assert tz["files_bytes"] > 0 and tz["embed_bytes"] > 0 and tz["smaller"] in ("files", "embed")


def test_unknown_base_layout_is_one_line(hello, tmp_path, capsys) -> None:
    binary, _ = hello
    base = f"oci:{tmp_path / 'nope'}"
    code = main(["image", str(binary.path), "--base", base, "--to", f"oci:{tmp_path}/o"])
    err = capsys.readouterr().err
    assert code == 2 and "error:" in err and "Traceback" not in err


def test_zstd_option_changes_only_compression(hello) -> None:
    binary, report = hello
    gz = assemble(binary, report, "static")
    zs = assemble(binary, report, "static", ImageOptions(compression="zstd"))
    assert gz.image.diff_ids == zs.image.diff_ids
    assert zs.stats.pull_size < gz.stats.pull_size
