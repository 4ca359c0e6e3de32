"""The warm path: `goslim slim` again with nothing changed reuses the build, the ablation, the UPX
measurements and the compare start checks, writes the same image digest, and runs verify again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from goslim.cli.app import main
from tests.conftest import EXAMPLE_DIR, need_tool


def _stages(out: Path) -> tuple[dict, dict[str, dict]]:
    run = json.loads((out / "report.json").read_text())
    return run, {s["stage"]: s for s in run["stages"]}


def test_a_rerun_with_nothing_changed_only_reverifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for tool in ("go", "runc", "upx"):
        need_tool(tool)
    monkeypatch.setenv("GOSLIM_CACHE", str(tmp_path / "cache"))  # a cold goslim cache to start with
    module = Path(shutil.copytree(EXAMPLE_DIR, tmp_path / "hello-api"))
    out = module / "goslim-report"  # inside the module, as by default: its files must not count as source
    args = ["slim", str(module), "--report", str(out), "--upx", "default"]

    assert main(args) == 0
    cold, cold_stages = _stages(out)
    assert "measured 7 builds" in cold_stages["ablation"]["message"]
    assert "reused" not in cold_stages["upx"]["message"]
    assert "same digest" not in cold_stages["image"].get("message", "")

    assert main(args) == 0
    warm, warm_stages = _stages(out)
    assert warm["image"]["digest"] == cold["image"]["digest"]
    assert "reused from the cache" in warm_stages["ablation"]["message"]
    assert "measurements reused from the cache" in warm_stages["upx"]["message"]
    assert warm["upx"]["decision"] == {**cold["upx"]["decision"], "binary": warm["upx"]["decision"]["binary"]}
    assert "same digest as the previous run" in warm_stages["image"]["message"]
    assert "start checks reused for" in warm_stages["compare"]["message"]
    # Verify is the one stage that runs again in full: the image is run for real each time.
    assert warm_stages["verify"]["status"] == "ok" and warm["checklist"]["results"]
    assert "reused" not in warm_stages["verify"].get("message", "")
