"""Go build info (`go version -m`) read straight from the binary, without the go tool.

Layout: REFERENCE.md section 5 (debug/buildinfo). Both the inline format (Go 1.18+) and the
older pointer format are decoded; anything else raises a ``NotGoBinaryError`` subclass.
"""

from __future__ import annotations

from goslim.binary.elf import PF_W, PF_X, PT_LOAD, ElfImage
from goslim.binary.errors import CorruptBuildInfoError, NotGoBinaryError
from goslim.binary.gostring import GoStringError, quoted_prefix, unquote, uvarint
from goslim.binary.models import BuildInfo, Module
from goslim.binary.source import BinarySource, open_elf

MAGIC = b"\xff Go buildinf:"
HEADER_SIZE = 32
SEARCH_WINDOW = 64 * 1024
FLAG_BIG_ENDIAN = 0x01
FLAG_INLINE = 0x02
INFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
INFO_END = bytes.fromhex("f932433186182072008242104116d8f2")
MAX_STRING = 64 * 1024 * 1024  # no real modinfo comes near this; stops a crafted length early


def read_build_info(source: BinarySource) -> BuildInfo:
    """Read the Go build info of an ELF binary (a path, its bytes, or a parsed ``ElfImage``).

    Raises ``NotElfError``/``CorruptElfError`` for bad ELF input and ``NotGoBinaryError`` (or its
    subclass ``CorruptBuildInfoError``) when the file carries no readable Go build info.
    """
    return parse_build_info(open_elf(source))


def find_header(elf: ElfImage) -> int | None:
    """File offset of the build-info header, found the way debug/buildinfo does."""
    sec = elf.section(".go.buildinfo")
    if sec is not None and sec.file_size:
        start = sec.offset
    else:
        # No section headers (stripped by a packer or sstrip): the first writable, non-exec PT_LOAD.
        seg = next(
            (s for s in elf.segments if s.type == PT_LOAD and s.flags & (PF_W | PF_X) == PF_W and s.filesz),
            None,
        )
        if seg is None:
            return None
        start = seg.offset
    window = elf.data[start : start + SEARCH_WINDOW]
    pos = window.find(MAGIC)
    while pos >= 0:
        if pos % 16 == 0 and len(window) - pos >= HEADER_SIZE:
            return start + pos
        pos = window.find(MAGIC, pos + 1)
    return None


def parse_build_info(elf: ElfImage) -> BuildInfo:
    where = elf.where
    at = find_header(elf)
    if at is None:
        raise NotGoBinaryError(
            "not a Go binary (no Go build info found)",
            hint="goslim analyzes executables built by the Go toolchain; UPX-packed ones need `upx -d`",
            where=where,
        )
    header = elf.data[at : at + HEADER_SIZE]
    ptr_size, flags = header[14], header[15]
    try:
        if flags & FLAG_INLINE:
            version, pos = _inline_string(elf.data, at + HEADER_SIZE)
            modinfo, _ = _inline_string(elf.data, pos)
            fmt = "inline"
        else:
            if ptr_size not in (4, 8):
                raise CorruptBuildInfoError(f"build info has pointer size {ptr_size}", where=where)
            big = bool(flags & FLAG_BIG_ENDIAN)
            version = _pointer_string(elf, _word(header, 16, ptr_size, big), ptr_size, big)
            modinfo = _pointer_string(elf, _word(header, 16 + ptr_size, ptr_size, big), ptr_size, big)
            fmt = "pointer"
    except GoStringError as exc:
        raise CorruptBuildInfoError(f"corrupt Go build info: {exc}", where=where) from None
    if not version:
        raise NotGoBinaryError("not a Go binary (empty Go version in build info)", where=where)
    # Without both sentinels there is no module info (GOPATH-mode build): the version alone.
    modinfo = modinfo[16:-16] if len(modinfo) >= 33 and modinfo[-17] == "\n" else ""
    try:
        return parse_modinfo(version, modinfo, fmt)
    except GoStringError as exc:
        raise CorruptBuildInfoError(f"corrupt Go module info: {exc}", where=where) from None


