"""Pull the few files the scanner needs out of an image's layers, honouring whiteouts and symlinks.

Only package-manager records are kept in memory; the entrypoint binary is streamed to a file
(with a size cap), never read whole into memory, and goslim.binary maps it from there.
"""

from __future__ import annotations

import posixpath
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from goslim.errors import UserInputError
from goslim.oci import Image
from goslim.oci.unpack import OPAQUE, WHITEOUT, layer_tar
from goslim.scan.ospkgs import APK_INSTALLED, DPKG_STATUS, DPKG_STATUS_D, OS_RELEASE

MAX_RECORD_BYTES = 64 << 20
MAX_BINARY_BYTES = 4 << 30  # an entrypoint larger than this is refused, not written out
COPY_CHUNK = 1 << 20


@dataclass
class ImageFiles:
    """Selected files of the flattened root filesystem."""

    entrypoint: str | None
    binary: Path | None = None  # the entrypoint's bytes, streamed to a file in the work directory
    records: dict[str, bytes] = field(default_factory=dict)  # path -> bytes for dpkg/apk/os-release


def entrypoint_path(image: Image) -> str | None:
    """The program the image runs: Entrypoint[0], else Cmd[0] (absolute paths only)."""
    cfg = image.config.get("config") or {}
    argv = (cfg.get("Entrypoint") or []) or (cfg.get("Cmd") or [])
    if not argv or not isinstance(argv[0], str):
        return None
    return posixpath.normpath(argv[0]).lstrip("/") if argv[0].startswith("/") else None


def read_image_files(image: Image, workdir: Path, *, max_binary: int = MAX_BINARY_BYTES) -> ImageFiles:
    """Flatten the layers for the entrypoint and the package records (later layers win).

    Each copy of the entrypoint a layer holds is streamed into ``workdir``; the one that wins is kept.
    """
    entry = entrypoint_path(image)
    files: dict[str, bytes | Path] = {}
    written: list[Path] = []
    links: dict[str, str] = {}
    for layer in image.layers:
        # The same bounds as unpacking (bytes per compressed byte, entries, header sizes): a bomb
        # stops at its budget instead of filling the disk with a 1 GiB "entrypoint".
        this_layer: set[str] = set()  # a whiteout hides lower layers only, whatever the entry order
        with layer_tar(layer) as (tar, members):
            for member in members:
                name = posixpath.normpath("/" + member.name).lstrip("/")
                base = posixpath.basename(name)
                parent = posixpath.dirname(name)
                if base == OPAQUE:
                    _drop_under(files, links, parent, keep=this_layer)
                    continue
                if base.startswith(WHITEOUT):
                    _drop_under(files, links, posixpath.join(parent, base[len(WHITEOUT) :]), exact=True,
                                keep=this_layer)
                    continue
                this_layer.add(name)
                if member.issym():
                    links[name] = member.linkname
                    files.pop(name, None)
                elif member.isfile() and _wanted(name, entry, links):
                    data = tar.extractfile(member)
                    is_record = name != entry and name != _follow(entry or "", links)
                    if data is None or (is_record and member.size > MAX_RECORD_BYTES):
                        continue
                    if is_record:
                        files[name] = data.read()
                    else:
                        dest = workdir / f"entrypoint-{len(written)}"
                        written.append(dest)
                        _stream(data, dest, member.size, max_binary, name)
                        files[name] = dest
                    links.pop(name, None)
    binary_path = _follow(entry, links) if entry else None
    chosen = files.get(binary_path) if binary_path else None
    out = ImageFiles(entrypoint=entry, binary=chosen if isinstance(chosen, Path) else None)
    for dest in written:
        if dest != out.binary:
            dest.unlink(missing_ok=True)
    for path, data in files.items():
        if path != binary_path and isinstance(data, bytes):
            out.records[path] = data
    for name in OS_RELEASE:
        target = _follow(name, links)
        record = files.get(target)
        if isinstance(record, bytes):
            out.records[name] = record
    if entry and out.binary is None:
        raise UserInputError(
            f"the image's entrypoint /{entry} is not a file in its layers",
            hint="scan the binary directly instead",
        )
    return out


def _stream(src: IO[bytes], dest: Path, size: int, cap: int, name: str) -> None:
    """Copy one tar member to ``dest`` chunk by chunk, refusing one larger than ``cap``."""
    if size > cap:
        raise UserInputError(
            f"the image's entrypoint /{name} is {size} bytes, over the {cap >> 20} MiB scan limit",
            hint="scan the binary directly instead",
        )
    with open(dest, "wb") as out:
        shutil.copyfileobj(src, out, COPY_CHUNK)
    dest.chmod(0o755)


def _wanted(name: str, entry: str | None, links: dict[str, str]) -> bool:
    return (
        name in (DPKG_STATUS, APK_INSTALLED, *OS_RELEASE)
        or name.startswith(DPKG_STATUS_D)
        or (entry is not None and name in (entry, _follow(entry, links)))
    )


def _follow(path: str, links: dict[str, str], depth: int = 0) -> str:
    if path not in links or depth > 8:
        return path
    target = links[path]
    resolved = posixpath.normpath(
        target.lstrip("/") if target.startswith("/") else posixpath.join(posixpath.dirname(path), target)
    )
    return _follow(resolved, links, depth + 1)


def _drop_under(
    files: dict[str, bytes | Path], links: dict[str, str], prefix: str, exact: bool = False,
    keep: set[str] | frozenset[str] = frozenset(),
) -> None:
    for table in (files, links):
        doomed = [k for k in table if (exact and k == prefix) or k.startswith(prefix + "/")]
        for key in doomed:
            if key not in keep:
                del table[key]
