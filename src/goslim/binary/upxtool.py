"""UPX: recognise a packed ELF, and unpack a copy with the real `upx -d` (the one place upx runs)."""

from __future__ import annotations

from pathlib import Path

from goslim.runner import Runner, require

UPX_MAGIC = b"UPX!"
UPX_INFO = b"$Info: This file is packed with the UPX"
UNPACK_TIMEOUT = 120.0


def looks_packed(data: bytes, *, phoff: int, phnum: int, phentsize: int, shnum: int) -> bool:
    """REFERENCE 8.1: `UPX!` in l_info after the program headers, the tail PackHeader, or the ident."""
    l_info = phoff + phnum * phentsize
    if data[l_info + 4 : l_info + 8] == UPX_MAGIC:
        return True
    tail = data[-4096:]
    if UPX_MAGIC in tail and shnum == 0:
        return True
    return shnum == 0 and UPX_INFO in data[:65536]


def unpack_copy(runner: Runner, packed: Path, out: Path) -> Path:
    """Write an unpacked copy of ``packed`` to ``out`` with `upx -d -o`; the original is untouched."""
    upx = require(runner, "upx")
    runner.run([upx, "-d", "-q", "-o", str(out), str(packed)], timeout=UNPACK_TIMEOUT)
    return out
