"""The Go function table (.gopclntab): function names and sizes, also in stripped binaries.

Layout: REFERENCE.md section 6. Supports the Go 1.16, 1.18 and 1.20+ layouts (magics
0xfffffffa, 0xfffffff0, 0xfffffff1). Since Go 1.26 the header's text start is 0, so the text
start comes from the header when set, else from moduledata, ``runtime.text`` or ``.text``.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate, pairwise

from goslim.binary.elf import PF_W, PT_LOAD, ElfImage
from goslim.binary.errors import PclntabError

MAGIC_GO12 = 0xFFFFFFFB
MAGIC_GO116 = 0xFFFFFFFA
MAGIC_GO118 = 0xFFFFFFF0
MAGIC_GO120 = 0xFFFFFFF1
LAYOUTS = {MAGIC_GO116: "go1.16", MAGIC_GO118: "go1.18", MAGIC_GO120: "go1.20"}
MAX_NAME = 64 * 1024


@dataclass(frozen=True)
class PclnHeader:
    layout: str  # go1.16 | go1.18 | go1.20
    big_endian: bool
    quantum: int
    ptr_size: int
    nfunc: int
    nfiles: int
    text_start: int  # as recorded; 0 in Go 1.26+ and absent (0) in go1.16
    funcname: int  # offsets from the start of the table
    cutab: int
    filetab: int
    pctab: int
    pcln: int


@dataclass(frozen=True)
class FunctionTable:
    """The decoded function table: entries relative to the text start, names, and where text starts."""

    header: PclnHeader
    names: list[str]
    entry_offsets: list[int]  # nfunc + 1 values; the last one is the end of text
    text_start: int
    text_start_source: str  # header | moduledata | runtime.text | .text | absolute
    file_names: list[str]

    def sizes(self) -> list[int]:
        offs = self.entry_offsets
        return [offs[i + 1] - offs[i] for i in range(len(offs) - 1)]


def find_tables(elf: ElfImage) -> Iterator[tuple[bytes, int]]:
    """Candidate pclntabs as (bytes, virtual address or 0): the section, else plausible headers."""
    sec = elf.section(".gopclntab")
    if sec is not None and sec.file_size:
        yield elf.section_bytes(sec), sec.addr
        return
    # No section headers (sstrip, packers): look for a plausible header at a 4-byte-aligned offset.
    for magic in (MAGIC_GO120, MAGIC_GO118, MAGIC_GO116):
        needle = magic.to_bytes(4, "big" if elf.big_endian else "little") + b"\0\0"
        pos = elf.data.find(needle)
        while pos >= 0:
            if (
                pos % 4 == 0
                and pos + 8 <= len(elf.data)
                and elf.data[pos + 6] in (1, 2, 4)
                and elf.data[pos + 7] == elf.ptr_size
            ):
                # Copy only to the end of the segment holding it, never the rest of the file.
                end = next(
                    (g.offset + g.filesz for g in elf.segments if g.offset <= pos < g.offset + g.filesz),
                    len(elf.data),
                )
                yield bytes(elf.data[pos:end]), elf.offset_to_va(pos) or 0
            pos = elf.data.find(needle, pos + 1)


def find_table(elf: ElfImage) -> tuple[bytes, int]:
    """The first candidate of ``find_tables``, or ``PclntabError`` when there is none."""
    for found in find_tables(elf):
        return found
    raise PclntabError(
        "no Go function table (.gopclntab) found",
        hint="the file may be packed or not built by the Go toolchain",
        where=elf.where,
    )


def parse_header(tab: bytes, *, where: str | None = None) -> PclnHeader:
    if len(tab) < 8:
        raise PclntabError("function table header is truncated", where=where)
    for big in (False, True):
        magic = int.from_bytes(tab[:4], "big" if big else "little")
        if magic in LAYOUTS or magic == MAGIC_GO12:
            break
    else:
        raise PclntabError("function table has an unknown magic number", where=where)
    if magic == MAGIC_GO12:
        raise PclntabError("function table of Go 1.15 or older is not supported", where=where)
    quantum, ptr_size = tab[6], tab[7]
    if tab[4] or tab[5] or quantum not in (1, 2, 4) or ptr_size not in (4, 8):
        raise PclntabError("function table header is corrupt", where=where)
    layout = LAYOUTS[magic]
    nwords = 7 if layout == "go1.16" else 8
    if len(tab) < 8 + nwords * ptr_size:
        raise PclntabError("function table header is truncated", where=where)
    order = "big" if big else "little"
    words = [int.from_bytes(tab[8 + i * ptr_size : 8 + (i + 1) * ptr_size], order) for i in range(nwords)]
    if layout == "go1.16":
        nfunc, nfiles, funcname, cutab, filetab, pctab, pcln = words
        text_start = 0
    else:
        nfunc, nfiles, text_start, funcname, cutab, filetab, pctab, pcln = words
    for name, off in (
        ("funcname", funcname),
        ("cutab", cutab),
        ("filetab", filetab),
        ("pctab", pctab),
        ("pcln", pcln),
    ):
        if off > len(tab):
            raise PclntabError(f"function table {name} offset is outside the table", where=where)
    return PclnHeader(
        layout, big, quantum, ptr_size, nfunc, nfiles, text_start, funcname, cutab, filetab, pctab, pcln
    )


def _words(raw: bytes, itemsize: int, big: bool) -> array:
    arr = array("I" if itemsize == 4 else "Q")
    arr.frombytes(raw)
    if big != (sys.byteorder == "big"):
        arr.byteswap()
    return arr


def decode_table(tab: bytes, *, where: str | None = None) -> tuple[PclnHeader, list[str], list[int]]:
    """Header, function names and the nfunc+1 functab entries (offsets, or PCs for go1.16)."""
    h = parse_header(tab, where=where)
    field = h.ptr_size if h.layout == "go1.16" else 4  # go1.18+ uses uint32 functab fields
    need = (h.nfunc + 1) * 2 * field
    if h.nfunc == 0 or h.pcln + need > len(tab):
        raise PclntabError("function table is empty or its functab is truncated", where=where)
    pairs = _words(tab[h.pcln : h.pcln + need], field, h.big_endian)
    entries = list(pairs[0::2])
    funcoffs = pairs[1::2][: h.nfunc]  # the sentinel entry has no _func record
    name_at = h.ptr_size if h.layout == "go1.16" else 4  # nameOff follows the entry field of _func
    read_name_off = struct.Struct((">" if h.big_endian else "<") + "i").unpack_from
    first = h.pcln + name_at
    try:
        name_offs = [read_name_off(tab, first + off)[0] for off in funcoffs]
    except (struct.error, OverflowError):  # OverflowError: a 64-bit funcoff beyond any size
        raise PclntabError("a function record lies outside the table", where=where) from None
    index = _name_index(tab, h)
    try:
        names = [index[off] for off in name_offs]
    except KeyError:  # a name offset inside another name (or outside the table): look each up
        names = [index.get(off) or _name_at(tab, h.funcname, off, where) for off in name_offs]
    if entries != sorted(entries):
        raise PclntabError("functab entries are not sorted", where=where)
    return h, names, entries


def _name_index(tab: bytes, h: PclnHeader) -> dict[int, str]:
    """funcnametab split once: offset of each NUL-terminated name -> the name."""
    if not h.funcname < h.cutab <= len(tab):
        return {}
    region = tab[h.funcname : h.cutab]
    raw_parts = region.split(b"\0")
    if region.isascii():  # the usual case: one decode
        parts = region.decode("ascii").split("\0")
    else:
        parts = [p.decode("utf-8", "replace") for p in raw_parts]
    return dict(zip(accumulate((len(p) + 1 for p in raw_parts), initial=0), parts, strict=False))


def _name_at(tab: bytes, base: int, off: int, where: str | None) -> str:
    start = base + off
    end = tab.find(b"\0", start, start + MAX_NAME)
    if off < 0 or start >= len(tab) or end < 0:
        raise PclntabError("a function name lies outside the table or is not terminated", where=where)
    return tab[start:end].decode("utf-8", "replace")


def file_names(tab: bytes, h: PclnHeader) -> list[str]:
    """The distinct source file names of the file table (they reveal build paths)."""
    end = h.pctab if h.filetab < h.pctab <= len(tab) else len(tab)
    raw = tab[h.filetab : end]
    return [n.decode("utf-8", "replace") for n in raw.split(b"\0") if n]


def read_table(elf: ElfImage) -> FunctionTable:
    """Decode the function table of ``elf`` and settle where its text starts."""
    error: PclntabError | None = None
    for tab, tab_va in find_tables(elf):
        try:
            h, names, entries = decode_table(tab, where=elf.where)
        except PclntabError as exc:
            error = error or exc  # a stray magic in other data: try the next candidate
            continue
        return _function_table(elf, tab, tab_va, (h, names, entries))
    raise error or PclntabError(
        "no Go function table (.gopclntab) found",
        hint="the file may be packed or not built by the Go toolchain",
        where=elf.where,
    )


def _function_table(
    elf: ElfImage, tab: bytes, tab_va: int, decoded: tuple[PclnHeader, list[str], list[int]]
) -> FunctionTable:
    h, names, entries = decoded
    if h.layout == "go1.16":
        return FunctionTable(
            h, names, [e - entries[0] for e in entries], entries[0], "absolute", file_names(tab, h)
        )
    text, source = _text_start(elf, h, entries, tab_va)
    return FunctionTable(h, names, entries, text, source, file_names(tab, h))


def _text_start(elf: ElfImage, h: PclnHeader, entries: list[int], tab_va: int) -> tuple[int, str]:
    if h.text_start:
        return h.text_start, "header"
    found = _text_from_moduledata(elf, tab_va, entries[-1] - entries[0], entries[0]) if tab_va else None
    if found is not None:
        return found, "moduledata"
    if elf.section(".symtab") is not None:
        sym = elf.symbols().get("runtime.text")
        if sym:
            return sym, "runtime.text"
    text = elf.section(".text")
    return (text.addr if text is not None else 0), ".text"


def _text_from_moduledata(elf: ElfImage, tab_va: int, span: int, first: int) -> int | None:
    """Find moduledata by its pcHeader pointer, then its (minpc, maxpc) pair by their distance."""
    size = elf.ptr_size
    order = "big" if elf.big_endian else "little"
    needle = tab_va.to_bytes(size, order)
    named = [elf.section(n) for n in (".go.module", ".noptrdata", ".data")]
    regions = [(s.offset, s.file_size) for s in named if s is not None and s.file_size]
    if not elf.sections:  # no section headers: the writable PT_LOAD segments hold moduledata
        regions = [(g.offset, g.filesz) for g in elf.segments if g.type == PT_LOAD and g.flags & PF_W]
    for offset, length in regions:
        raw = bytes(elf.data[offset : offset + min(length, 64 << 20)])
        pos = raw.find(needle)
        while pos >= 0:
            if pos % size == 0:
                words = [
                    int.from_bytes(raw[p : p + size], order)
                    for p in range(pos, min(pos + 64 * size, len(raw) - size + 1), size)
                ]
                for a, b in pairwise(words):
                    if a and b - a == span:
                        return a - first
            pos = raw.find(needle, pos + 1)
    return None
