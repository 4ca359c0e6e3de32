"""Which time zones a binary can load: the constant arguments of its ``time.LoadLocation`` calls.

Go passes a string argument as (pointer, length) in registers. A constant zone name compiles to
amd64 ``LEAQ str(IP), AX; MOVL $len, BX; CALL time.LoadLocation`` and to arm64
``ADRP x0; ADD x0, x0, #lo; MOV x1, #len; BL time.LoadLocation``. Every direct call is found by
its branch target; a call whose arguments do not have that shape, a jump to the function, or its
address stored as a value (a func variable) means a name comes from data, so every zone may load.
"""

from __future__ import annotations

import bisect
import mmap
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from goslim.binary.elf import ElfImage
from goslim.binary.pclntab import FunctionTable

LOAD_LOCATION = "time.LoadLocation"
LOAD_FROM_TZDATA = "time.LoadLocationFromTZData"
MAX_ZONE_NAME = 255  # longer is no zone name (and bounds what a hostile binary makes us read)
BLOCK = 1 << 16  # code bytes searched per pattern (see _candidates)
MAX_SITES = 10_000  # call sites examined per target; more reads as "not read"
Code = bytes | mmap.mmap
Site = tuple[int, int, tuple[int, int] | None]  # call address, callee entry, constant string argument
# Names LoadLocation answers without a file.
FILELESS_ZONES = frozenset({"", "UTC", "Local"})
_ZONE_NAME = re.compile(rb"[A-Za-z0-9_+\-./]{1,255}")

# amd64: CALL rel32 / JMP rel32 opcodes, LEAQ rip-relative into AX, MOVL imm32 into BX.
_CALL, _JMP = 0xE8, 0xE9
_LEA_AX = b"\x48\x8d\x05"
_MOV_BX = 0xBB


@dataclass(frozen=True)
class Span:
    """The text section inside the file's bytes: [start, end) file offsets; VA = base + offset."""

    code: Code
    start: int
    end: int
    base: int


@dataclass
class ZoneCalls:
    """What the call sites of one function tell: constant names, and callers that pass anything else."""

    constant: dict[str, list[str]] = field(default_factory=dict)  # zone name -> callers passing it
    dynamic: list[str] = field(default_factory=list)  # callers whose argument is not a constant
    unreadable: str = ""  # why the call sites could not be read at all ("" when they were)
    as_value: bool = False  # the function's address is stored in data: called through a func value

    @property
    def callers(self) -> list[str]:
        return sorted({c for cs in self.constant.values() for c in cs} | set(self.dynamic))


def read_zone_calls(elf: ElfImage, table: FunctionTable, targets: tuple[str, ...]) -> dict[str, ZoneCalls]:
    """The direct calls of each of ``targets`` in ``elf``'s text (one pass), with constant arguments."""
    found = {t: ZoneCalls() for t in targets}
    entries: dict[int, str] = {}
    for target, calls in found.items():
        try:
            index = table.names.index(target)
        except ValueError:
            calls.unreadable = f"{target} is not linked"
            continue
        entry = table.text_start + table.entry_offsets[index]
        if _address_taken(elf, entry):
            calls.as_value = True
            calls.unreadable = f"{target} is used as a value (a func variable), so any name may be passed"
        else:
            entries[entry] = target
    text = elf.section(".text")
    finder = {"amd64": _amd64_sites, "arm64": _arm64_sites}.get(elf.goarch or "")
    why = (
        "the binary has no .text section" if text is None or text.file_size == 0
        else "" if finder is not None else f"call sites are read on amd64 and arm64, not {elf.goarch}"
    )
    if not entries:
        return found
    if why or text is None or finder is None:
        for target in entries.values():
            found[target].unreadable = why
        return found
    starts = [table.text_start + off for off in table.entry_offsets]
    count = 0
    # Searched in place (the file may be a map of 100 MB): offsets are file offsets, base maps them to VAs.
    span = Span(elf.data, text.offset, text.offset + text.size, text.addr - text.offset)
    for site, entry, arg in finder(span, frozenset(entries)):
        target = entries[entry]
        caller = _function_at(table, starts, site)
        if caller == target:
            continue  # the prologue's jump back to its own start after growing the stack
        count += 1
        if count > MAX_SITES:
            for t in entries.values():
                found[t].unreadable = f"more than {MAX_SITES} call sites"
            break
        name = _string_at(elf, *arg) if arg else None
        if name is None:
            found[target].dynamic.append(caller)
        else:
            found[target].constant.setdefault(name, []).append(caller)
    for target in entries.values():
        calls = found[target]
        if not calls.unreadable and not calls.constant and not calls.dynamic:
            calls.unreadable = f"no direct call of {target} was found"
    return found


