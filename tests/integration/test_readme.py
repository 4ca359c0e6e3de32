"""The README's walkthrough block runs as it is, so every command it shows keeps working."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import REPO, need_tool

START, END = "<!-- walkthrough:start -->", "<!-- walkthrough:end -->"


def walkthrough() -> str:
    text = (REPO / "README.md").read_text()
    block = text.split(START, 1)[1].split(END, 1)[0]
    return block.split("```sh\n", 1)[1].split("```", 1)[0]


def test_readme_walkthrough_runs(tmp_path: Path) -> None:
    for tool in ("go", "runc", "umoci", "upx"):
        need_tool(tool)
    script = walkthrough().replace("D=/tmp/goslim-demo", f"D={tmp_path}")
    assert f"D={tmp_path}" in script, "the walkthrough must keep its output folder in $D"
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for produced in (
        "bin/hello-api",
        "image/index.json",
        "verify.xml",
        "scan.sarif",
        "keys/cosign.pub",
        "docker/Dockerfile",
        "k8s.yaml",
        "goslim-workflow.yaml",
    ):
        assert (tmp_path / produced).exists(), produced
