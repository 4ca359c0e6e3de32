"""The pclntab decoder on synthetic tables of each supported layout, and the package-name rule."""

from __future__ import annotations

import pytest

from goslim.binary import read_functions
from goslim.binary.errors import PclntabError
from goslim.binary.models import BuildInfo, Module
from goslim.binary.packages import ModuleResolver, package_of, packages_of
from goslim.binary.pclntab import decode_table, parse_header
from tests.unit.binary.elfmaker import ElfSpec, Sec, make_elf, make_pclntab

FUNCS = [
    ("runtime.main", 0x40),
    ("main.main", 0x20),
    ("github.com/a/b.v2/pkg.(*T).M", 0x10),
    ("type:.eq.main.T", 0x8),
]


@pytest.mark.parametrize(
    ("layout", "ptr", "big"),
    [
        ("go1.20", 8, False),
        ("go1.18", 8, False),
        ("go1.16", 8, False),
        ("go1.20", 4, False),
        ("go1.20", 8, True),
    ],
)
def test_layouts(layout: str, ptr: int, big: bool) -> None:
    tab = make_pclntab(FUNCS, layout=layout, text_start=0x401000, ptr_size=ptr, big_endian=big)
    elf = make_elf(
        ElfSpec(
            sections=[
                Sec(".text", b"\x90" * 0x78, addr=0x401000, flags=6),
                Sec(".gopclntab", tab, addr=0x500000),
            ],
            elf_class=64 if ptr == 8 else 32,
            big_endian=big,
        )
    )
    funcs = read_functions(elf)
    assert [(f.name, f.size) for f in funcs] == FUNCS
    assert [f.entry for f in funcs] == [0x401000, 0x401040, 0x401060, 0x401070]
    assert [f.package for f in funcs] == (
        ["runtime", "main", "github.com/a/b.v2/pkg", ""]
        if layout == "go1.20"
        else ["runtime", "main", "github.com/a/b.v2/pkg", "type:"]
    )


def test_go126_zero_text_start_falls_back_to_text_section() -> None:
    tab = make_pclntab(FUNCS, text_start=0)
    elf = make_elf(
        ElfSpec(
            sections=[
                Sec(".text", b"\x90" * 0x78, addr=0x402000, flags=6),
                Sec(".gopclntab", tab, addr=0x500000),
            ]
        )
    )
    assert read_functions(elf)[1].entry == 0x402040


def test_text_start_from_moduledata() -> None:
    tab = make_pclntab(FUNCS, text_start=0)
    # moduledata: pcHeader pointer, some words, then minpc/maxpc 0x78 apart.
    words = [0x500000, 7, 7, 0, 0x403000, 0x403078, 0x403000]
    module = b"".join(w.to_bytes(8, "little") for w in words)
    elf = make_elf(
        ElfSpec(
            sections=[
                Sec(".text", b"\x90" * 0x200, addr=0x402000, flags=6),
                Sec(".gopclntab", tab, addr=0x500000),
                Sec(".go.module", module, addr=0x600000, flags=3),
            ]
        )
    )
    assert read_functions(elf)[0].entry == 0x403000


def test_bad_tables() -> None:
    tab = make_pclntab(FUNCS)
    with pytest.raises(PclntabError, match="magic"):
        parse_header(b"\0" * 64)
    with pytest.raises(PclntabError, match=r"1\.15"):
        parse_header(b"\xfb\xff\xff\xff\0\0\x01\x08" + b"\0" * 64)
    with pytest.raises(PclntabError):
        decode_table(tab[:100])
    bad = bytearray(tab)
    bad[6] = 3  # quantum must be 1, 2 or 4
    with pytest.raises(PclntabError, match="corrupt"):
        parse_header(bytes(bad))
    with pytest.raises(PclntabError, match="no Go function table"):
        read_functions(make_elf(ElfSpec(sections=[Sec(".text", b"\x90" * 16, addr=0x401000)])))


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("main.run.func1", "main"),
        ("github.com/a/b.v2/pkg.(*T).M", "github.com/a/b.v2/pkg"),
        ("slices.Sort[go.shape.[]string]", "slices"),
        ("example.com/x/y.F[example.com/z.T]", "example.com/x/y"),
        ("go:buildid", ""),
        ("type:.eq.[2]string", ""),
        ("runtime.text", "runtime"),
        ("noDot", ""),
    ],
)
def test_package_of(name: str, package: str) -> None:
    assert package_of(name) == package
    assert packages_of([name]) == [package]


def test_module_resolver() -> None:
    info = BuildInfo(
        go_version="go1.26",
        path="example.com/app/cmd/x",
        main=Module(path="example.com/app"),
        deps=[Module(path="github.com/a/b"), Module(path="github.com/a/b/v2")],
    )
    r = ModuleResolver(info)
    assert r.module_of("main") == "example.com/app"
    assert r.module_of("github.com/a/b/v2/pkg") == "github.com/a/b/v2"
    assert r.module_of("github.com/a/b/c") == "github.com/a/b"
    assert r.module_of("net/http") == "std"
    assert r.module_of("github.com/unknown/x") == ""


def test_huge_64bit_funcoff_is_a_pclntab_error() -> None:
    """Found by fuzzing: a go1.16 functab holds 64-bit offsets that overflow struct's index."""
    tab = bytearray(make_pclntab(FUNCS, layout="go1.16"))
    pcln = int.from_bytes(tab[8 + 6 * 8 : 8 + 7 * 8], "little")
    tab[pcln + 8 : pcln + 16] = (1 << 63).to_bytes(8, "little")  # first funcoff
    with pytest.raises(PclntabError, match="outside"):
        decode_table(bytes(tab))
