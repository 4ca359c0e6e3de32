from goslim.upx.inspect import inspect_bytes, looks_upx_packed
from tests.unit.upx.elfdata import ET_DYN, tiny_elf


def test_static_exec_is_the_packable_shape():
    facts = inspect_bytes(tiny_elf())
    assert facts.is_elf and facts.bits == 64 and facts.machine == "amd64"
    assert not facts.is_pie and not facts.has_interp and not facts.upx_packed
    assert facts.load_segments == ("R E",)


def test_pie_and_interpreter_are_seen():
    assert inspect_bytes(tiny_elf(elf_type=ET_DYN)).is_pie
    assert inspect_bytes(tiny_elf(interp=True)).has_interp


def test_non_elf_and_truncated_files():
    assert not inspect_bytes(b"#!/bin/sh\necho hi\n" * 10).is_elf
    assert not inspect_bytes(b"\x7fELF").is_elf


def test_upx_magic_after_headers_or_at_the_tail():
    elf = tiny_elf()
    assert looks_upx_packed(elf[:200] + b"UPX!" + elf[200:])
    assert looks_upx_packed(elf + bytes(5000) + b"UPX!" + bytes(32))
    assert not looks_upx_packed(elf + bytes(5000))
