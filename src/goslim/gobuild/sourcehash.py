"""A hash of the source a Go build reads: the module tree, its go.work and local replacements, or
(``package_source_state``) only what one main package's build reads."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from goslim.errors import UserInputError
from goslim.gobuild.toolchain import GoToolchain, json_stream

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
                h.update(file_digest(path))
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
    gowork = _go_work(toolchain)
    if gowork is not None:
        state["go.work"] = file_digest(gowork).hex()
        work = toolchain.run(["work", "edit", "-json", str(gowork)], check=False)
        try:
            uses = json.loads(work.stdout).get("Use") or [] if work.returncode == 0 else []
        except ValueError:
            uses = []
        for use in uses:
            target = (gowork.parent / use.get("DiskPath", "")).resolve()
            if target != module:
                state[f"use {use.get('DiskPath')}"] = tree_hash(target) if target.is_dir() else "missing"
    revision = _git_revision(toolchain)
    if revision:
        state["vcs"] = revision
    return state


def package_source_state(
    toolchain: GoToolchain,
    pattern: str,
    envs: Sequence[Mapping[str, str]],
    tags: Sequence[str] = (),
    exclude: Iterable[Path] = (),
    vcs: bool = True,
) -> dict[str, str]:
    """What of the source reaches one package's builds under each of ``envs``, so that services of
    one module that share nothing changed keep their state when another service is edited.

    Per dependency outside the standard library: a module from the module cache by path@version
    (immutable, checked against go.sum); anything else (this module, a local replacement, a
    workspace module, vendor/) by the files of its package directory (tests aside) and its embedded
    files. Also go.mod, go.sum and go.work. A local package with cgo may include headers from
    anywhere, so then the whole tree counts, as ``source_state`` hashes it. With ``vcs``, the
    revision and whether the checkout is modified: go stamps both into a default build.
    """
    module = toolchain.module_dir.resolve()
    cache = toolchain.run(["env", "GOMODCACHE"], check=False).stdout.strip()
    modcache = Path(cache).resolve() if cache else None
    flags = ["-tags=" + ",".join(tags)] if tags else []
    packages: dict[str, dict] = {}
    for env in envs:
        listed = toolchain.run(
            ["list", "-deps", "-e", "-json=ImportPath,Dir,Standard,Module,EmbedFiles,CgoFiles,Error",
             *flags, pattern],
            env=env,
            check=False,
        )  # fmt: skip
        if listed.returncode != 0 and not listed.stdout.strip():
            raise UserInputError(f"go list could not resolve {pattern}: {listed.stderr.strip()[:300]}",
                                 where=str(module))  # fmt: skip
        for pkg in json_stream(listed.stdout):
            packages.setdefault(f"{pkg.get('ImportPath')}", pkg)
    state: dict[str, str] = {}
    cgo = False
    for path, pkg in sorted(packages.items()):
        if pkg.get("Standard"):
            continue  # the Go version and environment are in the key already
        if pkg.get("Error"):
            state[f"pkg {path}"] = "error: " + str(pkg["Error"].get("Err", ""))[:200]
            continue
        mod = pkg.get("Module") or {}
        origin = mod.get("Replace") or mod
        directory = Path(pkg.get("Dir") or "").resolve()
        if origin.get("Version") and modcache is not None and directory.is_relative_to(modcache):
            state[f"mod {mod.get('Path')}"] = f"{origin.get('Path')}@{origin['Version']}"
            continue
        cgo = cgo or bool(pkg.get("CgoFiles"))
        state[f"pkg {path}"] = _package_files_hash(directory, pkg.get("EmbedFiles") or [])
    for name in ("go.mod", "go.sum"):
        if (module / name).is_file():
            state[name] = file_digest(module / name).hex()
    if cgo:
        state["module"] = tree_hash(module, exclude)
    gowork = _go_work(toolchain)
    if gowork is not None:
        state["go.work"] = file_digest(gowork).hex()
        work_sum = gowork.with_name("go.work.sum")
        if work_sum.is_file():
            state["go.work.sum"] = file_digest(work_sum).hex()
    if vcs:
        state |= _vcs_state(toolchain)
    return state


def _go_work(toolchain: GoToolchain) -> Path | None:
    """The go.work file the go command uses for this module, if any."""
    gowork = toolchain.run(["env", "GOWORK"], check=False).stdout.strip()
    return Path(gowork) if gowork and gowork != "off" and Path(gowork).is_file() else None


def _package_files_hash(directory: Path, embeds: Iterable[str]) -> str:
    """sha256 over a package directory's files (not its subdirectories, not tests) and its embeds."""
    h = hashlib.sha256()
    try:
        entries = list(os.scandir(directory))
        names = sorted(e.name for e in entries if e.is_file() and not e.name.endswith("_test.go"))
    except OSError as exc:
        return f"unreadable:{exc.errno}"
    for rel in [*names, *sorted(embeds)]:
        path = directory / rel
        h.update(rel.encode() + b"\0")
        try:
            h.update(file_digest(path))
        except OSError as exc:
            h.update(f"unreadable:{exc.errno}".encode())
    return h.hexdigest()


def _vcs_state(toolchain: GoToolchain) -> dict[str, str]:
    """HEAD and whether the checkout has changes: what go stamps as vcs.revision and vcs.modified."""
    revision = _git_revision(toolchain)
    if not revision:
        return {}
    return {"vcs": revision, "vcs.modified": str(checkout_modified(toolchain))}


def checkout_modified(toolchain: GoToolchain) -> bool:
    """Whether `git status --porcelain` lists anything (go stamps it as vcs.modified); True when git
    cannot say, so that a doubt never counts as unchanged."""
    git = toolchain.runner.which("git")
    if not git:
        return True
    status = toolchain.runner.run(
        [git, "status", "--porcelain"], cwd=toolchain.module_dir, timeout=60, check=False
    )
    return status.returncode != 0 or bool(status.stdout.strip())


def _git_revision(toolchain: GoToolchain) -> str:
    """HEAD's commit when the module is in a git checkout: go stamps it into default builds."""
    git = toolchain.runner.which("git")
    if not git:
        return ""
    result = toolchain.runner.run(
        [git, "rev-parse", "HEAD"], cwd=toolchain.module_dir, timeout=30, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else ""


def file_digest(path: Path) -> bytes:
    """The sha256 of a file's bytes, read in chunks."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").digest()
