"""Pull the few files the scanner needs out of an image's layers, honouring whiteouts and symlinks.

Only the entrypoint binary and package-manager records are kept in memory; nothing is
unpacked to disk except the binary, which the Go readers need as a file.
"""

from __future__ import annotations

import posixpath
import tarfile
from dataclasses import dataclass, field

from goslim.errors import UserInputError
from goslim.oci import Image
from goslim.scan.ospkgs import APK_INSTALLED, DPKG_STATUS, DPKG_STATUS_D, OS_RELEASE

MAX_RECORD_BYTES = 64 << 20
_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"


@dataclass
class ImageFiles:
    """Selected files of the flattened root filesystem."""

    entrypoint: str | None
    binary: bytes | None = None
    records: dict[str, bytes] = field(default_factory=dict)  # path -> bytes for dpkg/apk/os-release


def entrypoint_path(image: Image) -> str | None:
    """The program the image runs: Entrypoint[0], else Cmd[0] (absolute paths only)."""
    cfg = image.config.get("config") or {}
    argv = (cfg.get("Entrypoint") or []) or (cfg.get("Cmd") or [])
    if not argv or not isinstance(argv[0], str):
        return None
    return posixpath.normpath(argv[0]).lstrip("/") if argv[0].startswith("/") else None


def read_image_files(image: Image) -> ImageFiles:
    """Flatten the layers for the entrypoint and the package records (later layers win)."""
    entry = entrypoint_path(image)
    files: dict[str, bytes] = {}
    links: dict[str, str] = {}
    for layer in image.layers:
        with layer.open_uncompressed() as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                name = posixpath.normpath("/" + member.name).lstrip("/")
                base = posixpath.basename(name)
                parent = posixpath.dirname(name)
                if base == _OPAQUE:
                    _drop_under(files, links, parent)
                    continue
                if base.startswith(_WHITEOUT):
                    _drop_under(files, links, posixpath.join(parent, base[len(_WHITEOUT) :]), exact=True)
                    continue
                if member.issym():
                    links[name] = member.linkname
                    files.pop(name, None)
                elif member.isfile() and _wanted(name, entry, links):
                    data = tar.extractfile(member)
                    is_record = name != entry and name != _follow(entry or "", links)
                    if data is not None and not (is_record and member.size > MAX_RECORD_BYTES):
                        files[name] = data.read()
                        links.pop(name, None)
    binary_path = _follow(entry, links) if entry else None
    out = ImageFiles(entrypoint=entry, binary=files.get(binary_path) if binary_path else None)
    for path, data in files.items():
        if path != binary_path:
            out.records[path] = data
    for name in OS_RELEASE:
        target = _follow(name, links)
        if target in files:
            out.records[name] = files[target]
    if entry and out.binary is None:
        raise UserInputError(
            f"the image's entrypoint /{entry} is not a file in its layers",
            hint="scan the binary directly instead",
        )
    return out


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


def _drop_under(files: dict[str, bytes], links: dict[str, str], prefix: str, exact: bool = False) -> None:
    for table in (files, links):
        for key in [k for k in table if (k == prefix if exact else False) or k.startswith(prefix + "/")]:
            del table[key]
