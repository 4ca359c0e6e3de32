"""Build small synthetic ELF files, Go build-info blobs and pclntabs for unit tests and fuzzing."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SHT_PROGBITS, SHT_STRTAB, SHT_NOBITS = 1, 3, 8
PT_LOAD, PT_INTERP = 1, 3
BUILDINFO_MAGIC = b"\xff Go buildinf:"
INFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
INFO_END = bytes.fromhex("f932433186182072008242104116d8f2")


@dataclass
class Sec:
    name: str
    data: bytes
    addr: int = 0
    flags: int = 0x2  # SHF_ALLOC
    type: int = SHT_PROGBITS


@dataclass
class ElfSpec:
    sections: list[Sec] = field(default_factory=list)
    elf_class: int = 64
    big_endian: bool = False
    machine: int = 62
    e_type: int = 2
    interp: str | None = None
    load_writable_data: bool = True  # add a PT_LOAD (RW) covering each section with an address


def make_elf(spec: ElfSpec) -> bytes:
    """Lay out header, program headers, section data, shstrtab and section headers."""
    e = ">" if spec.big_endian else "<"
    is64 = spec.elf_class == 64
    ehsize, phentsize, shentsize = (64, 56, 64) if is64 else (52, 32, 40)
    sections = list(spec.sections)
    if spec.interp is not None:
        sections.insert(0, Sec(".interp", spec.interp.encode() + b"\0", addr=0x400200))
    names = b"\0"
    name_offs = []
    for s in [*sections, Sec(".shstrtab", b"", type=SHT_STRTAB)]:
        name_offs.append(len(names))
        names += s.name.encode() + b"\0"
    phdrs: list[tuple[int, int, int, int, int, int]] = []  # type, flags, off, vaddr, filesz, memsz
    nph = (1 if spec.interp is not None else 0) + sum(
        1 for s in sections if s.addr and spec.load_writable_data
    )
    off = ehsize + nph * phentsize
    body = b""
    placed = []
    for s in sections:
        pad = (-off - len(body)) % 16
        body += b"\0" * pad
        s_off = off + len(body)
        placed.append(s_off)
        if s.type != SHT_NOBITS:
            body += s.data
    shstr_off = off + len(body)
    body += names
    body += b"\0" * ((-off - len(body)) % 8)
    shoff = off + len(body)
    for s, s_off in zip(sections, placed, strict=True):
        if s.name == ".interp":
            phdrs.append((PT_INTERP, 4, s_off, s.addr, len(s.data), len(s.data)))
    for s, s_off in zip(sections, placed, strict=True):
        if s.addr and spec.load_writable_data:
            phdrs.append((PT_LOAD, 6 if s.flags & 1 else 4, s_off, s.addr, len(s.data), len(s.data)))
    if is64:
        header = struct.pack(
            e + "HHIQQQIHHHHHH",
            spec.e_type,
            spec.machine,
            1,
            0x401000,
            ehsize if nph else 0,
            shoff,
            0,
            ehsize,
            phentsize,
            nph,
            shentsize,
            len(sections) + 2,
            len(sections) + 1,
        )
    else:
        header = struct.pack(
            e + "HHIIIIIHHHHHH",
            spec.e_type,
            spec.machine,
            1,
            0x401000,
            ehsize if nph else 0,
            shoff,
            0,
            ehsize,
            phentsize,
            nph,
            shentsize,
            len(sections) + 2,
            len(sections) + 1,
        )
    ident = b"\x7fELF" + bytes([1 if not is64 else 2, 2 if spec.big_endian else 1, 1]) + b"\0" * 9
    out = ident + header
    for p_type, flags, p_off, vaddr, filesz, memsz in phdrs:
        if is64:
            out += struct.pack(e + "IIQQQQQQ", p_type, flags, p_off, vaddr, vaddr, filesz, memsz, 16)
        else:
            out += struct.pack(e + "IIIIIIII", p_type, p_off, vaddr, vaddr, filesz, memsz, flags, 16)
    assert len(out) == off
    out += body
    shdrs = [(0, 0, 0, 0, 0, 0)]
    for s, s_off, n_off in zip(sections, placed, name_offs, strict=False):
        shdrs.append((n_off, s.type, s.flags, s.addr, s_off, len(s.data)))
    shdrs.append((name_offs[-1], SHT_STRTAB, 0, 0, shstr_off, len(names)))
    for n_off, s_type, flags, addr, s_off, size in shdrs:
        if is64:
            out += struct.pack(e + "IIQQQQIIQQ", n_off, s_type, flags, addr, s_off, size, 0, 0, 1, 0)
        else:
            out += struct.pack(e + "IIIIIIIIII", n_off, s_type, flags, addr, s_off, size, 0, 0, 1, 0)
    return out


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def modinfo_blob(body: str) -> bytes:
    return INFO_START + body.encode() + INFO_END


def inline_buildinfo(version: str, modinfo: str, *, ptr_size: int = 8) -> bytes:
    """A Go 1.18+ build-info section: 32-byte header, then two uvarint-prefixed strings."""
    header = BUILDINFO_MAGIC + bytes([ptr_size, 0x02]) + b"\0" * 16
    mod = modinfo_blob(modinfo) if modinfo else b""
    blob = header + uvarint(len(version)) + version.encode() + uvarint(len(mod)) + mod
    return blob + b"\0" * ((-len(blob)) % 16)


def pointer_buildinfo_elf(
    version: str, modinfo: str, *, big_endian: bool = False, ptr_size: int = 8
) -> bytes:
    """A pre-1.18 style binary: the header points at Go string headers in a data section."""
    order = "big" if big_endian else "little"
    base = 0x500000
    mod = modinfo_blob(modinfo) if modinfo else b""
    # data section: [hdr(version)][hdr(modinfo)][version bytes][modinfo bytes]
    hdr_size = 2 * ptr_size
    v_addr = base + 2 * hdr_size
    m_addr = v_addr + len(version)

    def word(n: int) -> bytes:
        return n.to_bytes(ptr_size, order)

    data = word(v_addr) + word(len(version)) + word(m_addr) + word(len(mod)) + version.encode() + mod
    header = (
        BUILDINFO_MAGIC + bytes([ptr_size, 0x01 if big_endian else 0x00]) + word(base) + word(base + hdr_size)
    )
    header += b"\0" * (32 - len(header))
    return make_elf(
        ElfSpec(
            sections=[
                Sec(".go.buildinfo", header, addr=0x4F0000, flags=3),
                Sec(".noptrdata", data, addr=base, flags=3),
            ],
            elf_class=64 if ptr_size == 8 else 32,
            big_endian=big_endian,
        )
    )


def make_pclntab(
    functions: list[tuple[str, int]],
    *,
    layout: str = "go1.20",
    text_start: int = 0,
    ptr_size: int = 8,
    big_endian: bool = False,
    files: tuple[str, ...] = ("main.go",),
) -> bytes:
    """A minimal pclntab: header, funcnametab, filetab, functab and _func records (name offset only)."""
    order = "big" if big_endian else "little"
    magic = {"go1.20": 0xFFFFFFF1, "go1.18": 0xFFFFFFF0, "go1.16": 0xFFFFFFFA}[layout]
    nwords = 7 if layout == "go1.16" else 8
    header_len = 8 + nwords * ptr_size
    names = b""
    name_offs = []
    for name, _size in functions:
        name_offs.append(len(names))
        names += name.encode() + b"\0"
    filetab = b"".join(f.encode() + b"\0" for f in files)
    funcname_off = header_len
    filetab_off = funcname_off + len(names)
    pctab_off = filetab_off + len(filetab)
    pcln_off = pctab_off + ((-pctab_off) % 8)
    field = ptr_size if layout == "go1.16" else 4
    nfunc = len(functions)
    functab_len = (nfunc + 1) * 2 * field
    func_size = 48
    functab = b""
    records = b""
    entry = text_start if layout == "go1.16" else 0
    for i, (_name, size) in enumerate(functions):
        funcoff = functab_len + i * func_size
        functab += entry.to_bytes(field, order) + funcoff.to_bytes(field, order)
        rec = entry.to_bytes(field, order) + name_offs[i].to_bytes(4, order, signed=True)
        records += rec + b"\0" * (func_size - len(rec))
        entry += size
    functab += entry.to_bytes(field, order) + (0).to_bytes(field, order)
    words = (
        [nfunc, len(files)]
        + ([] if layout == "go1.16" else [text_start])
        + [funcname_off, 0, filetab_off, pctab_off, pcln_off]
    )
    header = (
        magic.to_bytes(4, order)
        + bytes([0, 0, 1, ptr_size])
        + b"".join(w.to_bytes(ptr_size, order) for w in words)
    )
    body = header + names + filetab
    body += b"\0" * (pcln_off - len(body))
    return body + functab + records
