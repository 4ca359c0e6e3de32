"""Where the bytes of a Go binary go: code per package, then the rest per section.

The package rows plus the section rows add up to the file size: whatever no section
covers (ELF header, program and section header tables, alignment gaps) is its own row.
"""

from __future__ import annotations

from collections import defaultdict

from goslim.binary.elf import ElfImage
from goslim.binary.models import PackageSize, SectionSize
from goslim.binary.packages import GENERATED, ModuleResolver

SHF_EXECINSTR = 0x4

_KINDS = {
    ".gopclntab": "pclntab",
    ".go.buildinfo": "buildinfo",
    ".symtab": "symbols",
    ".strtab": "symbols",
    ".dynsym": "symbols",
    ".dynstr": "symbols",
    ".gnu.hash": "symbols",
    ".hash": "symbols",
    ".gnu.version": "symbols",
    ".gnu.version_r": "symbols",
    ".data": "data",
    ".noptrdata": "data",
    ".go.module": "data",
    ".got": "data",
    ".got.plt": "data",
    ".dynamic": "data",
    ".init_array": "data",
    ".fini_array": "data",
    ".data.rel.ro": "data",
    ".tdata": "data",
}


def section_kind(name: str, flags: int) -> str:
    if name.startswith((".debug_", ".zdebug_")):
        return "dwarf"
    if name in _KINDS:
        return _KINDS[name]
    if flags & SHF_EXECINSTR:
        return "code"
    if name.startswith((".rela", ".rel.")):
        return "symbols"
    if name.startswith(
        (".rodata", ".typelink", ".itablink", ".gosymtab", ".eh_frame", ".gcc_except", ".go.")
    ):
        return "rodata"
    return "other"


def package_sizes(
    packages: list[str], sizes: list[int], resolver: ModuleResolver, top: int
) -> list[PackageSize]:
    """Code bytes per package, biggest first: the top N, then one row for all the others."""
    size: dict[str, int] = defaultdict(int)
    count: dict[str, int] = defaultdict(int)
    for package, n in zip(packages, sizes, strict=True):
        size[package] += n
        count[package] += 1
    rows = sorted(size, key=lambda p: (-size[p], p))
    out = [
        PackageSize(package=p or GENERATED, module=resolver.module_of(p), size=size[p], functions=count[p])
        for p in rows[: max(top, 0)]
    ]
    rest = rows[max(top, 0) :]
    if rest:
        out.append(
            PackageSize(
                package=f"(other {len(rest)} packages)",
                module="",
                size=sum(size[p] for p in rest),
                functions=sum(count[p] for p in rest),
            )
        )
    return out


def section_sizes(elf: ElfImage, function_bytes: int) -> list[SectionSize]:
    """File bytes not in Go functions, by section (DWARF grouped); sums with the code to the file size."""
    rows: list[SectionSize] = []
    code_left = function_bytes
    dwarf = 0
    for sec in elf.sections:
        size = sec.file_size
        if not size or sec.type == 0:
            continue
        kind = section_kind(sec.name, sec.flags)
        if kind == "dwarf":
            dwarf += size
            continue
        if kind == "code":
            # Go functions live in the executable sections; show only what they do not cover.
            taken = min(size, code_left)
            code_left -= taken
            size -= taken
            if not size:
                continue
        rows.append(SectionSize(name=sec.name or "(unnamed)", kind=kind, size=size))
    if dwarf:
        rows.append(SectionSize(name="DWARF (.debug_*)", kind="dwarf", size=dwarf))
    rows.sort(key=lambda r: -r.size)
    accounted = function_bytes - code_left + sum(r.size for r in rows)
    rest = len(elf.data) - accounted
    if rest > 0:
        rows.append(SectionSize(name="ELF headers, tables and padding", kind="headers", size=rest))
    return rows
