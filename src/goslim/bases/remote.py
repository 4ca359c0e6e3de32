"""Bases that are real images: a registry reference, an OCI layout or a docker-archive.

The image is read through goslim.oci; this module lists the paths its layers leave
behind (whiteouts applied) so the compatibility and collision checks can ask
"is /lib/ld-musl-x86_64.so.1 there?" without unpacking anything to disk.
"""

from __future__ import annotations

import posixpath
import re
import tarfile
import zlib

import zstandard

from goslim.bases.models import Base, LibcInfo
from goslim.oci.errors import BlobError
from goslim.oci.image import Image
from goslim.oci.unpack import OPAQUE, WHITEOUT, check_member, layer_members
from goslim.platform import Platform

_MUSL_LOADER = re.compile(r"^/lib/ld-musl-[a-z0-9_]+\.so\.1$")
_GLIBC_MARKERS = re.compile(r"/(ld-linux[-a-z0-9_.]*\.so\.\d|libc\.so\.6)$")


def remote_base(image: Image, name: str, platform: Platform) -> Base:
    """Describe a pulled base image: its paths, symlinks, C library and Env."""
    paths, symlinks = list_paths(image)
    inner = image.config.get("config") or {}
    return Base(
        name=name,
        kind="remote",
        platform=image.platform if image.platform.architecture else platform,
        digest=str(image.digest),
        image=image,
        paths=frozenset(paths),
        symlinks=symlinks,
        libc=detect_libc(paths, symlinks),
        env=list(inner.get("Env") or []),
    )


def list_paths(image: Image) -> tuple[set[str], dict[str, str]]:
    """Every path in the image's merged filesystem, and the symlinks among them."""
    paths: set[str] = {"/"}
    symlinks: dict[str, str] = {}
    for layer in image.layers:
        this_layer: set[str] = set()  # a whiteout hides lower layers only, whatever the entry order
        try:
            with layer_members(layer) as members:  # bounded like unpack: bombs and huge headers refused
                for member in members:
                    check_member(member, layer)  # a base that would escape the root is refused
                    _apply(member, paths, symlinks, this_layer)
        except (tarfile.TarError, OSError, EOFError, zlib.error, zstandard.ZstdError) as exc:
            raise BlobError(f"base layer {layer.digest} is not a readable tar: {exc}",
                            hint="the base image is corrupt; pull it again") from exc
    return paths, symlinks


def _apply(member: tarfile.TarInfo, paths: set[str], symlinks: dict[str, str], this_layer: set[str]) -> None:
    path = clean_path(member.name)
    parent, base = posixpath.split(path)
    if base == OPAQUE:
        _remove_under(parent, paths, symlinks, keep_dir=True, keep=this_layer)
        return
    if base.startswith(WHITEOUT):
        _remove_under(posixpath.join(parent, base[len(WHITEOUT):]), paths, symlinks, keep_dir=False,
                      keep=this_layer)
        return
    this_layer.add(path)
    paths.add(path)
    if member.issym():
        symlinks[path] = member.linkname
    else:
        symlinks.pop(path, None)


def clean_path(name: str) -> str:
    """A tar member name (``./usr/bin``, ``usr/bin/``) as an absolute normalised path."""
    while name.startswith("./"):
        name = name[2:]
    name = name.strip("/")
    return "/" if name in ("", ".") else posixpath.normpath("/" + name)


def _remove_under(
    root: str, paths: set[str], symlinks: dict[str, str], keep_dir: bool, keep: set[str]
) -> None:
    prefix = root.rstrip("/") + "/"
    doomed = {p for p in paths if p.startswith(prefix)}
    if not keep_dir:
        doomed.add(root)
    doomed -= keep
    paths.difference_update(doomed)
    for p in doomed:
        symlinks.pop(p, None)


def detect_libc(paths: set[str], symlinks: dict[str, str]) -> LibcInfo:
    """musl when its loader is present, glibc when ld-linux or libc.so.6 is, else none."""
    musl = sorted(p for p in paths if _MUSL_LOADER.match(p))
    if musl:
        return LibcInfo(kind="musl", loaders=musl)
    glibc = sorted(p for p in paths if _GLIBC_MARKERS.search(p))
    if glibc:
        return LibcInfo(kind="glibc", loaders=[p for p in glibc if "/ld-linux" in p])
    return LibcInfo(kind="none")
