"""Apply an image's layers to a directory, the way a runtime would, refusing anything that escapes.

Entries with absolute paths or ``..`` components, symlinks whose target climbs above the
root, hardlinks pointing outside, and writes through a symlinked parent that leaves the
root are all refused with ``UnsafeLayerError``. Whiteouts (``.wh.<name>``) and opaque
whiteouts (``.wh..wh..opq``) hide lower-layer content. The rootfs is built in a temp
directory beside ``dest`` and renamed into place only when every layer applied cleanly.
"""

from __future__ import annotations

import gzip
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import zstandard

from goslim.errors import UserInputError
from goslim.oci.digest import Digest
from goslim.oci.errors import BlobError, UnsafeLayerError
from goslim.oci.image import Image
from goslim.oci.layer import Layer

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_MAX_LINK_HOPS = 40


@dataclass(frozen=True)
class UnpackResult:
    """What ``unpack_rootfs`` wrote: counts, and entries it could not create (devices when unprivileged)."""

    rootfs: Path
    layers: int
    entries: int
    bytes: int
    skipped: tuple[str, ...] = ()


def unpack_rootfs(image: Image, dest: Path, *, limits: object = None, id_shift: int = 0) -> UnpackResult:
    """Unpack ``image`` into ``dest`` (which must not exist or be empty); returns counts.

    ``id_shift`` is added to every owner uid/gid, for a container run in a user namespace whose
    id 0 is that host id. (``limits`` is accepted for the unpack worker's signature; unused here.)
    """
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserInputError(f"{dest} already exists and is not an empty directory",
                             hint="unpack into a new directory; goslim never overwrites an existing rootfs")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".unpack", dir=dest.parent))
    try:
        os.chmod(work, 0o755)
        applier = _Applier(work, id_shift=id_shift)
        for layer in image.layers:
            applier.apply(layer)
        applier.finish()
        if dest.exists():
            dest.rmdir()
        os.replace(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return UnpackResult(dest, len(image.layers), applier.entries, applier.bytes, tuple(applier.skipped))


def unpack_layer(layer: Layer, dest: Path) -> UnpackResult:
    """Apply one layer onto an existing directory (used to stack layers by hand)."""
    applier = _Applier(Path(dest))
    applier.apply(layer)
    applier.finish()
    return UnpackResult(Path(dest), 1, applier.entries, applier.bytes, tuple(applier.skipped))


class _DiffIdReader:
    """Reads the uncompressed tar while hashing it, to check the layer's diff_id at the end."""

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner
        self._hash = Digest("sha256", "0" * 64).hasher()

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n)
        self._hash.update(data)
        return data

    def drain_digest(self) -> Digest:
        while self.read(1 << 20):
            pass
        return Digest("sha256", self._hash.hexdigest())


