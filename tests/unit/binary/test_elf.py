"""The ELF reader on synthetic files, bad input, and against pyelftools on a real executable."""

from __future__ import annotations

import io
import sys

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.enums import ENUM_P_TYPE_BASE

from goslim.binary.elf import ElfImage
from goslim.binary.errors import CorruptElfError, NotElfError
from tests.unit.binary.elfmaker import ElfSpec, Sec, make_elf


def test_synthetic_64bit_facts() -> None:
    data = make_elf(
        ElfSpec(
            sections=[
                Sec(".text", b"\x90" * 64, addr=0x401000, flags=6),
                Sec(".debug_info", b"d" * 100, flags=0),
            ],
            interp="/lib/ld-musl-x86_64.so.1",
        )
    )
    elf = ElfImage(data)
    assert (elf.elf_class, elf.machine_name, elf.goarch) == (64, "EM_X86_64", "amd64")
    assert elf.interpreter == "/lib/ld-musl-x86_64.so.1"
    assert elf.libc == "musl"
    assert elf.dwarf_bytes() == 100
    assert elf.section(".text").size == 64
    assert elf.read_va(0x401000, 4) == b"\x90" * 4


@pytest.mark.parametrize(
    ("machine", "elf_class", "big", "goarch"),
    [
        (3, 32, False, "386"),
        (183, 64, False, "arm64"),
        (22, 64, True, "s390x"),
        (21, 64, False, "ppc64le"),
        (8, 32, True, "mips"),
        (9999, 64, False, None),
    ],
)
def test_machines(machine: int, elf_class: int, big: bool, goarch: str | None) -> None:
    elf = ElfImage(
        make_elf(
            ElfSpec(
                sections=[Sec(".text", b"x" * 8, addr=0x1000)],
                machine=machine,
                elf_class=elf_class,
                big_endian=big,
            )
        )
    )
    assert elf.goarch == goarch
    assert elf.elf_class == elf_class


@pytest.mark.parametrize("data", [b"", b"MZ\x90\x00", b"#!/bin/sh\necho hi\n", b"\x7fEL"])
def test_not_elf(data: bytes) -> None:
    with pytest.raises(NotElfError):
        ElfImage(data)


def test_truncated_at_every_length_is_a_goslim_error() -> None:
    data = make_elf(ElfSpec(sections=[Sec(".text", b"\x90" * 32, addr=0x401000)]))
    for cut in range(4, len(data) - 1, 7):
        try:
            ElfImage(data[:cut])
        except CorruptElfError as exc:
            assert "corrupt or truncated" in exc.message


def test_bad_class_and_byte_order() -> None:
    data = bytearray(make_elf(ElfSpec()))
    data[4] = 7
    with pytest.raises(CorruptElfError, match="class"):
        ElfImage(bytes(data))
    data[4], data[5] = 2, 9
    with pytest.raises(CorruptElfError, match="byte order"):
        ElfImage(bytes(data))


def test_matches_pyelftools_on_the_python_executable() -> None:
    raw = open(sys.executable, "rb").read()  # noqa: SIM115 - a short read of a file we do not own
    ours = ElfImage(raw)
    ref = ELFFile(io.BytesIO(raw))
    assert [s.name for s in ours.sections] == [s.name for s in ref.iter_sections()]
    assert [(s.offset, s.size) for s in ours.sections] == [
        (s["sh_offset"], s["sh_size"]) for s in ref.iter_sections()
    ]
    types = {name: value for name, value in ENUM_P_TYPE_BASE.items() if isinstance(value, int)}
    assert [(p.type, p.vaddr, p.filesz, p.memsz) for p in ours.segments] == [
        (types.get(p["p_type"], p["p_type"]), p["p_vaddr"], p["p_filesz"], p["p_memsz"])
        for p in ref.iter_segments()
    ]
    dyn = ref.get_section_by_name(".dynamic")
    if dyn is not None:
        ref_needed = [t.needed for t in dyn.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
        assert ours.needed == ref_needed
    interp = ref.get_section_by_name(".interp")
    assert ours.interpreter == (interp.data().rstrip(b"\0").decode() if interp is not None else None)
