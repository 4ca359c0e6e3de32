"""UPX recognition on synthetic headers (REFERENCE 8.1); the real packer is in the integration tests."""

from __future__ import annotations

from goslim.binary.upxtool import looks_packed


def test_l_info_magic_after_program_headers() -> None:
    data = bytearray(4096)
    l_info = 64 + 3 * 56
    data[l_info + 4 : l_info + 8] = b"UPX!"
    assert looks_packed(bytes(data), phoff=64, phnum=3, phentsize=56, shnum=0)


def test_tail_packheader_or_ident_only_without_sections() -> None:
    data = bytearray(8192)
    data[-40:-36] = b"UPX!"
    assert looks_packed(bytes(data), phoff=64, phnum=2, phentsize=56, shnum=0)
    assert not looks_packed(bytes(data), phoff=64, phnum=2, phentsize=56, shnum=30)
    ident = bytearray(8192)
    ident[500:540] = b"$Info: This file is packed with the UPX e"
    assert looks_packed(bytes(ident), phoff=64, phnum=2, phentsize=56, shnum=0)


def test_plain_file_is_not_packed() -> None:
    assert not looks_packed(bytes(4096), phoff=64, phnum=9, phentsize=56, shnum=25)
    assert not looks_packed(b"", phoff=1 << 62, phnum=0, phentsize=0, shnum=0)
