"""Real seeds for the fuzzer, derived from one real Go binary and the image goslim builds from it.

A whole 6 MB binary is too slow to copy and parse a million times, so the ELF seed is a
*skeleton* of the real file: its real ELF header, program headers and section headers, with
each section's bytes cut to a short prefix (the build-info and name-table sections kept whole)
and offsets rewritten. The pclntab seed is likewise a compact re-pack of the real function table:
its header and its first few dozen functions' names, records and functab entries. The image
seeds are the real manifest, config and layers of ``goslim image`` on the static base; the tar
seeds are a cut-down copy of
the real base layer plus a hand-made tar holding every entry type the unpacker handles.
"""

from __future__ import annotations

import io
import struct
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from goslim.binary.elf import ElfImage
from goslim.binary.pclntab import decode_table, find_table
from goslim.oci import Image, mediatypes, new_config, write_docker_archive
from goslim.oci.layer import Layer
from goslim.platform import Platform

Range = tuple[int, int]
KEEP_WHOLE = {".shstrtab", ".go.buildinfo", ".note.go.buildid", ".interp", ".dynamic", ".dynstr"}
SECTION_PREFIX = 256
PCLNTAB_FUNCS = 48


@dataclass(frozen=True)
class ElfSeed:
    data: bytes
    hot: tuple[Range, ...]
    buildinfo: Range


@dataclass(frozen=True)
class PclntabSeed:
    table: bytearray = field(repr=False)
    hot: tuple[Range, ...]


@dataclass(frozen=True)
class Corpus:
    """Everything the targets mutate; built once per run."""

    elf: ElfSeed
    pclntab: PclntabSeed
    image: Image  # the real goslim image (static base + app)
    small_image: Image  # a one-layer image small enough to verify its blobs on every run
    tars: tuple[bytes, ...]
    docker_archive: bytes
    references: tuple[str, ...]


def build_corpus(binary: Path, image: Image, work: Path) -> Corpus:
    """Derive every seed from the real ``binary`` and the real ``image`` goslim built from it."""
    data = binary.read_bytes()
    tars = (cut_down_tar(image.layers[0]), crafted_tar())
    small = small_image(tars[0])
    archive = work / "seed-archive.tar"
    write_docker_archive(archive, small, ["example.com/seed:v1"])
    return Corpus(
        elf=elf_skeleton(data),
        pclntab=pclntab_seed(data),
        image=image,
        small_image=small,
        tars=tars,
        docker_archive=archive.read_bytes(),
        references=("127.0.0.1:5000/team/app:v1", "ghcr.io/o/r@sha256:" + "a" * 64, "alpine",
                    "docker.io/library/busybox:1.36", "localhost/x/y/z:latest", f"oci:{work}/layout:v1",
                    f"docker-archive:{archive}", "example.com:443/a-b/c_d:tag.1"),
    )


def elf_skeleton(data: bytes) -> ElfSeed:
    """The real headers of ``data`` with every section cut to a short prefix (offsets rewritten)."""
    elf = ElfImage(data)
    e = ">" if elf.big_endian else "<"
    is64 = elf.elf_class == 64
    shdr_fmt = e + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII")
    shsize = struct.calcsize(shdr_fmt)
    out = bytearray(data[: elf.header_size])
    phoff = len(out)
    out += data[elf.e_phoff : elf.e_phoff + elf.e_phnum * elf.e_phentsize]
    ph_end = len(out)
    raw = [list(struct.unpack_from(shdr_fmt, data, elf.e_shoff + i * elf.e_shentsize))
           for i in range(len(elf.sections))]
    buildinfo: Range = (0, 0)
    names = (4, 5)  # offset and size fields of a section header
    for sec, fields in zip(elf.sections, raw, strict=True):
        if sec.type in (0, 8):  # NULL and NOBITS occupy no file bytes
            continue
        keep = sec.size if sec.name in KEEP_WHOLE else min(sec.size, SECTION_PREFIX)
        while len(out) % 16:
            out.append(0)
        fields[names[0]], fields[names[1]] = len(out), keep
        if sec.name == ".go.buildinfo":
            buildinfo = (len(out), len(out) + min(keep, 4096))
        out += data[sec.offset : sec.offset + keep]
    while len(out) % 16:
        out.append(0)
    shoff = len(out)
    for fields in raw:
        out += struct.pack(shdr_fmt, *fields)
    if is64:
        struct.pack_into(e + "QQ", out, 32, phoff, shoff)
    else:
        struct.pack_into(e + "II", out, 28, phoff, shoff)
    struct.pack_into(e + "H", out, 58 if is64 else 46, shsize)
    hot = ((0, elf.header_size), (phoff, ph_end), (shoff, len(out)), buildinfo)
    ElfImage(bytes(out))  # the skeleton itself must parse
    return ElfSeed(bytes(out), hot, buildinfo)


