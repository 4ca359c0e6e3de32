"""The source hash behind the ablation cache: every file a build may read, nothing goslim writes."""

from __future__ import annotations

import os
from pathlib import Path

from goslim.gobuild.sourcehash import tree_hash


def _module(root: Path) -> Path:
    (root / "cmd").mkdir(parents=True)
    (root / "go.mod").write_text("module example.com/m\n")
    (root / "main.go").write_text("package main\nfunc main() {}\n")
    (root / "cmd" / "data.txt").write_text("embedded\n")
    return root


def test_any_source_change_changes_the_hash(tmp_path: Path):
    root = _module(tmp_path / "m")
    first = tree_hash(root)
    assert tree_hash(root) == first
    (root / "cmd" / "data.txt").write_text("embedded!\n")
    second = tree_hash(root)
    assert second != first
    os.chmod(root / "main.go", 0o755)
    assert tree_hash(root) != second
    (root / "cmd" / "data.txt").rename(root / "cmd" / "other.txt")
    assert tree_hash(root) not in (first, second)


def test_outputs_vcs_folders_and_nested_modules_do_not_count(tmp_path: Path):
    root = _module(tmp_path / "m")
    first = tree_hash(root, exclude=[root / "goslim-report"])
    (root / "goslim-report").mkdir()
    (root / "goslim-report" / "report.json").write_text("{}")
    (root / ".git").mkdir()
    (root / ".git" / "index").write_text("x")
    (root / "tools").mkdir()
    (root / "tools" / "go.mod").write_text("module example.com/tools\n")
    (root / "tools" / "t.go").write_text("package main\n")
    assert tree_hash(root, exclude=[root / "goslim-report"]) == first
    assert tree_hash(root) != first  # the report counts when not excluded


def test_symlinks_count_by_their_target_text(tmp_path: Path):
    root = _module(tmp_path / "m")
    (root / "link").symlink_to("main.go")
    first = tree_hash(root)
    (root / "link").unlink()
    (root / "link").symlink_to("go.mod")
    assert tree_hash(root) != first
