"""A corpus of hostile images, built by code: escapes, whiteout tricks, device nodes, bombs.

Each case is a list of layers, each a list of tar entries (``E``), made for one canary tree on the
host: the attacks aim at the canary by its absolute path (symlinks to it, relative climbs up to it,
hardlinks into it). ``canary()`` makes the tree and ``snapshot()`` records everything about it
(content, mode, owner, mtime, link targets) so a test can prove nothing outside the rootfs changed.
Bombs (gzip/zstd of zeros, a pax header, 250k entries) are blobs made once and cached.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import stat
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import zstandard

from goslim.oci import Image, Layer, Platform, mediatypes, new_config, write_docker_archive, write_oci_layout
from goslim.oci.digest import Digest

GIB = 1 << 30
AMD64 = Platform(os="linux", architecture="amd64")
Kind = Literal["file", "dir", "sym", "link", "chr", "blk", "fifo"]
_TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "link": tarfile.LNKTYPE,
          "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}


@dataclass(frozen=True)
class E:
    """One tar entry: kind, name, link target, mode, owner, content, device numbers."""

    kind: Kind
    name: str
    link: str = ""
    mode: int = 0o755
    uid: int = 0
    gid: int = 0
    data: bytes = field(default=b"", repr=False)
    major: int = 0
    minor: int = 0


Expect = Literal["refused", "safe"]


@dataclass(frozen=True)
class Case:
    """A hostile image: its layers for a canary at a given path, and what unpack must do with it."""

    layers: Callable[[str], list[list[E]]]
    expect: Expect  # refused: UnsafeLayerError / exit 2; safe: unpacks, but only inside the rootfs


def _d(name: str, mode: int = 0o777, uid: int = 4242) -> E:
    return E("dir", name, mode=mode, uid=uid, gid=uid)


def _climb(canary: str) -> str:
    return "../" * 40 + canary.lstrip("/")


CASES: dict[str, Case] = {
    # The critical attack: directory metadata applied through a later symlink.
    "dirmeta-one-layer": Case(lambda c: [[_d("x", 0o755, 0), _d("x/victimdir"), E("sym", "x", c)]], "safe"),
    "dirmeta-two-layers": Case(lambda c: [[_d("x", 0o755, 0), _d("x/victimdir")], [E("sym", "x", c)]],
                               "safe"),
    "dirmeta-root-entry": Case(lambda c: [[_d("x", 0o755, 0), _d("x/victimdir")],
                                          [E("sym", "x", c + "/victimdir"), _d("x/etc")]], "safe"),
    # `x -> /` then x/<canary>/etc 0777: "/" means the rootfs, never the host.
    "root-symlink": Case(lambda c: [[E("sym", "x", "/"), _d(f"x{c}/etc"), _d(f"x{c}/victimdir")]], "safe"),
    "root-symlink-two-layers": Case(lambda c: [[E("sym", "x", "/")],
                                               [_d(f"x{c}/victimdir"),
                                                E("file", f"x{c}/etc/passwd", mode=0o666, data=b"pwned\n")]],
                                    "safe"),
    "symlink-chain": Case(lambda c: [[E("sym", "a", "b"), E("sym", "b", "c"), E("sym", "c", c),
                                      _d("a/victimdir"), E("file", "a/victimdir/file.txt", data=b"pwned\n")]],
                          "safe"),
    "symlink-chain-dirmeta": Case(lambda c: [[_d("a", 0o755, 0), _d("a/victimdir")],
                                             [E("sym", "a", "b"), E("sym", "b", c)]], "safe"),
    "relative-climb": Case(lambda c: [[E("sym", "l", _climb(c)), E("file", "l/etc/passwd", data=b"pwned\n")]],
                           "refused"),
    "relative-climb-two-layers": Case(lambda c: [[_d("d", 0o755, 0), E("sym", "d/l", _climb(c))],
                                                 [_d("d/l/victimdir")]], "refused"),
    "relative-climb-chain": Case(lambda c: [[_d("a", 0o755, 0), E("sym", "a/up", ".."),
                                             E("sym", "a/up/up2", "..")]], "refused"),
    "hardlink-into-symlinked-dir": Case(lambda c: [[E("sym", "d", c + "/victimdir"),
                                                    E("link", "h", "d/file.txt")]], "refused"),
    "hardlink-to-symlink": Case(lambda c: [[E("sym", "s", c + "/victimdir/file.txt"), E("link", "h", "s")]],
                                "refused"),
    "hardlink-climb": Case(lambda c: [[E("link", "h", _climb(c) + "/etc/passwd")]], "refused"),
    "hardlink-via-symlinked-parent": Case(lambda c: [[E("file", "f", data=b"x"), E("sym", "d", c),
                                                      E("link", "d/etc/passwd", "f")]], "safe"),
    "whiteout-dot": Case(lambda c: [[E("file", ".wh..")]], "refused"),
    "whiteout-dotdot": Case(lambda c: [[E("file", ".wh...")]], "refused"),
    "whiteout-bare": Case(lambda c: [[E("file", "etc/.wh.")]], "refused"),
    "opaque-at-root": Case(lambda c: [[E("file", "f", data=b"x")], [E("file", ".wh..wh..opq")]], "refused"),
    "whiteout-climb": Case(lambda c: [[E("file", "../" * 40 + ".wh.victimdir")]], "refused"),
    "whiteout-absolute": Case(lambda c: [[E("file", c + "/.wh.victimdir")]], "refused"),
    "whiteout-through-symlink": Case(lambda c: [[E("sym", "x", c)], [E("file", "x/.wh.victimdir"),
                                                                     E("file", "x/etc/.wh.passwd")]], "safe"),
    "opaque-through-symlink": Case(lambda c: [[E("sym", "x", c)], [E("file", "x/etc/.wh..wh..opq"),
                                                                   E("file", "x/.wh..wh..opq")]], "safe"),
    "whiteout-through-climbing-link": Case(lambda c: [[E("sym", "x", "../" * 40)], [E("file", "x/.wh.tmp")]],
                                           "refused"),
    "device-nodes": Case(lambda c: [[E("chr", "dev/mem", mode=0o666, major=1, minor=1),
                                     E("blk", "dev/sda", mode=0o666, major=8, minor=0),
                                     E("fifo", "run/fifo", mode=0o666),
                                     E("sym", "x", c), E("chr", "x/victimdir/null", major=1, minor=3),
                                     E("fifo", "x/etc/fifo")]], "safe"),
}

# Bombs: their blobs are made once (seconds of compression) and shared by every test.
BOMBS: tuple[str, ...] = ("gzip-bomb", "zstd-bomb", "pax-header-bomb", "entry-count")


def tar_bytes(entries: list[E]) -> bytes:
    """An uncompressed tar of ``entries`` (PAX, so long names need no GNU headers)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = _TYPES[e.kind]
            info.mode, info.uid, info.gid, info.mtime = e.mode, e.uid, e.gid, 0
            info.linkname = e.link
            info.devmajor, info.devminor = e.major, e.minor
            info.size = len(e.data) if e.kind == "file" else 0
            tar.addfile(info, io.BytesIO(e.data) if info.size else None)
    return out.getvalue()