def _decode(raw: bytes) -> str:
    # Module info is UTF-8 text; surrogateescape keeps stray bytes and both sentinels 1:1 in length.
    return raw.decode("utf-8", "surrogateescape")


def _inline_string(data: bytes, pos: int) -> tuple[str, int]:
    length, pos = uvarint(data, pos)
    if length > MAX_STRING or pos + length > len(data):
        raise GoStringError("string runs past the end of the file")
    return _decode(data[pos : pos + length]), pos + length


def _word(buf: bytes, off: int, size: int, big: bool) -> int:
    return int.from_bytes(bytes(buf[off : off + size]), "big" if big else "little")


def _pointer_string(elf: ElfImage, addr: int, ptr_size: int, big: bool) -> str:
    """Pre-1.18 layout: ``addr`` points at a Go string header {data pointer, length}."""
    hdr = elf.read_va(addr, 2 * ptr_size)
    if hdr is None:
        raise GoStringError("string header address is outside the file")
    data_addr, length = _word(hdr, 0, ptr_size, big), _word(hdr, ptr_size, ptr_size, big)
    if length == 0:
        return ""
    if length > MAX_STRING:
        raise GoStringError("string length is implausible")
    raw = elf.read_va(data_addr, length)
    if raw is None:
        raise GoStringError("string data address is outside the file")
    return _decode(raw)


def parse_modinfo(go_version: str, text: str, fmt: str = "inline") -> BuildInfo:
    """Parse the tab-separated module info body (runtime/debug.ParseBuildInfo's rules)."""
    path = ""
    main: Module | None = None
    deps: list[Module] = []
    settings: dict[str, str] = {}
    last: str | None = None  # "main" or "dep": what a following "=>" line replaces
    for line in text.split("\n"):
        if not line:
            continue
        kind, sep, rest = line.partition("\t")
        if not sep:
            raise GoStringError(f"line without a tab: {line[:60]!r}")
        if kind == "path":
            path = rest
        elif kind == "go":
            go_version = go_version or rest
        elif kind in ("mod", "dep"):
            mod = _module(rest, replacement=False)
            if kind == "mod":
                main, last = mod, "main"
            else:
                deps.append(mod)
                last = "dep"
        elif kind == "=>":
            rep = _module(rest, replacement=True)
            if last == "main" and main is not None:
                main = main.model_copy(update={"replace": rep})
            elif last == "dep" and deps:
                deps[-1] = deps[-1].model_copy(update={"replace": rep})
            else:
                raise GoStringError("replacement line without a module to replace")
            last = None
        elif kind == "build":
            key, value = _setting(rest)
            settings[key] = value
        else:
            raise GoStringError(f"unknown line kind {kind[:20]!r}")
    return BuildInfo(
        go_version=go_version,
        path=path,
        main=main or Module(path=""),
        deps=deps,
        settings=settings,
        format=fmt,
    )


def _module(rest: str, *, replacement: bool) -> Module:
    elem = rest.split("\t")
    if replacement:
        if len(elem) != 3:
            raise GoStringError("a replacement line needs 3 columns")
    elif len(elem) not in (2, 3):
        raise GoStringError("a module line needs 2 or 3 columns")
    if not elem[0]:
        raise GoStringError("module line with an empty path")
    return Module(path=elem[0], version=elem[1], sum=elem[2] if len(elem) == 3 else "")


def _setting(kv: str) -> tuple[str, str]:
    if not kv:
        raise GoStringError("build line without '='")
    if kv[0] == "=":
        raise GoStringError("build line without a key")
    if kv[0] in '"`':
        raw_key = quoted_prefix(kv)
        key = unquote(raw_key)
        kv = kv[len(raw_key) :]
        if not kv.startswith("="):
            raise GoStringError("quoted build key not followed by '='")
        raw_value = kv[1:]
    else:
        key, sep, raw_value = kv.partition("=")
        if not sep:
            raise GoStringError("build line without '='")
    value = unquote(raw_value) if raw_value[:1] in ('"', "`") else raw_value
    return key, value
