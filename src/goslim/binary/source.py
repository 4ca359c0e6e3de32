"""Reading the file to analyze: a path, its bytes, or an already parsed image."""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import stat
from pathlib import Path

from goslim.binary.elf import ElfImage
from goslim.binary.errors import BinaryInputError

BinarySource = Path | str | bytes | bytearray | memoryview | mmap.mmap | ElfImage


def read_binary(path: Path) -> bytes | mmap.mmap:
    """The file mapped read-only (bytes for an empty file), or a ``BinaryInputError`` saying why not.

    Mapping instead of reading lets the build-info path touch only the pages it needs, which
    keeps it as fast as `go version -m` on binaries of 100 MB.
    """
    try:
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise BinaryInputError(
                    "not a regular file", hint="pass the built executable", where=str(path)
                )
            if not info.st_size:
                return b""
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise BinaryInputError("no such file", hint="check the path", where=str(path)) from None
    except IsADirectoryError:
        raise BinaryInputError(
            "is a directory, not a binary", hint="pass the built executable", where=str(path)
        ) from None
    except PermissionError:
        raise BinaryInputError("permission denied", hint="make the file readable", where=str(path)) from None
    except OSError as exc:
        raise BinaryInputError(f"cannot read the file: {exc.strerror or exc}", where=str(path)) from None


WINDOW = 32 << 20  # bytes of a mapped file touched before its pages are handed back


def windows(data: bytes | mmap.mmap, start: int = 0, end: int | None = None, overlap: int = 0):
    """(offset, view) windows over ``data[start:end]``; a mapped file's pages are released after each.

    Reading a whole 1 GiB map would make every page resident (and counted in RSS); windows keep
    the resident part to about ``WINDOW`` bytes.
    """
    end = len(data) if end is None else min(end, len(data))
    view = memoryview(data)
    try:
        pos = start
        while pos < end:
            stop = min(end, pos + WINDOW + overlap)
            chunk = view[pos:stop]
            try:
                yield pos, chunk
            finally:
                chunk.release()
            if isinstance(data, mmap.mmap):
                _release(data, pos, min(end, pos + WINDOW))
            pos += WINDOW
    finally:
        view.release()


def _release(data: mmap.mmap, start: int, stop: int) -> None:
    page = mmap.PAGESIZE
    first = start - start % page
    with contextlib.suppress(OSError, ValueError, AttributeError):  # a memory bound, not correctness
        data.madvise(mmap.MADV_DONTNEED, first, stop - first)


def sha256_of(data: bytes | mmap.mmap) -> str:
    """sha256 of the whole file, read window by window."""
    digest = hashlib.sha256()
    for _off, chunk in windows(data):
        digest.update(chunk)
    return digest.hexdigest()


def open_elf(source: BinarySource) -> ElfImage:
    """Parse ``source`` as ELF; raises ``NotElfError`` / ``CorruptElfError`` on bad input."""
    if isinstance(source, ElfImage):
        return source
    if isinstance(source, Path | str):
        return ElfImage(read_binary(Path(source)), where=str(source))
    return ElfImage(source if isinstance(source, mmap.mmap) else bytes(source))
