"""An output goslim cannot write is one line and exit 2, never a traceback.

The cases of issue 13: a file where the output folder must be (``build --out``,
``verify --junit``, ``keygen --out``) and a read-only output (``keygen``, ``verify
--markdown``, ``scan --sarif``), each through the real CLI in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from goslim.oci import FileEntry, Image, Platform, build_layer, new_config, write_oci_layout
from tests.conftest import app_dir, need_tool

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

GOSLIM = [sys.executable, "-m", "goslim"]
PASSWORD = {"COSIGN_PASSWORD": "test"}


def goslim(args: list[str], cwd: Path, *, read_only: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI; with ``read_only`` that folder is mounted read-only for it (root ignores modes)."""
    command = [*GOSLIM, *args]
    if read_only is not None:
        if os.geteuid() == 0:
            need_tool("unshare")
            remount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
            command = ["unshare", "--mount", "sh", "-c", remount, str(read_only), *command]
        else:
            read_only.chmod(0o555)
    env = {**os.environ, **PASSWORD}
    return subprocess.run(command, check=False, cwd=cwd, capture_output=True, text=True, timeout=240, env=env)


def assert_one_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("error: cannot write "), result.stderr
    assert all(w in lines[0] for w in words), lines[0]
    assert all(line.startswith("  ") for line in lines[1:]), result.stderr


@pytest.fixture
def blocker(tmp_path: Path) -> Path:
    """A plain file where goslim will be asked to make a folder."""
    path = tmp_path / "a-file"
    path.write_text("keep me\n")
    return path


@pytest.fixture(scope="module")
def small_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    layer = build_layer([FileEntry.file("app", b"#!/bin/true\n", mode=0o755)])
    config = new_config(Platform(os="linux", architecture="amd64"), entrypoint=["/app"], user="65532:65532")
    root = tmp_path_factory.mktemp("small-image") / "layout"
    write_oci_layout(root, Image.build(config, [layer]), "t")
    return f"oci:{root}:t"


def test_build_out_is_a_file(tmp_path: Path, blocker: Path) -> None:
    need_tool("go")
    result = goslim(["build", str(app_dir("no-needs")), "--out", str(blocker)], tmp_path)
    assert_one_line(result, str(blocker), "is a file, not a folder")
    assert blocker.read_text() == "keep me\n"


def test_build_out_below_a_file(tmp_path: Path, blocker: Path) -> None:
    need_tool("go")
    result = goslim(["build", str(app_dir("no-needs")), "--out", str(blocker / "dist")], tmp_path)
    assert_one_line(result, f"{blocker} is a file, not a folder")


def test_verify_junit_below_a_file(tmp_path: Path, blocker: Path, small_image: str) -> None:
    result = goslim(["verify", small_image, "--check", "no-shell", "--junit", str(blocker / "junit.xml")],
                    tmp_path)
    assert_one_line(result, "junit.xml", "is a file, not a folder")
    assert "no-shell" in result.stdout  # the checklist was shown before the write failed


def test_verify_junit_is_a_folder(tmp_path: Path, small_image: str) -> None:
    result = goslim(["verify", small_image, "--check", "no-shell", "--junit", str(tmp_path)], tmp_path)
    assert_one_line(result, "it is a folder")


def test_keygen_out_is_a_file(tmp_path: Path, blocker: Path) -> None:
    result = goslim(["keygen", "--out", str(blocker)], tmp_path)
    assert_one_line(result, "cosign.key", "is a file, not a folder")
    assert blocker.read_text() == "keep me\n"


def test_keygen_into_read_only_folder(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    result = goslim(["keygen", "--out", str(keys)], tmp_path, read_only=keys)
    assert_one_line(result, "cosign.key")
    assert list(keys.iterdir()) == []


def test_verify_markdown_into_read_only_folder(tmp_path: Path, small_image: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = goslim(["verify", small_image, "--check", "no-shell", "--markdown", str(out / "v.md")],
                    tmp_path, read_only=out)
    assert_one_line(result, "v.md")
    assert list(out.iterdir()) == []


def test_scan_sarif_into_read_only_folder(tmp_path: Path, go_build) -> None:
    binary = go_build("no-needs")
    out, db = tmp_path / "out", tmp_path / "db"
    out.mkdir()
    db.mkdir()
    result = goslim(["scan", str(binary.path), "--db", str(db), "--no-attach", "--out", str(tmp_path),
                     "--sarif", str(out / "scan.sarif")], tmp_path, read_only=out)
    assert_one_line(result, "scan.sarif")
    assert list(out.iterdir()) == []
