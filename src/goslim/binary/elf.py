"""A small, strict ELF reader over bytes: headers, sections, segments, dynamic entries.

Written with ``struct`` instead of a general library so that it is fast on 50 MB files and
every malformed input ends in ``CorruptElfError`` (tests cross-check it against pyelftools).
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from functools import cached_property

from goslim.binary.errors import CorruptElfError, NotElfError

ELF_MAGIC = b"\x7fELF"

ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
PF_X, PF_W, PF_R = 1, 2, 4
SHT_NOBITS = 8
SHN_XINDEX = 0xFFFF
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_FLAGS_1 = 0, 1, 5, 10, 0x6FFFFFFB
DT_RPATH, DT_RUNPATH = 15, 29
DF_1_PIE = 0x08000000

# e_machine -> (name, GOARCH for little-endian, GOARCH for big-endian)
MACHINES: dict[int, tuple[str, str | None, str | None]] = {
    3: ("EM_386", "386", None),
    8: ("EM_MIPS", "mipsle", "mips"),
    20: ("EM_PPC", None, "ppc"),
    21: ("EM_PPC64", "ppc64le", "ppc64"),
    22: ("EM_S390", None, "s390x"),
    40: ("EM_ARM", "arm", None),
    62: ("EM_X86_64", "amd64", None),
    183: ("EM_AARCH64", "arm64", None),
    243: ("EM_RISCV", "riscv64", None),
    258: ("EM_LOONGARCH", "loong64", None),
}

MAX_SECTIONS = 1 << 16  # far above any real binary; stops a crafted header from looping for long


@dataclass(frozen=True)
class Section:
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int

    @property
    def file_size(self) -> int:
        """Bytes the section occupies in the file (0 for .bss-like sections)."""
        return 0 if self.type == SHT_NOBITS else self.size


@dataclass(frozen=True)
class Segment:
    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int


class ElfImage:
    """A parsed ELF file. ``data`` is the whole file; nothing is read lazily from disk."""

    def __init__(self, data: bytes | bytearray | memoryview | mmap.mmap, *, where: str | None = None) -> None:
        # bytes or a read-only map of the file: both slice to bytes and support find/struct.
        self.data: bytes | mmap.mmap = data if isinstance(data, bytes | mmap.mmap) else bytes(data)
        self.where = where
        if len(self.data) < 4 or bytes(self.data[:4]) != ELF_MAGIC:
            raise NotElfError(
                "not an ELF file",
                hint="goslim analyzes Linux executables (ELF); build with GOOS=linux",
                where=where,
            )
        if len(self.data) < 16:
            raise self._corrupt("the ELF identification is truncated")
        ei_class, ei_data = self.data[4], self.data[5]
        if ei_class not in (1, 2):
            raise self._corrupt(f"unknown ELF class {ei_class}")
        if ei_data not in (1, 2):
            raise self._corrupt(f"unknown ELF byte order {ei_data}")
        self.elf_class = 32 if ei_class == 1 else 64
        self.big_endian = ei_data == 2
        self.ptr_size = 4 if self.elf_class == 32 else 8
        self._e = ">" if self.big_endian else "<"
        self._parse_header()
        self.segments = self._parse_segments()
        self.sections = self._parse_sections()
        self._by_name = {s.name: s for s in reversed(self.sections)}

    # -- header, segments, sections -------------------------------------------------------------

    def _corrupt(self, message: str) -> CorruptElfError:
        return CorruptElfError(
            f"corrupt or truncated ELF file: {message}",
            hint="the file may be incomplete (interrupted download or copy); rebuild or fetch it again",
            where=self.where,
        )

    def _unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        try:
            return struct.unpack_from(self._e + fmt, self.data, offset)
        except (struct.error, OverflowError):  # past the end, or an offset beyond any file size
            raise self._corrupt(f"a header at offset {offset} runs past the end of the file") from None

    def _parse_header(self) -> None:
        fmt = "HHIIIIIHHHHHH" if self.elf_class == 32 else "HHIQQQIHHHHHH"
        (
            self.e_type,
            self.e_machine,
            _version,
            self.e_entry,
            self.e_phoff,
            self.e_shoff,
            _flags,
            _ehsize,
            self.e_phentsize,
            self.e_phnum,
            self.e_shentsize,
            self.e_shnum,
            self.e_shstrndx,
        ) = self._unpack(fmt, 16)
        self.header_size = 52 if self.elf_class == 32 else 64

    def _parse_segments(self) -> list[Segment]:
        if self.e_phnum == 0:
            return []
        want = 32 if self.elf_class == 32 else 56
        if self.e_phentsize < want:
            raise self._corrupt(f"program header entry size {self.e_phentsize} is too small")
        if self.e_phoff + self.e_phnum * self.e_phentsize > len(self.data):
            raise self._corrupt("the program header table runs past the end of the file")
        out = []
        for i in range(self.e_phnum):
            off = self.e_phoff + i * self.e_phentsize
            if self.elf_class == 32:
                p_type, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, p_flags, _align = self._unpack(
                    "IIIIIIII", off
                )
            else:
                p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, _align = self._unpack(
                    "IIQQQQQQ", off
                )
            out.append(Segment(p_type, p_flags, p_offset, p_vaddr, p_filesz, p_memsz))
        return out

    def _parse_sections(self) -> list[Section]:
        if self.e_shoff == 0:
            return []
        want = 40 if self.elf_class == 32 else 64
        if self.e_shentsize < want:
            raise self._corrupt(f"section header entry size {self.e_shentsize} is too small")
        shnum, shstrndx = self.e_shnum, self.e_shstrndx
        if shnum == 0 or shstrndx == SHN_XINDEX:
            # Extended numbering: the real values live in section header 0.
            first = self._raw_section(0)
            shnum = shnum or first[5]
            if shstrndx == SHN_XINDEX:
                shstrndx = first[6]
        if shnum > MAX_SECTIONS:
            raise self._corrupt(f"implausible section count {shnum}")
        if self.e_shoff + shnum * self.e_shentsize > len(self.data):
            raise self._corrupt("the section header table runs past the end of the file")
        raw = [self._raw_section(i) for i in range(shnum)]
        names_at = None
        if 0 < shstrndx < shnum:
            _n, _t, _f, _a, s_off, s_size, _l = raw[shstrndx]
            if s_off + s_size > len(self.data):
                raise self._corrupt("the section name table runs past the end of the file")
            names_at = (s_off, s_size)
        out = []
        for name_off, s_type, s_flags, s_addr, s_off, s_size, _link in raw:
            name = self._name(names_at, name_off)
            if s_type not in (SHT_NOBITS, 0) and s_off + s_size > len(self.data):
                raise self._corrupt(f"section {name or '?'} runs past the end of the file")
            out.append(Section(name, s_type, s_flags, s_addr, s_off, s_size))
        return out

    def _raw_section(self, i: int) -> tuple[int, ...]:
        off = self.e_shoff + i * self.e_shentsize
        if self.elf_class == 32:
            name, s_type, flags, addr, s_off, size, link, _info, _align, _entsize = self._unpack(
                "IIIIIIIIII", off
            )
        else:
            name, s_type, flags, addr, s_off, size, link, _info, _align, _entsize = self._unpack(
                "IIQQQQIIQQ", off
            )
        return name, s_type, flags, addr, s_off, size, link

    def _name(self, names_at: tuple[int, int] | None, off: int) -> str:
        if names_at is None or off >= names_at[1]:
            return ""
        start = names_at[0] + off
        end = self.data.find(b"\0", start, names_at[0] + names_at[1])
        if end < 0:
            end = names_at[0] + names_at[1]
        return bytes(self.data[start:end]).decode("ascii", "replace")

    # -- lookups ---------------------------------------------------------------------------------

    def section(self, name: str) -> Section | None:
        return self._by_name.get(name)

    def section_data(self, section: Section) -> memoryview:
        """The section's bytes (empty for NOBITS sections); bounds were checked at parse time."""
        if section.file_size == 0:
            return memoryview(b"")
        if isinstance(self.data, mmap.mmap):
            # A copy (bytes), so that the map can close while the caller holds the data.
            return memoryview(self.data[section.offset : section.offset + section.size])
        return memoryview(self.data)[section.offset : section.offset + section.size]

    def section_bytes(self, section: Section) -> bytes:
        """The section's bytes as ``bytes`` (one copy at most)."""
        if section.file_size == 0:
            return b""
        return bytes(self.data[section.offset : section.offset + section.size])

    def va_to_offset(self, addr: int) -> int | None:
        """File offset of a virtual address through the PT_LOAD segments, None if not file-backed."""
        for seg in self.segments:
            if seg.type == PT_LOAD and seg.vaddr <= addr < seg.vaddr + seg.filesz:
                off = seg.offset + (addr - seg.vaddr)
                return off if off < len(self.data) else None
        for sec in self.sections:
            if sec.addr and sec.file_size and sec.addr <= addr < sec.addr + sec.size:
                return sec.offset + (addr - sec.addr)
        return None

    def offset_to_va(self, offset: int) -> int | None:
        """Virtual address of a file offset inside a PT_LOAD segment, None if not loaded."""
        for seg in self.segments:
            if seg.type == PT_LOAD and seg.offset <= offset < seg.offset + seg.filesz:
                return seg.vaddr + (offset - seg.offset)
        return None

    def read_va(self, addr: int, size: int) -> bytes | None:
        off = self.va_to_offset(addr)
        if off is None or size < 0 or off + size > len(self.data):
            return None
        return bytes(self.data[off : off + size])

    def cstring_at_va(self, addr: int, limit: int = 4096) -> str | None:
        off = self.va_to_offset(addr)
        if off is None:
            return None
        chunk = bytes(self.data[off : off + limit])
        end = chunk.find(b"\0")
        return (chunk if end < 0 else chunk[:end]).decode("utf-8", "replace")

    def unpack_word(self, buf: bytes | memoryview, offset: int, size: int | None = None) -> int:
        size = size or self.ptr_size
        return int.from_bytes(bytes(buf[offset : offset + size]), "big" if self.big_endian else "little")

    # -- facts -----------------------------------------------------------------------------------

    @property
    def machine_name(self) -> str:
        return MACHINES.get(self.e_machine, (f"EM_{self.e_machine}", None, None))[0]

    @property
    def goarch(self) -> str | None:
        _name, little, big = MACHINES.get(self.e_machine, ("", None, None))
        arch = big if self.big_endian else little
        if arch in ("mips", "mipsle") and self.elf_class == 64:
            arch = "mips64" if arch == "mips" else "mips64le"
        if arch == "riscv64" and self.elf_class == 32:
            return None
        return arch

    @cached_property
    def interpreter(self) -> str | None:
        for seg in self.segments:
            if seg.type == PT_INTERP:
                raw = bytes(self.data[seg.offset : seg.offset + min(seg.filesz, 4096)])
                return raw.split(b"\0", 1)[0].decode("utf-8", "replace") or None
        return None

    @cached_property
    def dynamic(self) -> list[tuple[int, int]]:
        """(tag, value) pairs of the dynamic section, up to DT_NULL."""
        seg = next((s for s in self.segments if s.type == PT_DYNAMIC), None)
        sec = self.section(".dynamic")
        if seg is not None:
            start, size = seg.offset, seg.filesz
        elif sec is not None:
            start, size = sec.offset, sec.file_size
        else:
            return []
        end = min(start + size, len(self.data))
        step = 2 * self.ptr_size
        fmt = "qQ" if self.elf_class == 64 else "iI"
        out = []
        for off in range(start, end - step + 1, step):
            tag, val = struct.unpack_from(self._e + fmt, self.data, off)
            if tag == DT_NULL:
                break
            out.append((tag, val))
        return out

    @cached_property
    def needed(self) -> list[str]:
        """DT_NEEDED library names, in order."""
        return self._dynamic_strings((DT_NEEDED,))

    @cached_property
    def runpath(self) -> list[str]:
        """DT_RUNPATH / DT_RPATH directories, in order."""
        return [d for entry in self._dynamic_strings((DT_RUNPATH, DT_RPATH)) for d in entry.split(":") if d]

    def _dynamic_strings(self, tags: tuple[int, ...]) -> list[str]:
        offsets = [v for t, v in self.dynamic if t in tags]
        if not offsets:
            return []
        strtab = self.section(".dynstr")
        base = strtab.offset if strtab is not None else None
        limit = strtab.size if strtab is not None else 0
        if base is None:
            va = next((v for t, v in self.dynamic if t == DT_STRTAB), None)
            base = self.va_to_offset(va) if va is not None else None
            limit = next((v for t, v in self.dynamic if t == DT_STRSZ), 0)
        if base is None:
            return []
        out = []
        for off in offsets:
            if off >= limit:
                continue
            chunk = bytes(self.data[base + off : base + min(limit, off + 1024)])
            out.append(chunk.split(b"\0", 1)[0].decode("utf-8", "replace"))
        return out

    @property
    def pie(self) -> bool:
        if self.e_type != ET_DYN:
            return False
        flags_1 = next((v for t, v in self.dynamic if t == DT_FLAGS_1), 0)
        return bool(self.interpreter) or bool(flags_1 & DF_1_PIE) or self.e_entry != 0

    @property
    def libc(self) -> str | None:
        names = [self.interpreter or "", *self.needed]
        if any("musl" in n for n in names):
            return "musl"
        if any(
            n.startswith(("/lib/ld-linux", "/lib64/ld-linux", "/lib/ld64", "/lib64/ld64"))
            or "ld-linux" in n
            or n.startswith("libc.so.6")
            for n in names
        ):
            return "glibc"
        return None

    def dwarf_bytes(self) -> int:
        return sum(s.file_size for s in self.sections if s.name.startswith((".debug_", ".zdebug_")))

    def symtab_bytes(self) -> int:
        return sum(s.file_size for s in self.sections if s.name in (".symtab", ".strtab"))

    def symbols(self) -> dict[str, int]:
        """name -> value of .symtab entries (empty when stripped)."""
        symtab, strtab = self.section(".symtab"), self.section(".strtab")
        if symtab is None or strtab is None:
            return {}
        entsize = 16 if self.elf_class == 32 else 24
        fmt = self._e + ("IIIBBH" if self.elf_class == 32 else "IBBHQQ")
        strs = self.section_bytes(strtab)
        out: dict[str, int] = {}
        for off in range(symtab.offset, symtab.offset + symtab.size - entsize + 1, entsize):
            fields = struct.unpack_from(fmt, self.data, off)
            name_off, value = (fields[0], fields[1]) if self.elf_class == 32 else (fields[0], fields[4])
            if 0 < name_off < len(strs):
                end = strs.find(b"\0", name_off)
                out[strs[name_off : end if end >= 0 else len(strs)].decode("utf-8", "replace")] = value
        return out