def gzip_layer(raw: bytes) -> Layer:
    """``raw`` gzip-compressed into a layer (diff_id computed by goslim.oci)."""
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    return Layer.from_blob(mediatypes.OCI_LAYER_GZIP, data=z.compress(raw) + z.flush())


def image_of(layers: list[Layer], entrypoint: str = "/app") -> Image:
    return Image.build(new_config(AMD64, entrypoint=[entrypoint], created=0), layers)


def case_image(name: str, canary_path: str) -> Image:
    """The image of case ``name`` aimed at the canary at ``canary_path``."""
    if name in BOMBS:
        return bomb_image(name)
    base = [E("dir", "etc", mode=0o755), E("file", "etc/os-release", mode=0o644, data=b"ID=hostile\n")]
    return image_of([gzip_layer(tar_bytes(base)), *(gzip_layer(tar_bytes(la)) for la in
                                                    CASES[name].layers(canary_path))])


def expectation(name: str) -> Expect:
    return "refused" if name in BOMBS else CASES[name].expect


def write_location(image: Image, where: Path, kind: str = "oci") -> str:
    """Write ``image`` as an OCI layout or docker-archive under ``where``; returns its goslim location."""
    if kind == "oci":
        write_oci_layout(where / "layout", image, "hostile")
        return f"oci:{where / 'layout'}:hostile"
    write_docker_archive(where / "image.tar", image, ["example.com/hostile:v1"])
    return f"docker-archive:{where / 'image.tar'}"


# -- bombs ---------------------------------------------------------------------------------------------

def _file_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o755, 0
    return info.tobuf(format=tarfile.USTAR_FORMAT)


Segment = bytes | int  # literal bytes, or a number of MiB of zeros


def _zeros_tar_segments(size_mib: int) -> list[Segment]:
    """The tar of one file 'app' holding ``size_mib`` MiB of zeros."""
    return [_file_header("app", size_mib << 20), size_mib, bytes(1024)]


@functools.cache
def _zero_member(compression: str) -> bytes:
    """1 MiB of zeros as one gzip member / zstd frame: repeated, it makes a bomb in milliseconds."""
    return _compress(bytes(1 << 20), compression)


@functools.cache
def _compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        z = zlib.compressobj(9, zlib.DEFLATED, 31)
        return z.compress(data) + z.flush()
    return zstandard.ZstdCompressor(level=3).compress(data)


@functools.cache
def _diff_id(segments: tuple[Segment, ...]) -> Digest:
    h = hashlib.sha256()
    zeros = bytes(1 << 20)
    for seg in segments:
        if isinstance(seg, int):
            for _ in range(seg):
                h.update(zeros)
        else:
            h.update(seg)
    return Digest("sha256", h.hexdigest())