def valid_zone_name(name: str) -> bool:
    """A name LoadLocation would look up as a file (it refuses absolute paths and '..')."""
    return bool(name) and not name.startswith(("/", "\\")) and ".." not in name and name not in FILELESS_ZONES


def _function_at(table: FunctionTable, starts: list[int], addr: int) -> str:
    i = bisect.bisect_right(starts, addr) - 1
    return table.names[i] if 0 <= i < len(table.names) else f"0x{addr:x}"


def _string_at(elf: ElfImage, addr: int, length: int) -> str | None:
    """The zone-name-shaped string at ``addr``, None if it is not one."""
    if not 0 < length <= MAX_ZONE_NAME:
        return None
    raw = elf.read_va(addr, length)
    if raw is None or not _ZONE_NAME.fullmatch(raw):
        return None
    return raw.decode("ascii")


def _address_taken(elf: ElfImage, entry: int) -> bool:
    """Is ``entry`` stored as a pointer in data (a funcval), or as the addend of a dynamic relocation?"""
    word = struct.pack((">" if elf.big_endian else "<") + ("Q" if elf.elf_class == 64 else "I"), entry)
    for sec in elf.sections:
        if not sec.addr or sec.file_size == 0 or sec.flags & 0x4:  # SHF_EXECINSTR: code, not data
            continue
        if sec.name in (".gopclntab", ".gosymtab", ".go.buildinfo", ".typelink", ".itablink"):
            continue
        if sec.name.startswith(".rela"):
            # Elf64_Rela: r_offset, r_info, r_addend; PIE stores funcval pointers as relocations.
            data = elf.section_bytes(sec)
            if elf.elf_class == 64 and any(
                a == entry for _o, _i, a in struct.iter_unpack("<QQq", data[: len(data) // 24 * 24])
            ):
                return True
            continue
        end = sec.offset + sec.size
        pos = elf.data.find(word, sec.offset, end)  # in place: no copy of a large section
        while pos >= 0:
            if (pos - sec.offset) % len(word) == 0:
                return True
            pos = elf.data.find(word, pos + 1, end)
    return False


def _candidates(
    span: Span, lead: int, highs_of: Callable[[int, int], set[int]], align: int, phase: int
) -> Iterator[int]:
    """Offsets of instructions whose bytes ``lead`` .. ``lead + 1`` hold a branch's high 16 bits.

    A direct branch to a fixed target encodes target - pc, so within a block of 64 KiB of pc the
    displacement's high half takes at most two values per target: finding those two bytes (``find``
    runs in C) visits every call without decoding each instruction in Python. Blocks start where
    the first target's high half changes (VAs congruent to ``phase``), so it has one value per block.
    """
    code, last = span.code, span.end - lead - 1
    first = span.start + (phase - span.base - span.start) % BLOCK
    for start in (span.start, *range(first, span.end, BLOCK)):
        end = min(first if start < first else start + BLOCK, last)  # instruction offsets in [start, end)
        if end <= start:
            continue
        for high in sorted(highs_of(span.base + start, span.base + end - 1)):
            needle = struct.pack("<H", high)
            pos = code.find(needle, start + lead, end + lead + 1)
            while pos >= 0:
                at = pos - lead
                if (at - span.start) % align == 0:
                    yield at
                pos = code.find(needle, pos + 1, end + lead + 1)


def _amd64_sites(span: Span, entries: frozenset[int]) -> Iterator[Site]:
    """(call address, target, (string address, length) or None) for each CALL or JMP rel32 to ``entries``."""
    code, base = span.code, span.base

    def highs(first: int, last: int) -> set[int]:
        # rel32 = entry - (pc + 5); its high half sits in the last two bytes of the instruction.
        return {((e - 5 - pc) >> 16) & 0xFFFF for e in entries for pc in (first, last)}

    for p in _candidates(span, 3, highs, 1, phase=min(entries) - 4):
        if code[p] not in (_CALL, _JMP) or p + 5 > span.end:
            continue
        rel = int.from_bytes(code[p + 1 : p + 5], "little", signed=True)
        target = base + p + 5 + rel
        if target not in entries:
            continue
        if code[p] == _JMP:
            yield base + p, target, None  # a tail call: the argument is the jumping function's own
            continue
        yield base + p, target, _amd64_constant_arg(span, p)


def _amd64_constant_arg(span: Span, call: int) -> tuple[int, int] | None:
    """LEAQ s(IP), AX and MOVL $n, BX, in either order, right before the call."""
    code, base = span.code, span.base
    lea_mov = call - 12
    if lea_mov < span.start:
        return None
    if lea_mov >= 0 and code[lea_mov : lea_mov + 3] == _LEA_AX and code[lea_mov + 7] == _MOV_BX:
        disp = int.from_bytes(code[lea_mov + 3 : lea_mov + 7], "little", signed=True)
        return base + lea_mov + 7 + disp, int.from_bytes(code[call - 4 : call], "little")
    if lea_mov >= 0 and code[lea_mov] == _MOV_BX and code[lea_mov + 5 : lea_mov + 8] == _LEA_AX:
        disp = int.from_bytes(code[call - 4 : call], "little", signed=True)
        return base + call + disp, int.from_bytes(code[lea_mov + 1 : lea_mov + 5], "little")
    return None


def _arm64_sites(span: Span, entries: frozenset[int]) -> Iterator[Site]:
    """(call address, target, (string address, length) or None) for each BL or B to ``entries``."""
    code, base = span.code, span.base

    def highs(first: int, last: int) -> set[int]:
        # The word's high half: the opcode (BL 0x94, B 0x14) and imm26's top ten bits.
        return {op | ((((e - pc) >> 2) >> 16) & 0x3FF)
                for e in entries for pc in (first, last) for op in (0x9400, 0x1400)}

    for off in _candidates(span, 2, highs, 4, phase=min(entries)):
        w = int.from_bytes(code[off : off + 4], "little")
        op = w & 0xFC000000
        if op not in (0x94000000, 0x14000000):  # BL, B
            continue
        imm = w & 0x03FFFFFF
        pc = base + off
        target = pc + (imm - (1 << 26) if imm & (1 << 25) else imm) * 4
        if target not in entries:
            continue
        if op == 0x14000000 or off - 12 < span.start:
            yield pc, target, None
            continue
        prev = struct.unpack("<3I", code[off - 12 : off])
        yield pc, target, _arm64_constant_arg(prev, pc - 12)


def _arm64_constant_arg(prev: tuple[int, ...], pc: int) -> tuple[int, int] | None:
    """ADRP x0, ADD x0, x0, #lo and MOV x1, #n (the MOV first or last) before the BL."""
    for adrp_at, add_at, mov_at in ((0, 1, 2), (1, 2, 0)):
        adrp, add, mov = prev[adrp_at], prev[add_at], prev[mov_at]
        if adrp & 0x9F00001F != 0x90000000 or add & 0xFFC003FF != 0x91000000:
            continue  # ADRP x0 / ADD x0, x0, #imm12 (no shift)
        immhi, immlo = (adrp >> 5) & 0x7FFFF, (adrp >> 29) & 0x3
        page = (immhi << 2) | immlo
        page = page - (1 << 21) if page & (1 << 20) else page
        addr = ((pc + adrp_at * 4) & ~0xFFF) + (page << 12) + ((add >> 10) & 0xFFF)
        length = _arm64_mov_x1(mov)
        if length is not None:
            return addr, length
    return None


def _arm64_mov_x1(w: int) -> int | None:
    """The immediate of MOVZ x1, #n or ORR x1, xzr, #bitmask (how Go loads small constants)."""
    if w & 0xFF80001F == 0xD2800001 and (w >> 21) & 3 == 0:  # MOVZ x1, #imm16 (no shift)
        return (w >> 5) & 0xFFFF
    if w & 0xFF8003FF == 0xB20003E1:  # ORR x1, xzr, #imm (64-bit)
        return _decode_bitmask((w >> 22) & 1, (w >> 16) & 0x3F, (w >> 10) & 0x3F)
    return None


def _decode_bitmask(n: int, immr: int, imms: int) -> int | None:
    """The 64-bit value of an AArch64 logical immediate."""
    combined = (n << 6) | (~imms & 0x3F)
    if combined == 0:
        return None
    size = 1 << (combined.bit_length() - 1)
    ones = (imms & (size - 1)) + 1
    if ones == size:
        return None
    element = (1 << ones) - 1
    rot = immr & (size - 1)
    element = ((element >> rot) | (element << (size - rot))) & ((1 << size) - 1)
    value = 0
    for i in range(64 // size):
        value |= element << (i * size)
    return value
