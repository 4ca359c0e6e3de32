"""Just enough ELF reading to decide whether to pack a file and to show the risks.

Facts: is it ELF, which machine, PIE or not, an interpreter (dynamic linking),
writable+executable segments, is it already UPX-packed. goslim.binary does the full
analysis (and reads Go build info); this stays small on purpose.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
UPX_MAGIC = b"UPX!"
ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_INTERP = 1, 3
PF_X, PF_W = 0x1, 0x2
# e_machine -> GOARCH
MACHINES = {
    3: "386",
    8: "mips",
    21: "ppc64",
    22: "s390x",
    40: "arm",
    62: "amd64",
    183: "arm64",
    243: "riscv64",
}


@dataclass(frozen=True)
class ElfFacts:
    """What goslim needs to know about an executable before packing it."""

    is_elf: bool
    bits: int = 0
    machine: str = "unknown"
    elf_type: int = 0
    has_interp: bool = False
    load_segments: tuple[str, ...] = ()  # flags of each PT_LOAD: "R E", "RW ", "RWE"
    upx_packed: bool = False

    @property
    def is_pie(self) -> bool:
        return self.elf_type == ET_DYN

    @property
    def writable_executable_load(self) -> bool:
        return any(flags == "RWE" for flags in self.load_segments)


def inspect_file(path: Path) -> ElfFacts:
    """Read ``path`` and describe it; a non-ELF file gives ``ElfFacts(is_elf=False)``."""
    return inspect_bytes(path.read_bytes())


def inspect_bytes(data: bytes) -> ElfFacts:
    if len(data) < 52 or data[:4] != ELF_MAGIC:
        return ElfFacts(is_elf=False)
    bits = 64 if data[4] == 2 else 32
    endian = "<" if data[5] == 1 else ">"
    elf_type, machine = struct.unpack_from(endian + "HH", data, 16)
    if bits == 64:
        phoff, phentsize, phnum = (
            struct.unpack_from(endian + "Q", data, 32)[0],
            *struct.unpack_from(endian + "HH", data, 54),
        )
    else:
        phoff, phentsize, phnum = (
            struct.unpack_from(endian + "I", data, 28)[0],
            *struct.unpack_from(endian + "HH", data, 42),
        )
    loads: list[str] = []
    has_interp = False
    for i in range(phnum):
        off = phoff + i * phentsize
        if off + 8 > len(data):
            break
        p_type = struct.unpack_from(endian + "I", data, off)[0]
        # p_flags sits right after p_type in ELF64 and at offset 24 in ELF32.
        p_flags = struct.unpack_from(endian + "I", data, off + (4 if bits == 64 else 24))[0]
        if p_type == PT_INTERP:
            has_interp = True
        elif p_type == PT_LOAD:
            loads.append(_flags(p_flags))
    return ElfFacts(
        is_elf=True,
        bits=bits,
        machine=MACHINES.get(machine, f"e_machine {machine}"),
        elf_type=elf_type,
        has_interp=has_interp,
        load_segments=tuple(loads),
        upx_packed=looks_upx_packed(data),
    )


def looks_upx_packed(data: bytes) -> bool:
    """UPX's l_info magic right after the program headers, or its PackHeader near the end."""
    if UPX_MAGIC in data[:1024]:
        return True
    return UPX_MAGIC in data[-4096:]


def _flags(p_flags: int) -> str:
    read = "R" if p_flags & 0x4 else " "
    return read + ("W" if p_flags & PF_W else " ") + ("E" if p_flags & PF_X else " ")