def _segments_layer(segments: list[Segment], compression: str) -> Layer:
    """A layer whose blob is one gzip member (zstd frame) per segment: valid, and cheap to make."""
    blob = b"".join(_zero_member(compression) * seg if isinstance(seg, int) else _compress(seg, compression)
                    for seg in segments)
    media = mediatypes.OCI_LAYER_GZIP if compression == "gzip" else mediatypes.OCI_LAYER_ZSTD
    return Layer(media, Digest.of_bytes(blob), _diff_id(tuple(segments)), len(blob), data=blob)


@functools.cache
def bomb_layer(name: str) -> Layer:
    """The bomb layer ``name``: a 1 GiB zero file (gzip or zstd), a 256 MiB pax header, 250k entries."""
    if name == "gzip-bomb":
        return _segments_layer(_zeros_tar_segments(1024), "gzip")
    if name == "zstd-bomb":
        return _segments_layer(_zeros_tar_segments(1024), "zstd")
    if name == "pax-header-bomb":
        info = tarfile.TarInfo("././@PaxHeader")
        info.type, info.size = tarfile.XHDTYPE, 256 << 20
        head = info.tobuf(format=tarfile.USTAR_FORMAT)
        return _segments_layer([head, 256, _file_header("app", 0) + bytes(1024)], "gzip")
    if name == "entry-count":
        # 250 directories of 1000 empty files: 250k distinct entries, each block compressed on its own.
        blocks = [_dir_header(f"d{b:03d}") + _many_entries(f"d{b:03d}", 1000) for b in range(250)]
        return _segments_layer([*blocks, bytes(1024)], "gzip")
    raise KeyError(name)


def _many_entries(directory: str, count: int) -> bytes:
    """Headers of ``count`` empty files DIRECTORY/0000000...: a template with name and checksum patched."""
    template = bytearray(_file_header(f"{directory}/0000000", 0))
    at = len(directory) + 1
    base_sum = sum(template[:148]) + 8 * 32 + sum(template[156:]) - 7 * ord("0")
    out = bytearray()
    for i in range(count):
        name = b"%07d" % i
        template[at:at + 7] = name
        template[148:156] = b"%06o\0 " % (base_sum + sum(name))
        out += template
    return bytes(out)


def _dir_header(name: str) -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def bomb_image(name: str) -> Image:
    return image_of([bomb_layer(name)])


def gzipped_docker_archive_with_big_layer(path: Path, size_mib: int = 1024) -> str:
    """A docker-archive (gzip-compressed as a whole, ~1 MB) whose one layer is an uncompressed 1 GiB tar.

    Readers that load a layer member into memory need a GiB of RAM for it.
    """
    inner = _zeros_tar_segments(size_mib)
    config = new_config(AMD64, entrypoint=["/app"], created=0)
    config["rootfs"] = {"type": "layers", "diff_ids": [str(_diff_id(tuple(inner)))]}
    config_bytes = json.dumps(config).encode()
    manifest = json.dumps([{"Config": "config.json", "RepoTags": ["example.com/big:v1"],
                            "Layers": ["layer.tar"]}]).encode()
    head = io.BytesIO()
    for member, data in (("manifest.json", manifest), ("config.json", config_bytes)):
        info = tarfile.TarInfo(member)
        info.size = len(data)
        head.write(info.tobuf(format=tarfile.USTAR_FORMAT) + data + bytes(-len(data) % 512))
    layer_info = tarfile.TarInfo("layer.tar")
    layer_info.size = 512 + (size_mib << 20) + 1024
    head.write(layer_info.tobuf(format=tarfile.USTAR_FORMAT))
    outer: list[Segment] = [head.getvalue() + inner[0], size_mib, bytes(1024) + bytes(1024)]
    path.write_bytes(b"".join(_zero_member("gzip") * s if isinstance(s, int) else _compress(s, "gzip")
                              for s in outer))
    return f"docker-archive:{path}"


# -- the canary ----------------------------------------------------------------------------------------

Snapshot = dict[str, tuple[object, ...]]


def canary(base: Path) -> Path:
    """A tree on the host for attacks to aim at: dirs, files, symlinks, fixed modes and mtimes."""
    root = base / "canary"
    (root / "victimdir").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "victimdir" / "file.txt").write_bytes(b"secret\n")
    (root / "etc" / "passwd").write_bytes(b"root:x:0:0::/root:/bin/sh\n")
    os.symlink("victimdir/file.txt", root / "link")
    os.symlink("/nonexistent/target", root / "abs-link")
    os.chmod(root / "victimdir", 0o700)
    os.chmod(root / "victimdir" / "file.txt", 0o600)
    for p in [*sorted(root.rglob("*"), reverse=True), root]:
        os.utime(p, (1_000_000, 1_000_000), follow_symlinks=False)
    return root


def snapshot(root: Path) -> Snapshot:
    """Everything about ``root`` and below that an attack could change (nothing is followed)."""
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [".", *dirnames, *filenames]:
            p = Path(dirpath) / name if name != "." else Path(dirpath)
            st = os.lstat(p)
            extra: object = None
            if stat.S_ISLNK(st.st_mode):
                extra = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                extra = hashlib.sha256(p.read_bytes()).hexdigest()
            out[str(p)] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_size, extra)
    return out
