"""Tiny hand-made ELF files for unit tests: no compiler, a few hundred bytes each."""

from __future__ import annotations

import struct

ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_INTERP = 1, 3
BASE = 0x400000
EXIT_0 = bytes.fromhex("b83c00000031ff0f05")  # mov eax, 60; xor edi, edi; syscall


def tiny_elf(*, elf_type: int = ET_EXEC, interp: bool = False, payload: bytes = b"") -> bytes:
    """A static x86-64 program that exits 0; optionally PIE-typed or with a PT_INTERP."""
    phnum = 2 if interp else 1
    code_off = 64 + 56 * phnum
    interp_path = b"/lib64/ld-linux-x86-64.so.2\x00"
    body = EXIT_0 + payload + (interp_path if interp else b"")
    total = code_off + len(body)
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header += struct.pack(
        "<HHIQQQIHHHHHH", elf_type, 62, 1, BASE + code_off, 64, 0, 0, 64, 56, phnum, 64, 0, 0
    )
    phdrs = struct.pack("<IIQQQQQQ", PT_LOAD, 5, 0, BASE, BASE, total, total, 0x1000)
    if interp:
        off = code_off + len(EXIT_0) + len(payload)
        phdrs += struct.pack(
            "<IIQQQQQQ", PT_INTERP, 4, off, BASE + off, BASE + off, len(interp_path), len(interp_path), 1
        )
    return header + phdrs + body
