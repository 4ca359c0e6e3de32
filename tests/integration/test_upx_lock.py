"""goslim.lock: `slim --upx auto` ships the same image and deploy files on a busy machine, with the
real tools (go, upx, runc); `--redecide` measures again; a level edited by hand is used."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from goslim.cli.app import main
from tests.conftest import EXAMPLE_DIR, need_tool

FAST = ["--upx", "auto", "--no-ablation", "--no-compare"]
DEPLOY_FILES = ("deploy/k8s.yaml", "deploy/Dockerfile")


@contextmanager
def cpu_burners() -> Iterator[int]:
    """A busy CI runner: one process spinning on every core while the block runs."""
    count = os.cpu_count() or 1
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield count
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def slim(module: Path, report: Path, *extra: str) -> dict:
    code = main(["slim", str(module), "--report", str(report), *FAST, *extra])
    run = json.loads((report / "report.json").read_text())
    assert code == 0, [s for s in run["stages"] if s["status"] != "ok"]
    return run


def decision_section(run: dict) -> list[dict]:
    """The decisions as the report states them; where each came from is compared separately."""
    return [{k: v for k, v in d.items() if k not in ("source", "measured_now")} for d in run["decisions"]]


def stage_message(run: dict, stage: str) -> str:
    return next(s["message"] for s in run["stages"] if s["stage"] == stage)


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The example (a copy, so goslim.lock lands beside its goslim.yaml) after one quiet `slim --upx auto`."""
    for tool in ("go", "runc", "upx"):
        need_tool(tool)
    module = tmp_path_factory.mktemp("lock") / "hello-api"
    shutil.copytree(EXAMPLE_DIR, module)
    run = slim(module, module.parent / "first")
    return module, run


def copy_module(decided: tuple[Path, dict], where: Path) -> Path:
    module = where / "hello-api"
    shutil.copytree(decided[0], module)
    return module


def test_a_busy_machine_ships_the_same_image_and_deploy_files(decided, tmp_path: Path) -> None:
    module, first = decided
    lock = module / "goslim.lock"
    recorded = lock.read_text()
    assert first["decisions"][0]["source"] == "measured now"
    with cpu_burners():
        second = slim(module, tmp_path / "busy")
    assert second["image"]["digest"] == first["image"]["digest"]
    for name in DEPLOY_FILES:
        assert (tmp_path / "busy" / name).read_bytes() == (module.parent / "first" / name).read_bytes(), name
    assert decision_section(second) == decision_section(first)
    assert "reused decision from goslim.lock" in stage_message(second, "upx")
    assert [d["source"] for d in second["decisions"]] == ["reused from goslim.lock"] * 3
    assert second["upx"] is None  # nothing was measured
    # The raw times of the busy run are still in the report, beside the values they did not change.
    assert all(d["measured_now"] for d in second["decisions"][1:])
    assert lock.read_text() == recorded  # nothing new to record: the file is not rewritten


def test_redecide_under_load_keeps_the_decision_or_says_the_margin_was_crossed(
    decided, tmp_path: Path
) -> None:
    module = copy_module(decided, tmp_path)
    before = decided[1]["decisions"][0]
    with cpu_burners():
        run = slim(module, tmp_path / "redecided", "--redecide")
    upx = run["decisions"][0]
    assert upx["source"] == "measured now"
    message = stage_message(run, "upx")
    assert message.startswith("measured again (--redecide)")
    assert upx["value"] == before["value"] or "the margin was crossed" in message, message
    # Every level's cost is stated with its spread and the rounds it took.
    for row in run["upx"]["rows"][1:]:
        assert row["startup_spread_ms"] is not None and row["startup_cost_ms"] is not None
    assert run["upx"]["repetitions"] >= 5


def test_a_level_edited_by_hand_is_checked_and_used(decided, tmp_path: Path) -> None:
    module = copy_module(decided, tmp_path)
    lock = module / "goslim.lock"
    text = lock.read_text()
    decided_level = decided[1]["lock"]["upx"]["level"]
    chosen = "lzma" if decided_level == "none" else "none"
    assert text.count(f"\n      level: {decided_level}\n") == 1
    lock.write_text(text.replace(f"\n      level: {decided_level}\n", f"\n      level: {chosen}\n"))
    run = slim(module, tmp_path / "by-hand")
    upx = run["decisions"][0]
    assert upx["source"] == "set by hand in goslim.lock"
    assert upx["inputs"]["decided by goslim"] == decided_level
    assert f"reused decision from goslim.lock: {chosen} (set by hand" in stage_message(run, "upx")
    packed = [j for j in run["journey"] if j["label"].startswith("UPX")]
    assert bool(packed) == (chosen == "lzma")
    assert run["image"]["digest"] != decided[1]["image"]["digest"]
    assert f"\n      level: {chosen}\n" in lock.read_text()  # the hand edit stays


def test_a_bad_level_in_the_lock_is_one_line(decided, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    module = copy_module(decided, tmp_path)
    lock = module / "goslim.lock"
    level = decided[1]["lock"]["upx"]["level"]
    lock.write_text(lock.read_text().replace(f"\n      level: {level}\n", "\n      level: lzmaa\n"))
    code = main(["slim", str(module), "--report", str(tmp_path / "r"), *FAST])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert (
        err[0].startswith(f"error: {lock}: invalid value for 'services.")
        and "unknown UPX level 'lzmaa'" in err[0]
    )
    assert "Traceback" not in "\n".join(err)
    assert not (tmp_path / "r").exists()  # refused before any work
