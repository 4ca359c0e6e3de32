"""A hash of the source a Go build reads: the module tree, its go.work and local replacements."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from goslim.gobuild.toolchain import GoToolchain

# Version-control metadata: large, and it reaches a binary only through the revision (hashed apart).
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".bzr", ".jj"})


def tree_hash(root: Path, exclude: Iterable[Path] = ()) -> str:
    """sha256 over every file's relative path, exec bit and content under ``root``.

    Skipped: VCS folders, nested modules (a folder with its own go.mod is another module)
    and ``exclude`` (goslim's own outputs inside the module). Symlinks count by their target text.
    """
    root = root.resolve()
    skip = {p.resolve() for p in exclude}
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS and (here / d) not in skip and not (here / d / "go.mod").exists()
        )
        for name in sorted(filenames):
            path = here / name
            if path in skip:
                continue
            rel = path.relative_to(root).as_posix()
            h.update(rel.encode() + b"\0")
            if path.is_symlink():
                h.update(b"L" + os.readlink(path).encode() + b"\0")
                continue
            try:
                h.update(b"X" if os.access(path, os.X_OK) else b"F")
                h.update(_file_digest(path))
            except OSError as exc:  # an unreadable file: go cannot read it either; hash why
                h.update(f"unreadable:{exc.errno}".encode())
    return h.hexdigest()


def source_state(toolchain: GoToolchain, exclude: Iterable[Path] = ()) -> dict[str, str]:
    """What of the module's source reaches a build: its tree, go.work, local replacements, revision."""
    module = toolchain.module_dir.resolve()
    state = {"module": tree_hash(module, exclude)}
    edit = toolchain.run(["mod", "edit", "-json"], check=False)
    try:
        replaces = json.loads(edit.stdout).get("Replace") or [] if edit.returncode == 0 else []
    except ValueError:
        replaces = []
    for rep in replaces:
        new = rep.get("New") or {}
        if new.get("Path") and not new.get("Version"):  # a local directory replacement
            target = (module / new["Path"]).resolve()
            state[f"replace {new['Path']}"] = tree_hash(target) if target.is_dir() else "missing"
    gowork = toolchain.run(["env", "GOWORK"], check=False).stdout.strip()
    if gowork and gowork != "off" and Path(gowork).is_file():
        state["go.work"] = _file_digest(Path(gowork)).hex()
        work = toolchain.run(["work", "edit", "-json", gowork], check=False)
        try:
            uses = json.loads(work.stdout).get("Use") or [] if work.returncode == 0 else []
        except ValueError:
            uses = []
        for use in uses:
            target = (Path(gowork).parent / use.get("DiskPath", "")).resolve()
            if target != module:
                state[f"use {use.get('DiskPath')}"] = tree_hash(target) if target.is_dir() else "missing"
    revision = _git_revision(toolchain)
    if revision:
        state["vcs"] = revision
    return state


def _git_revision(toolchain: GoToolchain) -> str:
    """HEAD's commit when the module is in a git checkout: go stamps it into default builds."""
    git = toolchain.runner.which("git")
    if not git:
        return ""
    result = toolchain.runner.run(
        [git, "rev-parse", "HEAD"], cwd=toolchain.module_dir, timeout=30, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else ""


def _file_digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.digest()
