"""The analysis stage: one binary in, one ``BinaryReport`` out."""

from __future__ import annotations

import mmap
import tempfile
from pathlib import Path

from goslim.binary.breakdown import package_sizes, section_sizes
from goslim.binary.buildinfo import parse_build_info
from goslim.binary.elf import ElfImage
from goslim.binary.errors import NotGoBinaryError, PclntabError
from goslim.binary.findings import build_path_finding, debug_findings, secret_findings
from goslim.binary.models import BinaryReport, BuildInfo, ElfFacts, Finding, GoFunction
from goslim.binary.needs import LinkedFunctions, detect_needs
from goslim.binary.packages import ModuleResolver, package_of, packages_of
from goslim.binary.pclntab import FunctionTable, read_table
from goslim.binary.source import BinarySource, open_elf, read_binary, sha256_of, windows
from goslim.binary.upxtool import looks_packed, unpack_copy
from goslim.binary.zones import LOAD_FROM_TZDATA, LOAD_LOCATION, read_zone_calls
from goslim.errors import ToolError
from goslim.runner import Runner, SubprocessRunner


def read_functions(source: BinarySource) -> list[GoFunction]:
    """Every function of the Go function table (works on stripped binaries), in address order."""
    elf = open_elf(source)
    table = read_table(elf)
    go120 = table.header.layout == "go1.20"
    return [
        GoFunction(
            name=name,
            package=package_of(name, go120=go120),
            size=size,
            entry=table.text_start + table.entry_offsets[i],
        )
        for i, (name, size) in enumerate(zip(table.names, table.sizes(), strict=True))
    ]


def _functions(table: FunctionTable, packages: list[str]) -> list[GoFunction]:
    sizes = table.sizes()
    return [
        GoFunction(name=name, package=pkg, size=size, entry=table.text_start + table.entry_offsets[i])
        for i, (name, pkg, size) in enumerate(zip(table.names, packages, sizes, strict=True))
    ]


def elf_facts(elf: ElfImage) -> ElfFacts:
    return ElfFacts(
        elf_class=elf.elf_class,
        machine=elf.machine_name,
        goarch=elf.goarch,
        big_endian=elf.big_endian,
        static=not elf.interpreter and not elf.needed,
        interpreter=elf.interpreter,
        needed=elf.needed,
        libc=elf.libc,
        pie=elf.pie,
        runpath=elf.runpath,
        stripped=elf.section(".symtab") is None,
        dwarf_bytes=elf.dwarf_bytes(),
        symtab_bytes=elf.symtab_bytes(),
        section_count=len(elf.sections),
    )


def analyze(
    path: Path,
    *,
    top: int = 20,
    runner: Runner | None = None,
    with_functions: bool = False,
    unpack: bool = True,
) -> BinaryReport:
    """Analyze one ELF binary: facts, Go build info, size by package, run-time needs, findings.

    A non-Go ELF still yields a report (``is_go`` False, ELF facts filled in). A file that is not
    ELF, or a truncated/corrupt one, raises a ``BinaryInputError``. A UPX-packed file is unpacked
    to a temporary copy with `upx -d` when upx is installed. The file is mapped, never read whole
    into memory. ``with_functions`` keeps the function table in ``report.functions`` (for scan);
    ``unpack=False`` only recognises a packed file (for a caller that refuses packed input anyway).
    """
    path = Path(path)
    return analyze_image(
        read_binary(path), path, top=top, runner=runner, with_functions=with_functions, unpack=unpack
    )


def analyze_image(
    data: bytes | mmap.mmap,
    path: Path | str,
    *,
    top: int = 20,
    runner: Runner | None = None,
    with_functions: bool = False,
    unpack: bool = True,
) -> BinaryReport:
    """``analyze`` on the file's bytes (``path`` names it in messages and in the report)."""
    path = Path(path)
    original = ElfImage(data, where=str(path))
    notes: list[str] = []
    findings: list[Finding] = []
    packed = looks_packed(
        data,
        phoff=original.e_phoff,
        phnum=original.e_phnum,
        phentsize=original.e_phentsize,
        shnum=len(original.sections),
    )
    elf, unpacked = original, False
    if packed and unpack:
        elf, unpacked = _unpacked(data, path, runner or SubprocessRunner(), notes)
        elf = elf or original
        findings.append(
            Finding(
                kind="upx",
                severity="info",
                message="UPX-packed: the program is decompressed into memory at every start "
                "(costs start-up time and memory; see `goslim upx`)"
                + ("; analyzed a temporary `upx -d` copy" if unpacked else ""),
            )
        )

    info: BuildInfo | None = None
    try:
        info = parse_build_info(elf)
    except NotGoBinaryError as exc:
        if not (packed and not unpacked):
            said = exc.message.startswith("not a Go binary")
            notes.append(exc.message if said else f"not a Go binary: {exc.message}")
    table: FunctionTable | None = None
    if info is not None:
        try:
            table = read_table(elf)
        except PclntabError as exc:
            notes.append(
                f"function table unreadable, sizes by package and needs are incomplete: {exc.message}"
            )

    names = table.names if table else []
    sizes = table.sizes() if table else []
    go120 = table is None or table.header.layout == "go1.20"
    packages = packages_of(names, go120=go120)
    linked = LinkedFunctions(names, packages) if table is not None else None
    zone_calls = read_zone_calls(elf, table, (LOAD_LOCATION, LOAD_FROM_TZDATA)) if table is not None else None
    if table is not None:
        found = build_path_finding(table.file_names, info)
        if found:
            findings.append(found)
    findings.extend(secret_findings(elf))
    findings.extend(debug_findings(elf))

    return BinaryReport(
        path=path,
        size=len(data),
        sha256=sha256_of(data),
        elf=elf_facts(elf),
        build_info=info,
        packages=package_sizes(packages, sizes, ModuleResolver(info), top),
        sections=section_sizes(elf, sum(sizes)),
        needs=detect_needs(linked, elf, info, zone_calls),
        findings=findings,
        upx_packed=packed,
        analyzed_unpacked_copy=unpacked,
        unpacked_size=len(elf.data) if unpacked else None,
        is_go=info is not None,
        function_count=len(names),
        notes=notes,
        functions=_functions(table, packages) if with_functions and table is not None else None,
    )


def _unpacked(
    data: bytes | mmap.mmap, path: Path, runner: Runner, notes: list[str]
) -> tuple[ElfImage | None, bool]:
    if runner.which("upx") is None:
        notes.append(
            "UPX-packed and upx is not installed: Go build info and functions are compressed "
            "inside; install upx to analyze an unpacked copy"
        )
        return None, False
    with tempfile.TemporaryDirectory(prefix="goslim-upx-") as tmp:
        packed = Path(tmp) / "packed"
        with open(packed, "wb") as fh:  # upx reads the bytes we analyzed, even if the file changes meanwhile
            for _off, chunk in windows(data):
                fh.write(chunk)
        out = Path(tmp) / "unpacked"
        try:
            unpack_copy(runner, packed, out)
        except ToolError as exc:
            notes.append(
                f"UPX-packed, but `upx -d` failed ({exc.stderr_tail.splitlines()[-1:] or exc.message}); "
                "analyzed the packed file as it is"
            )
            return None, False
        # The map stays valid after the temporary directory is removed.
        copy = ElfImage(read_binary(out), where=f"{path} (upx -d copy)")
    notes.append(
        "UPX-packed: analyzed a temporary `upx -d` copy; sections and packages describe the unpacked "
        "program, size and sha256 the packed file"
    )
    return copy, True
