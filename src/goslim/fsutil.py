"""Atomic file writes: temp file in the same folder, fsync, rename.

Every failure to create an output (its folder, the temp file, the rename) becomes one
``OutputPathError`` naming the path and why, here and nowhere else.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from goslim.errors import OutputPathError

_WHY = {
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EISDIR: "it is a folder",
    errno.ENAMETOOLONG: "the name is too long",
}


def write_bytes_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, never a half."""
    with atomic_path(path) as tmp:
        try:
            tmp.write_bytes(data)
            os.chmod(tmp, mode)
        except OSError as exc:
            raise output_error(path, exc) from exc


def write_text_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """``write_bytes_atomic`` for text (UTF-8)."""
    write_bytes_atomic(path, text.encode(), mode)


def write_output(path: Path, text: str) -> None:
    """Write a file the user named with --out (atomic; a failure is one line about that path)."""
    write_text_atomic(path, text)


def output_dir(path: Path) -> Path:
    """Make the output folder ``path`` (and its parents); a failure is one line about that path."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(path, exc) from exc
    return path


def output_error(path: Path, exc: OSError, what: str = "") -> OutputPathError:
    """The one-line error for an output ``path`` (a ``what``: "docker-archive") that could not be written."""
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        blocker = _first_non_folder(path)
        why = f"{blocker} is a file, not a folder" if blocker else "a file is in the way"
    else:
        why = _WHY.get(exc.errno or 0, exc.strerror or str(exc))
    return OutputPathError(f"cannot write {what + ' ' if what else ''}{path}: {why}",
                           hint="choose another output path; nothing was written there")


def _first_non_folder(path: Path) -> Path | None:
    for candidate in (*reversed(path.parents), path):
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return None


def copy_atomic(src: Path, dest: Path) -> None:
    with atomic_path(dest) as tmp:
        shutil.copy2(src, tmp)


@contextlib.contextmanager
def atomic_path(path: Path, what: str = "") -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success fsync and rename it over ``path``.

    Creating the folder and temp file and the final rename raise ``OutputPathError``; what the
    caller's block raises passes through unchanged.
    """
    if path.is_dir():
        raise output_error(path, IsADirectoryError(errno.EISDIR, "is a directory"), what)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise output_error(path, exc, what) from exc
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        try:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except OSError as exc:
            raise output_error(path, exc, what) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
