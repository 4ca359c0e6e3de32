"""The zone-name reader on hand-assembled call sites, and the TZ rule of the run's environment."""

from __future__ import annotations

import struct

from goslim.binary.models import Need, NeedAnswer, Needs
from goslim.binary.needs import LOCAL_TIME_NOTE, tz_zone, with_run_env
from goslim.binary.zones import BLOCK, Span, _amd64_sites, _arm64_sites, _decode_bitmask, valid_zone_name

BASE = 0x401000


def amd64_call(at: int, target: int, string_va: int | None, length: int | None) -> bytes:
    """LEAQ s(IP), AX; MOVL $n, BX; CALL target, placed at ``at`` (a VA); or a bare CALL."""
    code = b""
    if string_va is not None and length is not None:
        code += b"\x48\x8d\x05" + struct.pack("<i", string_va - (at + 7))
        code += b"\xbb" + struct.pack("<I", length)
    call_at = at + len(code)
    return code + b"\xe8" + struct.pack("<i", target - (call_at + 5))


def test_amd64_finds_constant_and_dynamic_calls_across_blocks() -> None:
    target = BASE + 0x10
    code = bytearray(b"\xcc" * (3 * BLOCK))
    near = 0x100
    code[near : near + 17] = amd64_call(BASE + near, target, 0x500000, 13)
    far = 2 * BLOCK + 0x123  # another block: the displacement's high half differs
    code[far : far + 17] = amd64_call(BASE + far, target, 0x500100, 9)
    bare = BLOCK + 7
    code[bare : bare + 5] = amd64_call(BASE + bare, target, None, None)
    sites = sorted(_amd64_sites(Span(bytes(code), 0, len(code), BASE), frozenset({target})))
    assert sites == [
        (BASE + near + 12, target, (0x500000, 13)),
        (BASE + bare, target, None),
        (BASE + far + 12, target, (0x500100, 9)),
    ]


def test_amd64_ignores_calls_elsewhere() -> None:
    code = amd64_call(BASE, BASE + 0x9999, 0x500000, 13)
    assert list(_amd64_sites(Span(code, 0, len(code), BASE), frozenset({BASE + 0x10}))) == []


def arm64_call(pc: int, target: int, string_va: int, length: int) -> bytes:
    """ADRP x0; ADD x0, x0, #lo; MOVZ x1, #len; BL target (at VA ``pc``)."""
    page = ((string_va & ~0xFFF) - (pc & ~0xFFF)) >> 12
    immlo, immhi = page & 3, (page >> 2) & 0x7FFFF
    adrp = 0x90000000 | (immlo << 29) | (immhi << 5)
    add = 0x91000000 | ((string_va & 0xFFF) << 10)
    movz = 0xD2800001 | (length << 5)
    bl = 0x94000000 | (((target - (pc + 12)) >> 2) & 0x3FFFFFF)
    return struct.pack("<4I", adrp, add, movz, bl)


def test_arm64_reads_adrp_add_mov_before_bl() -> None:
    target = BASE + 0x40
    code = bytearray(b"\x1f\x20\x03\xd5" * (BLOCK // 2))  # NOPs
    at = 0x2000
    code[at : at + 16] = arm64_call(BASE + at, target, 0x6A1234, 16)
    sites = list(_arm64_sites(Span(bytes(code), 0, len(code), BASE), frozenset({target})))
    assert sites == [(BASE + at + 12, target, (0x6A1234, 16))]


def test_arm64_logical_immediate() -> None:
    # ORR x1, xzr, #16 is how Go loads 16 (seen in `go tool objdump` as b27c03e1).
    w = 0xB27C03E1
    assert _decode_bitmask((w >> 22) & 1, (w >> 16) & 0x3F, (w >> 10) & 0x3F) == 16


def test_zone_names_go_would_look_up() -> None:
    assert valid_zone_name("Asia/Shanghai") and valid_zone_name("EST5EDT")
    for name in ("", "UTC", "Local", "/etc/passwd", "../x", "a/../../b"):
        assert not valid_zone_name(name)


def needs(zoneinfo: Need) -> Needs:
    no = Need(answer=NeedAnswer.NOT_NEEDED)
    return Needs(ca_roots=no, zoneinfo=zoneinfo, passwd=no, resolver=no, loader=no)


def test_tz_follows_go_init_local() -> None:
    assert tz_zone({}) is None and tz_zone({"TZ": ""}) is None and tz_zone({"TZ": "UTC"}) is None
    assert tz_zone({"TZ": ":Europe/Paris"}) == "Europe/Paris"
    assert tz_zone({"TZ": "/usr/share/zoneinfo/Asia/Tokyo"}) == "Asia/Tokyo"
    assert tz_zone({"TZ": "/etc/mytz"}) is None  # a file of the user's own


def test_tz_makes_a_local_time_binary_need_its_zone() -> None:
    local = Need(answer=NeedAnswer.NOT_NEEDED, detail=f"time.LoadLocation is not linked; {LOCAL_TIME_NOTE}")
    got = with_run_env(needs(local), {"TZ": "Asia/Tokyo"}).zoneinfo
    assert got.needed and got.names == ["Asia/Tokyo"] and "TZ=Asia/Tokyo" in got.evidence[0]
    assert with_run_env(needs(local), {}).zoneinfo == local


def test_tz_adds_to_named_zones_and_leaves_all_and_carried_alone() -> None:
    named = Need(answer=NeedAnswer.NEEDED, names=["Europe/Paris"])
    assert with_run_env(needs(named), {"TZ": "Asia/Tokyo"}).zoneinfo.names == ["Asia/Tokyo", "Europe/Paris"]
    every = Need(answer=NeedAnswer.NEEDED)
    assert with_run_env(needs(every), {"TZ": "Asia/Tokyo"}).zoneinfo.names is None
    carried = Need(answer=NeedAnswer.CARRIED, carrier="zoneinfo (time/tzdata)")
    assert with_run_env(needs(carried), {"TZ": "Asia/Tokyo"}).zoneinfo == carried