def pclntab_seed(data: bytes) -> PclntabSeed:
    """A compact copy of the real .gopclntab: its header, and the names, records and functab entries of
    its first ``PCLNTAB_FUNCS`` functions, re-packed with offsets rewritten (a few KB instead of MBs)."""
    tab, _va = find_table(ElfImage(data))
    h, names, entries = decode_table(tab)
    order = "big" if h.big_endian else "little"
    field_size = h.ptr_size if h.layout == "go1.16" else 4
    name_at = h.ptr_size if h.layout == "go1.16" else 4
    n = min(PCLNTAB_FUNCS, h.nfunc)
    header_len = 8 + (7 if h.layout == "go1.16" else 8) * h.ptr_size
    funcnames = bytearray()
    name_offs = []
    for name in names[:n]:
        name_offs.append(len(funcnames))
        funcnames += name.encode() + b"\0"
    filetab = tab[h.filetab : h.filetab + 2048]
    filetab = filetab[: filetab.rfind(b"\0") + 1]
    regions = [bytes(funcnames), tab[h.cutab : h.cutab + 256], filetab, tab[h.pctab : h.pctab + 256]]
    offsets = []
    body = bytearray()
    for region in regions:
        offsets.append(header_len + len(body))
        body += region
    pcln = header_len + len(body)
    functab_len = (n + 1) * 2 * field_size
    functab, records = bytearray(), bytearray()
    for i in range(n + 1):
        functab += entries[i].to_bytes(field_size, order)
        if i == n:
            functab += (0).to_bytes(field_size, order)
            continue
        at = h.pcln + (2 * i + 1) * field_size
        funcoff = int.from_bytes(tab[at : at + field_size], order)
        record = bytearray(tab[h.pcln + funcoff : h.pcln + funcoff + 48])
        record[name_at : name_at + 4] = name_offs[i].to_bytes(4, order, signed=True)
        functab += (functab_len + len(records)).to_bytes(field_size, order)
        records += record
    words = [n, min(h.nfiles, 8), h.text_start, *offsets, pcln]
    if h.layout == "go1.16":
        words.pop(2)
    table = bytearray(tab[:8])
    for w in words:
        table += w.to_bytes(h.ptr_size, order)
    table += body + functab + records
    _h, compact_names, _ = decode_table(bytes(table))  # the compact table must decode like the real one
    assert compact_names == names[:n], "compact pclntab does not decode to the real names"
    hot = [(0, header_len), (pcln, pcln + functab_len), (pcln + functab_len, len(table)),
           (offsets[0], offsets[0] + 512), (offsets[2], offsets[2] + 256)]
    return PclntabSeed(table, tuple(hot))


def cut_down_tar(layer: Layer, limit: int = 40, max_size: int = 4096) -> bytes:
    """The first ``limit`` small members of a real layer, re-written as an uncompressed tar."""
    out = io.BytesIO()
    with layer.open_uncompressed() as raw, tarfile.open(fileobj=raw, mode="r|") as src, \
            tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as dst:
        kept = 0
        for member in src:
            if member.size > max_size:
                continue
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
            kept += 1
            if kept >= limit:
                break
    return out.getvalue()


def crafted_tar() -> bytes:
    """Every entry type the unpacker handles: dirs, files, symlinks, hardlinks, whiteouts, long names."""
    out = io.BytesIO()

    def add(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", linkname: str = "",
            mode: int = 0o644) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode, info.size = kind, linkname, mode, len(data)
        tar.addfile(info, io.BytesIO(data) if data else None)

    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        add("./etc", tarfile.DIRTYPE, mode=0o755)
        add("./etc/passwd", data=b"root:x:0:0:root:/root:/sbin/nologin\n")
        add("./etc/hardlink", tarfile.LNKTYPE, linkname="etc/passwd")
        add("./etc/localtime", tarfile.SYMTYPE, linkname="../usr/share/zoneinfo/UTC")
        add("./usr/share/zoneinfo/UTC", data=b"TZif2" + b"\0" * 40)
        add("./lib", tarfile.SYMTYPE, linkname="usr/lib")
        add("./usr/lib/x", data=b"x")
        add("./etc/.wh.gone")
        add("./var/.wh..wh..opq")
        add("./d/" + "long" * 40 + "/f", data=b"long name")
        add("./fifo", tarfile.FIFOTYPE)
        add("./tmp", tarfile.DIRTYPE, mode=0o1777)
    return out.getvalue()


def small_image(tar_bytes: bytes) -> Image:
    """A one-layer image around an uncompressed real tar (cheap to re-verify on every read)."""
    layer = Layer.from_blob(mediatypes.OCI_LAYER, data=tar_bytes)
    config = new_config(Platform(os="linux", architecture="amd64"), entrypoint=["/app/x"])
    return Image.build(config, [layer])


def layer_image_from_tar(tar_bytes: bytes, diff_id_matches: bool = True) -> Image:
    """An image whose only layer is ``tar_bytes`` (uncompressed), optionally with a stale diff_id."""
    layer = Layer.from_blob(mediatypes.OCI_LAYER, data=tar_bytes)
    if not diff_id_matches:
        other = Layer.from_blob(mediatypes.OCI_LAYER, data=tar_bytes + b"\0")
        layer = Layer(layer.media_type, layer.digest, other.diff_id, layer.size, data=tar_bytes)
    config = new_config(Platform(os="linux", architecture="amd64"))
    return Image.build(config, [layer])
