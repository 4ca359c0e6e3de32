"""Reading the file to analyze: a path, its bytes, or an already parsed image."""

from __future__ import annotations

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


def open_elf(source: BinarySource) -> ElfImage:
    """Parse ``source`` as ELF; raises ``NotElfError`` / ``CorruptElfError`` on bad input."""
    if isinstance(source, ElfImage):
        return source
    if isinstance(source, Path | str):
        return ElfImage(read_binary(Path(source)), where=str(source))
    return ElfImage(source if isinstance(source, mmap.mmap) else bytes(source))
