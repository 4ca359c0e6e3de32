"""What the scanner can learn from a binary: Go build info and the function table, or why not."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from goslim.binary import BinaryInputError, BuildInfo, GoFunction, read_build_info, read_functions
from goslim.errors import UserInputError

_UPX_MARKS = (b"UPX!", b"$Info: This file is packed with the UPX")


@dataclass(frozen=True)
class BinaryFacts:
    """Build info and functions of a binary; ``missing`` says why either is absent."""

    path: Path
    build_info: BuildInfo | None
    functions: list[GoFunction] | None
    missing: list[str] = field(default_factory=list)


def looks_upx_packed(head: bytes) -> bool:
    """UPX leaves its magic and banner near the start of a packed ELF."""
    return any(mark in head for mark in _UPX_MARKS)


def inspect_binary(path: Path) -> BinaryFacts:
    """Read build info and function names; never raises for a packed or non-Go file, it says why."""
    if not path.is_file():
        raise UserInputError(f"{path}: no such file")
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if looks_upx_packed(head):
        reason = (
            f"{path.name} is UPX-packed: its Go build info and function table are compressed; "
            "scan the binary before packing (or `upx -d` a copy)"
        )
        return BinaryFacts(path, None, None, [reason])
    missing: list[str] = []
    try:
        info: BuildInfo | None = read_build_info(path)
    except BinaryInputError as exc:
        info = None
        missing.append(f"{path.name} has no Go build info ({exc.message}): modules are unknown")
    functions: list[GoFunction] | None = None
    if info is not None:
        try:
            functions = read_functions(path)
        except BinaryInputError as exc:
            missing.append(f"{path.name}: function table unreadable ({exc.message}): symbols not checked")
    return BinaryFacts(path, info, functions, missing)
