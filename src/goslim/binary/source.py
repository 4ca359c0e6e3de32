"""Reading the file to analyze: a path, its bytes, or an already parsed image."""

from __future__ import annotations

from pathlib import Path

from goslim.binary.elf import ElfImage
from goslim.binary.errors import BinaryInputError

BinarySource = Path | str | bytes | bytearray | memoryview | ElfImage


def read_binary(path: Path) -> bytes:
    """The whole file, or a ``BinaryInputError`` that says why it cannot be read."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise BinaryInputError("no such file", hint="check the path", where=str(path)) from None
    except IsADirectoryError:
        raise BinaryInputError("is a directory, not a binary", hint="pass the built executable",
                               where=str(path)) from None
    except PermissionError:
        raise BinaryInputError("permission denied", hint="make the file readable", where=str(path)) from None


def open_elf(source: BinarySource) -> ElfImage:
    """Parse ``source`` as ELF; raises ``NotElfError`` / ``CorruptElfError`` on bad input."""
    if isinstance(source, ElfImage):
        return source
    if isinstance(source, Path | str):
        return ElfImage(read_binary(Path(source)), where=str(source))
    return ElfImage(bytes(source))
