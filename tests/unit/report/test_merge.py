"""`goslim report merge`: many services' report.json files as one summary; every report file is untrusted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from goslim.cli.app import main
from goslim.report import write_report
from goslim.report.merge import (
    MAX_DEPTH,
    MAX_REPORT_BYTES,
    MAX_VALUE,
    find_reports,
    merge_reports,
    read_report,
)
from goslim.report.merge_render import merged_to_html, merged_to_markdown
from goslim.report.models import SlimRun, StageOutcome
from goslim.untrusted import DEFAULT_LIMIT
from tests.security.test_rendering import (
    LONG,
    _assert_markdown_rows_intact,
    _hostile_run,
    assert_inert,
    outside_code_blocks,
)
from tests.unit.report.test_render import sample_run


def service(name: str, *, exit_status: int = 0, started: str = "2026-01-01T00:00:00+00:00") -> SlimRun:
    run = sample_run()
    ok = run.checklist.model_copy(update={"results": run.checklist.results[:1]})  # type: ignore[union-attr]
    # A failed check fails the verify stage, as the pipeline records it.
    verify = StageOutcome(stage="verify", status="failed" if exit_status else "ok", seconds=3.0)
    return run.model_copy(
        update={
            "package": f"example.com/mono/cmd/{name}",
            "exit_status": exit_status,
            "started": started,
            "checklist": run.checklist if exit_status else ok,
            "stages": [verify if s.stage == "verify" else s for s in run.stages],
            "published": f"127.0.0.1:5000/team/{name}:latest",
        }
    )


def shard(root: Path, index: int, runs: list[SlimRun]) -> None:
    for run in runs:
        write_report(run, root / f"shard-{index}" / run.package.rsplit("/", 1)[-1])


def test_merge_names_every_service_of_every_shard(tmp_path: Path) -> None:
    shard(tmp_path / "in", 1, [service("alpha"), service("gamma")])
    shard(tmp_path / "in", 2, [service("beta", exit_status=1)])
    out = tmp_path / "out"
    merged = merge_reports(find_reports([tmp_path / "in"]), out)
    assert [s.package.rsplit("/", 1)[-1] for s in merged.services] == ["alpha", "beta", "gamma"]
    assert merged.exit_status == 1
    beta = merged.services[1]
    assert beta.failed == ["verify checks shutdown"] and beta.checks == {
        "pass": 1,
        "warn": 0,
        "fail": 1,
        "skip": 0,
    }
    assert merged.services[0].failed == [] and merged.services[0].image == "127.0.0.1:5000/team/alpha:latest"
    # Each row links the service's own report, relative to the summary.
    assert merged.services[0].report_html == "../in/shard-1/alpha/report.html"
    md = merged_to_markdown(merged)
    assert "3 services — 2 passed, 1 did not" in md
    _assert_markdown_rows_intact(md)


def test_cli_writes_the_summary_and_exits_with_the_worst_status(tmp_path: Path, capsys) -> None:
    shard(tmp_path / "in", 1, [service("alpha")])
    shard(tmp_path / "in", 2, [service("beta", exit_status=1)])
    code = main(["report", "merge", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--json"])
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert code == 1
    assert "1 of 2 services did not pass: example.com/mono/cmd/beta" in captured.err
    assert [s["package"] for s in document["services"]] == [
        "example.com/mono/cmd/alpha",
        "example.com/mono/cmd/beta",
    ]
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["exit_status"] == 1 and len(written["services"]) == 2
    assert "example.com/mono/cmd/beta" in (tmp_path / "out" / "summary.html").read_text()
    assert "example.com/mono/cmd/alpha" in (tmp_path / "out" / "summary.md").read_text()


def test_a_newer_report_of_the_same_service_wins(tmp_path: Path) -> None:
    shard(tmp_path / "old", 1, [service("alpha", exit_status=1, started="2026-01-01T00:00:00+00:00")])
    shard(tmp_path / "new", 1, [service("alpha", started="2026-01-02T00:00:00+00:00")])
    merged = merge_reports(find_reports([tmp_path / "old", tmp_path / "new"]), tmp_path / "out")
    assert len(merged.services) == 1 and merged.services[0].exit_status == 0
    assert merged.duplicates == [str(tmp_path / "old" / "shard-1" / "alpha" / "report.json")]


def test_files_that_are_not_goslim_reports_are_listed_not_guessed(tmp_path: Path, capsys) -> None:
    shard(tmp_path / "in", 1, [service("alpha")])
    (tmp_path / "in" / "other").mkdir()
    (tmp_path / "in" / "other" / "report.json").write_text('{"tool": "something else"}')
    (tmp_path / "in" / "broken").mkdir()
    (tmp_path / "in" / "broken" / "report.json").write_text('{"goslim_version": ')
    big = tmp_path / "big.json"
    with big.open("wb") as f:
        f.truncate(MAX_REPORT_BYTES + 1)  # sparse: no disk used
    code = main(["report", "merge", str(tmp_path / "in"), str(big), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "3 report file(s) could not be read" in err and "Traceback" not in err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [s["package"] for s in summary["services"]] == [
        "example.com/mono/cmd/alpha"
    ]  # the rest still merged
    whys = {Path(u["source"]).parent.name: u["why"] for u in summary["unreadable"]}
    assert whys["other"].startswith("not a goslim report")
    assert whys["broken"].startswith("not a goslim report")
    assert whys[tmp_path.name] == "larger than 16 MiB"


def test_no_report_at_all_is_bad_input(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    code = main(["report", "merge", str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "no report.json in" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["report", "merge", str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2


def test_search_is_bounded_in_depth_and_skips_links_and_fifos(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*[f"d{i}" for i in range(MAX_DEPTH + 2)])
    write_report(service("deep"), deep)
    write_report(service("shallow"), tmp_path / "s")
    (tmp_path / "link").mkdir()
    os.symlink(tmp_path / "s" / "report.json", tmp_path / "link" / "report.json")
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / "report.json")  # opening it would block the merge
    found = find_reports([tmp_path])
    assert found == [tmp_path / "s" / "report.json"]


def test_a_hostile_report_renders_inert_and_bounded(tmp_path: Path) -> None:
    hostile = _hostile_run().model_copy(update={"published": f"reg/{LONG}", "exit_status": 1})
    # A folder name that would be a javascript: URL if it were not quoted.
    write_report(hostile, tmp_path / "javascript:alert(1)")
    read = read_report(tmp_path / "javascript:alert(1)" / "report.json")
    assert isinstance(read, SlimRun) and read.package == hostile.package
    merged = merge_reports(find_reports([tmp_path]), tmp_path)
    assert merged.services[0].report_html == "javascript%3Aalert%281%29/report.html"
    html = merged_to_html(merged)
    assert_inert(html.encode(), "summary.html")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "A" * (MAX_VALUE + 1) not in html and len(html) < 50_000  # a 200,000-character value is cut
    md = merged_to_markdown(merged)
    assert_inert(md.encode(), "summary.md")
    assert "<script>" not in outside_code_blocks(md)
    assert "A" * (DEFAULT_LIMIT + 1) not in md
    _assert_markdown_rows_intact(md)


@pytest.mark.parametrize("text", ["[]", '"x"', "1e999999", "[" * 100_000])
def test_json_that_is_not_an_object_is_unreadable(tmp_path: Path, text: str) -> None:
    path = tmp_path / "report.json"
    path.write_text(text)
    read = read_report(path)
    assert not isinstance(read, SlimRun) and read.why.startswith("not a goslim report")