class _Applier:
    def __init__(self, root: Path, *, id_shift: int = 0) -> None:
        self.root = root
        self._id_shift = id_shift
        self.entries = 0
        self.bytes = 0
        self.skipped: list[str] = []
        self._dir_attrs: dict[str, tuple[int, int, int, int]] = {}
        self._is_root = os.geteuid() == 0

    def apply(self, layer: Layer) -> None:
        created: set[str] = set()
        try:
            with layer.open_uncompressed() as raw:
                reader = _DiffIdReader(raw)
                with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
                    for member in tar:
                        self._apply_member(tar, member, created, layer)
                got = reader.drain_digest()
        except tarfile.TarError as exc:
            raise BlobError(f"layer {layer.digest} is not a valid tar: {exc}") from exc
        except (EOFError, zlib.error, zstandard.ZstdError, gzip.BadGzipFile) as exc:
            raise BlobError(f"layer {layer.digest} cannot be decompressed: {exc}",
                            hint="the blob is truncated or corrupt; rebuild or re-pull the image") from exc
        except OSError as exc:
            raise UserInputError(f"cannot write the rootfs under {self.root.parent}: {exc.strerror or exc}",
                                 hint="check free space and permissions of the destination") from exc
        if got != layer.diff_id:
            raise BlobError(f"layer {layer.digest} unpacks to {got}, but the config says {layer.diff_id}",
                            hint="the layer or config is corrupt")

    def finish(self) -> None:
        # Directory modes last and deepest first, so read-only dirs do not block their own content.
        for rel in sorted(self._dir_attrs, key=lambda p: p.count("/"), reverse=True):
            mode, uid, gid, mtime = self._dir_attrs[rel]
            path = self.root / rel if rel else self.root
            if path.is_dir() and not path.is_symlink():
                self._chown(path, uid, gid)
                os.chmod(path, mode)
                os.utime(path, (mtime, mtime), follow_symlinks=False)

    def _apply_member(
        self, tar: tarfile.TarFile, m: tarfile.TarInfo, created: set[str], layer: Layer
    ) -> None:
        rel = _safe_name(m.name, layer)
        if rel == "":
            if m.isdir():
                self._dir_attrs[""] = (stat.S_IMODE(m.mode), m.uid, m.gid, int(m.mtime))
            return
        parent_rel, base = posixpath.split(rel)
        parent = self._resolve_dir(parent_rel, layer, m.name)
        if base == OPAQUE:
            self._opaque(parent, parent_rel, created)
            return
        if base.startswith(WHITEOUT):
            target = base[len(WHITEOUT):]
            if not target:
                raise UnsafeLayerError(f"layer {layer.digest.short} has a bare whiteout '{m.name}'")
            victim = parent / target
            if victim.is_symlink() or victim.exists():
                _remove(victim)
            return
        path = parent / base
        created.add(rel)
        self.entries += 1
        if m.isdir():
            if not (path.is_dir() and not path.is_symlink()):
                if path.is_symlink() or path.exists():
                    _remove(path)
                path.mkdir(mode=0o700)
            self._dir_attrs[rel] = (stat.S_IMODE(m.mode), m.uid, m.gid, int(m.mtime))
            return
        if path.is_symlink() or path.exists():
            _remove(path)
        if m.issym():
            # Judge the target from where the link really lands (its parent may itself be a symlink).
            _check_symlink(path.relative_to(self.root).as_posix(), m.linkname, layer)
            os.symlink(m.linkname, path)
            self._chown(path, m.uid, m.gid, follow=False)
            return
        if m.islnk():
            target_rel = _safe_name(m.linkname, layer)
            target = self._resolve_dir(posixpath.dirname(target_rel), layer, m.linkname) / \
                posixpath.basename(target_rel)
            if not target.is_file() or target.is_symlink():
                raise UnsafeLayerError(f"layer {layer.digest.short}: hardlink '{m.name}' points to "
                                       f"'{m.linkname}', which is not a regular file in the rootfs")
            os.link(target, path)
            return
        if m.isfile():
            src = tar.extractfile(m)
            assert src is not None
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            self.bytes += m.size
        elif m.isfifo():
            os.mkfifo(path, 0o600)
        elif (m.ischr() or m.isblk()) and self._is_root:
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(m.devmajor, m.devminor))
        else:
            self.skipped.append(rel)
            return
        self._chown(path, m.uid, m.gid)
        os.chmod(path, stat.S_IMODE(m.mode))
        os.utime(path, (int(m.mtime), int(m.mtime)), follow_symlinks=False)

    def _opaque(self, parent: Path, parent_rel: str, created: set[str]) -> None:
        if not parent.is_dir():
            return
        for child in parent.iterdir():
            child_rel = posixpath.join(parent_rel, child.name) if parent_rel else child.name
            if child_rel not in created:
                _remove(child)

    def _resolve_dir(self, rel: str, layer: Layer, name: str) -> Path:
        """The real directory for ``rel``, following symlinks only while they stay inside the root."""
        parts = [p for p in rel.split("/") if p]
        current: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            candidate = self.root.joinpath(*current, part)
            if candidate.is_symlink():
                hops += 1
                if hops > _MAX_LINK_HOPS:
                    raise UnsafeLayerError(f"layer {layer.digest.short}: too many symlinks under '{name}'")
                target = os.readlink(candidate)
                base = [] if target.startswith("/") else list(current)
                for seg in target.split("/"):
                    if seg in ("", "."):
                        continue
                    if seg == "..":
                        if not base:
                            raise UnsafeLayerError(
                                f"layer {layer.digest.short}: '{name}' goes through symlink "
                                f"'{'/'.join([*current, part])}' -> '{target}', which escapes the root")
                        base.pop()
                    else:
                        base.append(seg)
                current = []
                parts = base + parts
                continue
            if not candidate.exists():
                # Tar omitted the parent: create it like runtimes do.
                candidate.mkdir(mode=0o755)
            elif not candidate.is_dir():
                raise UnsafeLayerError(f"layer {layer.digest.short}: '{name}' needs "
                                       f"'{'/'.join([*current, part])}' to be a directory")
            current.append(part)
        return self.root.joinpath(*current)

    def _chown(self, path: Path, uid: int, gid: int, *, follow: bool = True) -> None:
        if self._is_root:
            os.chown(path, uid + self._id_shift, gid + self._id_shift, follow_symlinks=follow)


def check_member(member: tarfile.TarInfo, layer: Layer) -> str:
    """The member's clean relative path; ``UnsafeLayerError`` if its name or link target leaves the root.

    The same rules ``unpack_rootfs`` applies, for readers that list a layer without unpacking it.
    """
    rel = _safe_name(member.name, layer)
    if member.issym():
        _check_symlink(rel, member.linkname, layer)
    elif member.islnk():
        _safe_name(member.linkname, layer)
    return rel


def _safe_name(name: str, layer: Layer) -> str:
    if name.startswith("/"):
        raise UnsafeLayerError(f"layer {layer.digest.short} has an absolute path '{name}'",
                               hint="layer entries must be relative to the image root")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeLayerError(f"layer {layer.digest.short} has a path with '..': '{name}'",
                               hint="the layer tries to write outside the image root; refusing it")
    return "/".join(parts)


def _check_symlink(rel: str, target: str, layer: Layer) -> None:
    """Refuse a relative symlink that climbs above the root (absolute ones resolve inside it)."""
    if not target:
        raise UnsafeLayerError(f"layer {layer.digest.short}: symlink '{rel}' has an empty target")
    if target.startswith("/"):
        return
    depth = len(posixpath.dirname(rel).split("/")) if posixpath.dirname(rel) else 0
    for seg in target.split("/"):
        if seg == "..":
            depth -= 1
            if depth < 0:
                raise UnsafeLayerError(
                    f"layer {layer.digest.short}: symlink '{rel}' -> '{target}' escapes the root",
                    hint="the layer is malformed or malicious; refusing it",
                )
        elif seg not in ("", "."):
            depth += 1


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
