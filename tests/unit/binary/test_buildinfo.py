"""The build-info parser on synthetic blobs: inline and pre-1.18 pointer formats, quoting, bad input."""

from __future__ import annotations

import pytest

from goslim.binary import read_build_info
from goslim.binary.buildinfo import parse_modinfo
from goslim.binary.errors import CorruptBuildInfoError, NotGoBinaryError
from goslim.binary.gostring import GoStringError, unquote, uvarint
from tests.unit.binary.elfmaker import (
    ElfSpec,
    Sec,
    inline_buildinfo,
    make_elf,
    pointer_buildinfo_elf,
)
from tests.unit.binary.elfmaker import (
    uvarint as enc,
)

MODINFO = (
    "path\texample.com/app/cmd/app\n"
    "mod\texample.com/app\tv1.2.3\th1:abc=\n"
    "dep\tgolang.org/x/text\tv0.14.0\th1:def=\n"
    "dep\texample.com/old\tv1.0.0\th1:ghi=\n"
    "=>\texample.com/new\tv1.1.0\th1:jkl=\n"
    "dep\texample.com/local\tv0.0.0\n"
    "=>\t../local\t\t\n"
    "build\t-buildmode=exe\n"
    'build\t-ldflags="-s -w -X main.v=1 2"\n'
    'build\t"we\\tird"=`raw value`\n'
    "build\tCGO_ENABLED=0\n"
    "build\tvcs.modified=false\n"
)


def _check(info) -> None:
    assert info.go_version == "go1.26.1"
    assert info.path == "example.com/app/cmd/app"
    assert (info.main.path, info.main.version, info.main.sum) == ("example.com/app", "v1.2.3", "h1:abc=")
    assert [d.path for d in info.deps] == ["golang.org/x/text", "example.com/old", "example.com/local"]
    assert info.deps[1].replace.path == "example.com/new" and info.deps[1].replace.version == "v1.1.0"
    assert info.deps[2].replace.path == "../local" and info.deps[2].replace.version == ""
    assert info.settings["-ldflags"] == "-s -w -X main.v=1 2"
    assert info.settings["we\tird"] == "raw value"
    assert info.settings["CGO_ENABLED"] == "0"


def test_inline_format() -> None:
    data = make_elf(
        ElfSpec(
            sections=[Sec(".go.buildinfo", inline_buildinfo("go1.26.1", MODINFO), addr=0x600000, flags=3)]
        )
    )
    info = read_build_info(data)
    _check(info)
    assert info.format == "inline"


def test_inline_format_found_through_segments_when_sections_are_gone() -> None:
    spec = ElfSpec(sections=[Sec(".data", inline_buildinfo("go1.26.1", MODINFO), addr=0x600000, flags=3)])
    data = bytearray(make_elf(spec))
    data[0x3C:0x3E] = b"\0\0"  # e_shnum = 0 (what packers and sstrip leave)
    data[0x28:0x30] = b"\0" * 8  # e_shoff = 0
    _check(read_build_info(bytes(data)))


@pytest.mark.parametrize(("big", "ptr"), [(False, 8), (True, 8), (False, 4)])
def test_pre_118_pointer_format(big: bool, ptr: int) -> None:
    info = read_build_info(pointer_buildinfo_elf("go1.17.13", MODINFO, big_endian=big, ptr_size=ptr))
    assert info.format == "pointer"
    _check(info.model_copy(update={"go_version": "go1.26.1"}))


def test_version_without_module_info() -> None:
    data = make_elf(ElfSpec(sections=[Sec(".go.buildinfo", inline_buildinfo("go1.22.0", ""), addr=0x600000)]))
    info = read_build_info(data)
    assert (info.go_version, info.path, info.deps) == ("go1.22.0", "", [])


def test_no_build_info_is_not_go() -> None:
    with pytest.raises(NotGoBinaryError, match="not a Go binary"):
        read_build_info(make_elf(ElfSpec(sections=[Sec(".text", b"\x90" * 64, addr=0x401000)])))


def test_empty_version_is_not_go() -> None:
    data = make_elf(ElfSpec(sections=[Sec(".go.buildinfo", inline_buildinfo("", MODINFO), addr=0x600000)]))
    with pytest.raises(NotGoBinaryError):
        read_build_info(data)


def test_magic_must_be_16_byte_aligned() -> None:
    blob = b"\0" * 8 + inline_buildinfo("go1.26.1", MODINFO)
    with pytest.raises(NotGoBinaryError):
        read_build_info(make_elf(ElfSpec(sections=[Sec(".go.buildinfo", blob, addr=0x600000)])))


def test_length_past_the_end_is_corrupt() -> None:
    blob = b"\xff Go buildinf:\x08\x02" + b"\0" * 16 + enc(1 << 40) + b"go1"
    with pytest.raises(CorruptBuildInfoError):
        read_build_info(make_elf(ElfSpec(sections=[Sec(".go.buildinfo", blob + b"\0" * 32, addr=0x600000)])))


@pytest.mark.parametrize(
    "bad",
    [
        "mod\tonly-path\n",
        "=>\ta\tb\tc\n",
        "build\t=x\n",
        "build\tnoequals\n",
        "weird\tline\n",
        "notab\n",
        'build\t"unterminated=1\n',
        'build\tk="bad\\q"\n',
    ],
)
def test_malformed_modinfo_lines(bad: str) -> None:
    with pytest.raises(GoStringError):
        parse_modinfo("go1.26.1", bad)


def test_uvarint_and_unquote() -> None:
    assert uvarint(b"\xac\x02", 0) == (300, 2)
    with pytest.raises(GoStringError):
        uvarint(b"\x80\x80", 0)
    assert unquote('"a\\tb\\x41\\u00e9\\101\\""') == 'a\tbAé A"'.replace(" ", "")
    assert unquote("`x\\ny`") == "x\\ny"
    for bad in ('"a', '"\\z"', '"\\u12"', "`a`b`"):
        with pytest.raises(GoStringError):
            unquote(bad)
