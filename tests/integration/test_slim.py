"""`goslim slim`, the main job, end to end with the real tools; and what happens when a stage fails."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from goslim.cli.app import main
from tests.conftest import EXAMPLE_DIR, GO_FIXTURES, REPO, need_tool


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    """What `make demo` does, once: the whole job on the bundled example with UPX on auto."""
    for tool in ("go", "runc", "umoci", "upx"):
        need_tool(tool)
    out = tmp_path_factory.mktemp("slim") / "report"
    lock = out.parent / "goslim.lock"  # not beside the example's goslim.yaml: tests leave the repo alone
    code = main(["slim", str(EXAMPLE_DIR), "--report", str(out), "--upx", "auto", "--lock", str(lock)])
    return code, out


def test_whole_job_on_the_example(demo_report: tuple[int, Path]) -> None:
    code, out = demo_report
    run = json.loads((out / "report.json").read_text())
    assert code == 0, [s for s in run["stages"] if s["status"] == "failed"]
    by_stage = {s["stage"]: s for s in run["stages"]}
    for stage in ("build", "ablation", "analyze", "upx", "image", "compare", "verify", "gc"):
        assert by_stage[stage]["status"] == "ok", by_stage[stage]
    # Without --db the scan uses vuln.go.dev: where it is unreachable the stage says so, never "ok".
    scan = by_stage["scan"]
    checked = run["scan"]["not_checked"] is None
    assert (scan["status"], checked) in (("ok", True), ("not checked", False)), scan
    assert by_stage["sign"]["status"] == "skipped"
    assert all(r["status"] in ("pass", "warn", "skip") for r in run["checklist"]["results"])
    journey = [j["label"] for j in run["journey"]]
    assert journey[0] == "default go build" and journey[-1] == "image to pull"
    assert run["journey"][-1]["size"] < run["journey"][0]["size"]
    claims = {c["claim"]: c for c in run["claims"]}
    assert claims["a stripped binary cannot be symbolised by pprof"]["verdict"] == "does not hold"
    assert any(
        "main.go" in line for line in claims["a stripped binary cannot be symbolised by pprof"]["evidence"]
    )
    assert run["upx"]["decision"]["reason"]
    assert {"cyclonedx", "spdx"} <= set(run["sbom"])
    # The files teams deploy with, shaped by what verify measured.
    assert Path(run["outputs"]["Dockerfile"]).read_text().count("FROM ") >= 2
    k8s = Path(run["outputs"]["kubernetes"]).read_text()
    assert "readOnlyRootFilesystem: true" in k8s and "terminationGracePeriodSeconds" in k8s
    # The image the job wrote is readable by an independent tool.
    need_tool("skopeo")
    inspected = subprocess.run(
        ["skopeo", "inspect", run["image_location"]], capture_output=True, text=True, check=True
    )
    assert json.loads(inspected.stdout)["Architecture"] == "amd64"


def test_junit_and_markdown_outputs(demo_report: tuple[int, Path]) -> None:
    _, out = demo_report
    junit = ET.fromstring((out / "junit.xml").read_text())
    assert junit.find("testsuite[@name='goslim.verify']") is not None
    assert "| verify | ok |" in (out / "report.md").read_text()


def test_html_report_in_headless_chromium(demo_report: tuple[int, Path], tmp_path: Path) -> None:
    """The report loads with no console errors and the screenshot is not blank."""
    chromium = need_tool("chromium")
    _, out = demo_report
    html = (out / "report.html").read_text()
    assert html.count("<svg") >= 3  # journey, bases, UPX and package charts are inline
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            (out / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    assert shot.stat().st_size > 50_000  # a page of tables and charts, not a blank page
    pixels = _distinct_colours(shot)
    assert pixels > 50, "the screenshot looks blank"


def _distinct_colours(png: Path) -> int:
    from matplotlib import image  # noqa: PLC0415 - slow import, only this test needs it

    data = image.imread(str(png))
    flat = (data[..., :3] * 255).astype("uint8").reshape(-1, 3)
    return len({tuple(p) for p in flat[:: max(1, len(flat) // 200_000)]})


def test_module_that_does_not_build_still_gets_a_report(tmp_path: Path, capsys) -> None:
    need_tool("go")
    module = tmp_path / "broken"
    shutil.copytree(GO_FIXTURES / "compile-error", module)
    out = tmp_path / "report"
    code = main(["slim", str(module), "--report", str(out), "--no-ablation"])
    err = capsys.readouterr().err
    assert code == 2  # the module does not build for a reason of its own: bad input, not a tool failure
    assert "go build" in err
    assert "main.go:5" in err  # the compiler's own line, on the terminal and not only in the report
    run = json.loads((out / "report.json").read_text())
    assert run["stages"][0]["status"] == "failed" and "go build" in run["stages"][0]["message"]
    assert {s["stage"]: s["status"] for s in run["stages"]}["image"] == "skipped"
    assert "failed" in (out / "report.html").read_text()


def test_image_that_fails_verify_exits_1_with_report(tmp_path: Path, capsys) -> None:
    for tool in ("go", "runc"):
        need_tool(tool)
    module = tmp_path / "ignores-sigterm"
    shutil.copytree(GO_FIXTURES / "ignores-sigterm", module)
    (module / "goslim.yaml").write_text(
        "verify:\n  port: 8080\n  health: /healthz\n  alive_seconds: 1\n  grace_seconds: 2\n"
    )
    out = tmp_path / "report"
    code = main(["slim", str(module), "--report", str(out), "--no-ablation", "--no-compare"])
    assert code == 1
    run = json.loads((out / "report.json").read_text())
    failed = [r["id"] for r in run["checklist"]["results"] if r["status"] == "fail"]
    assert failed and all("shutdown" in f or "sigterm" in f.lower() for f in failed), failed
    # The stage whose checks failed is failed everywhere: the list, JUnit and the report (not `ok verify`).
    verify = next(s for s in run["stages"] if s["stage"] == "verify")
    assert verify["status"] == "failed" and verify["message"].endswith(", ".join(failed)), verify
    junit = ET.fromstring((out / "junit.xml").read_text()).find("testsuite[@name='goslim.stages']")
    assert junit is not None and junit.get("failures") == "2"  # verify, and the k8s files' slow-stop policy
    assert junit.find("testcase[@name='verify']/failure") is not None
    assert "| verify | failed |" in (out / "report.md").read_text()
    assert "needed SIGKILL" in (out / "report.html").read_text()
    err = capsys.readouterr().err
    assert "did not pass" in err and "failed verify" in err


def test_unwritable_output_dir_is_one_line(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = main(["slim", str(EXAMPLE_DIR), "--report", str(blocker / "report")])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot write the report" in err and "Traceback" not in err
    assert blocker.read_text() == "not a directory"


def test_scan_policy_breach_exits_1_and_names_the_entry(tmp_path: Path, capsys) -> None:
    """A vulnerable dependency under scan.fail_on fails the job, after every stage has run."""
    for tool in ("go", "runc"):
        need_tool(tool)
    module = tmp_path / "vulnscan-app"
    shutil.copytree(GO_FIXTURES / "vulnscan-app", module)
    # The fixture is a one-shot program, not a server: judge only its static checks here.
    (module / "goslim.yaml").write_text("verify:\n  skip: [runtime, probes]\nscan:\n  fail_on: low\n")
    out = tmp_path / "report"
    db = REPO / "tests" / "fixtures" / "osv"
    code = main(["slim", str(module), "--report", str(out), "--db", str(db), "--no-ablation", "--no-compare"])
    assert code == 1
    run = json.loads((out / "report.json").read_text())
    scan = next(s for s in run["stages"] if s["stage"] == "scan")
    assert scan["status"] == "failed" and "--fail-on low: GO-2022-1059" in scan["message"]
    assert scan["policy"] == "--fail-on low: GO-2022-1059"
    assert "GO-2022-1059" in capsys.readouterr().err
