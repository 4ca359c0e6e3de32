"""Apply an image's layers to a directory, the way a runtime would, never touching anything outside it.

Every file-system operation goes through file descriptors: the rootfs is opened once, each
entry's parent directory is reached component by component with ``O_NOFOLLOW|O_DIRECTORY``
opens (symlinks met on the way are read and resolved *inside* the rootfs, as ``openat2``'s
``RESOLVE_IN_ROOT`` would), and the entry is created, chowned, chmodded and timestamped with
the ``dir_fd=`` / ``fd`` forms. No path string is ever handed to the kernel to resolve.

Refused with ``UnsafeLayerError`` (one line, exit 2): absolute names and ``..`` components,
relative symlinks that climb above the root, walks that do, hardlinks to anything but a regular
file inside the root, the whiteouts ``.wh.``, ``.wh..``, ``.wh...`` and an opaque whiteout at the
root, sparse and oversized tar headers, and layers past the byte or entry budget of
``UnpackLimits``. Directory metadata is applied last (so read-only directories do not block their
own content) by re-opening each directory along its recorded path without following anything and
checking it is still the same inode; a directory that was since replaced is left alone.

The rootfs is built in a temp directory beside ``dest`` and renamed into place only when every
layer applied cleanly.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import zstandard

from goslim.errors import UserInputError
from goslim.oci.digest import Digest
from goslim.oci.errors import BlobError, UnsafeLayerError
from goslim.oci.image import Image
from goslim.oci.layer import Layer, LimitedReader, LimitExceeded

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_MAX_LINK_HOPS = 40
_MAX_NAME = 4096  # PATH_MAX: longer names or link targets are not something a real layer holds
_MAX_HEADER = 1 << 20  # pax / GNU long-name headers are read into memory; real ones are tiny
_MAX_ID = (1 << 32) - 2  # (uid_t)-1 means "unchanged" to chown
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MIB = 1 << 20


@dataclass(frozen=True)
class UnpackLimits:
    """How much an image may unpack to: a multiple of its compressed size (plus slack), a hard cap, entries.

    The byte budget is ``min(max_bytes, ratio * compressed + slack_bytes)`` over the whole image,
    counted on the uncompressed tar streams and on the file content written.
    """

    ratio: float = 20.0
    slack_bytes: int = 64 * _MIB  # small layers compress tar padding far better than 20x
    max_bytes: int = 8 << 30
    max_entries: int = 200_000

    def byte_budget(self, compressed: int) -> int:
        """The most uncompressed bytes an image whose layers total ``compressed`` bytes may unpack to."""
        return int(min(self.max_bytes, self.ratio * compressed + self.slack_bytes))


@dataclass(frozen=True)
class UnpackResult:
    """What ``unpack_rootfs`` wrote.

    ``bytes``: regular-file content written (what the rootfs holds; hardlinks counted once);
    ``uncompressed_bytes``: the layer tars read, headers and padding included; ``skipped``: entries
    not created (device nodes: runc provides /dev); ``notes``: metadata not applied and why.
    """

    rootfs: Path
    layers: int
    entries: int
    bytes: int
    uncompressed_bytes: int = 0
    skipped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def unpack_rootfs(
    image: Image,
    dest: Path,
    *,
    limits: UnpackLimits | None = None,
    id_shift: int = 0,
    stored_bytes: int | None = None,
) -> UnpackResult:
    """Unpack ``image`` into ``dest`` (which must not exist or be empty); returns counts.

    ``limits`` bounds bytes and entries (default ``UnpackLimits()``); every uid/gid written is
    ``id_shift`` higher than in the layer (for a rootfs mapped into a user namespace range).
    ``stored_bytes``: what the image takes where it is kept, when less than its layers' sizes
    (a docker-archive gzipped whole stores 1 GiB layers in a few MB); the budget counts from it.
    """
    dest = Path(dest)
    limits = limits or UnpackLimits()
    if id_shift < 0 or id_shift > _MAX_ID:
        raise UserInputError(f"id shift {id_shift} is out of range")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserInputError(f"{dest} already exists and is not an empty directory",
                             hint="unpack into a new directory; goslim never overwrites an existing rootfs")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".unpack", dir=dest.parent))
    declared = sum(layer.size for layer in image.layers)
    budget = limits.byte_budget(min(declared, stored_bytes) if stored_bytes is not None else declared)
    try:
        root_fd = os.open(work, _DIR_FLAGS)
        applier: _Applier | None = None
        try:
            applier = _Applier(root_fd, work, budget, limits.max_entries, id_shift)
            total = len(image.layers)
            for number, layer in enumerate(image.layers, 1):
                applier.apply(layer, f"({number} of {total})")
            applier.close()
            applier.finish()
        finally:
            if applier is not None:
                applier.close()
            os.close(root_fd)
        if dest.exists():
            dest.rmdir()
        os.replace(work, dest)
    except BaseException:
        _force_rmtree(work)
        raise
    assert applier is not None
    return UnpackResult(dest, len(image.layers), applier.entries, applier.bytes, applier.tar_bytes,
                        tuple(applier.skipped), tuple(applier.notes))


@contextlib.contextmanager
def layer_members(layer: Layer, limits: UnpackLimits | None = None) -> Iterator[Iterator[tarfile.TarInfo]]:
    """The layer's tar members, streamed under the same bounds as ``unpack_rootfs`` (for listing readers).

    Past the byte budget (of this layer alone) or the entry count, on a sparse member or an oversized
    header, iterating raises ``UnsafeLayerError``; tarfile and decompression errors pass through.
    """
    with layer_tar(layer, limits) as (_tar, members):
        yield members


@contextlib.contextmanager
def layer_tar(
    layer: Layer, limits: UnpackLimits | None = None
) -> Iterator[tuple[tarfile.TarFile, Iterator[tarfile.TarInfo]]]:
    """Like ``layer_members``, with the stream's TarFile too, for readers that extract a member's data
    (``tar.extractfile``); the data read counts against the same byte budget."""
    limits = limits or UnpackLimits()
    what = f"layer {layer.digest.short}"

    def members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
        for count, member in enumerate(_members(tar), 1):
            if count > limits.max_entries:
                raise UnsafeLayerError(f"{what} has more than {limits.max_entries} tar entries")
            yield member

    with layer.open_uncompressed() as raw:
        limited = LimitedReader(raw, limits.byte_budget(layer.size))
        try:
            with tarfile.open(fileobj=limited, mode="r|", tarinfo=_BoundedTarInfo) as tar:  # type: ignore[call-overload]
                yield tar, members(tar)
        except LimitExceeded:
            raise UnsafeLayerError(f"{what} unpacks past its budget of "
                                   f"{limits.byte_budget(layer.size) / _MIB:.1f} MiB uncompressed") from None
        except _SparseMember:
            raise UnsafeLayerError(f"{what} holds a sparse file, which goslim does not read") from None
        except _OversizeHeader as exc:
            raise UnsafeLayerError(f"{what} has a tar header of {exc.size} bytes (limit {_MAX_HEADER})"
                                   ) from None


def check_member(member: tarfile.TarInfo, layer: Layer) -> str:
    """The member's clean relative path; ``UnsafeLayerError`` if it would be refused by ``unpack_rootfs``.

    The same name rules ``unpack_rootfs`` applies, for readers that list a layer without unpacking
    it (a symlink is judged from its name's directory; unpacking also judges where it really lands).
    """
    what = f"layer {layer.digest.short}"
    rel = _safe_name(member.name, what)
    if member.issym():
        _check_symlink(_split(rel)[:-1], member.linkname, rel, what)
    elif member.islnk():
        _safe_name(member.linkname, what)
    elif member.ischr() or member.isblk() or member.isfifo():
        pass
    elif not (member.isfile() or member.isdir()):
        raise UnsafeLayerError(f"{what}: '{member.name}' has an unsupported tar type {member.type!r}")
    parts = _split(rel)
    if parts:
        _whiteout_kind(parts, what, member.name)
    return rel


# -- names and links ---------------------------------------------------------------------------------

def _split(rel: str) -> list[str]:
    return [p for p in rel.split("/") if p]


def _safe_name(name: str, what: str) -> str:
    if len(name) > _MAX_NAME or "\0" in name:
        raise UnsafeLayerError(f"{what} has an entry name longer than {_MAX_NAME} bytes or holding NUL",
                               hint="the layer is malformed or malicious; refusing it")
    if name.startswith("/"):
        raise UnsafeLayerError(f"{what} has an absolute path '{name}'",
                               hint="layer entries must be relative to the image root")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeLayerError(f"{what} has a path with '..': '{name}'",
                               hint="the layer tries to write outside the image root; refusing it")
    return "/".join(parts)


def _check_symlink(where: list[str], target: str, rel: str, what: str) -> None:
    """Refuse a relative target climbing above the root from directory ``where`` (absolute ones stay in)."""
    if not target:
        raise UnsafeLayerError(f"{what}: symlink '{rel}' has an empty target")
    if len(target) > _MAX_NAME or "\0" in target:
        raise UnsafeLayerError(f"{what}: symlink '{rel}' has a target longer than {_MAX_NAME} bytes")
    if target.startswith("/"):
        return
    depth = len(where)
    for seg in target.split("/"):
        if seg == "..":
            depth -= 1
            if depth < 0:
                raise UnsafeLayerError(f"{what}: symlink '{rel}' -> '{target}' escapes the root",
                                       hint="the layer is malformed or malicious; refusing it")
        elif seg not in ("", "."):
            depth += 1


def _whiteout_kind(parts: list[str], what: str, name: str) -> str | None:
    """'opaque', 'whiteout' or None for a plain entry; refuses whiteouts that name nothing or the root."""
    base = parts[-1]
    if base == OPAQUE:
        if len(parts) == 1:
            raise UnsafeLayerError(f"{what} has an opaque whiteout at the image root ('{name}')",
                                   hint="a layer cannot hide the whole root; refusing it")
        return "opaque"
    if base.startswith(WHITEOUT):
        if base[len(WHITEOUT):] in ("", ".", ".."):
            raise UnsafeLayerError(f"{what} has a whiteout '{name}' that names no entry",
                                   hint="the layer is malformed or malicious; refusing it")
        return "whiteout"
    return None


# -- tar reading -----------------------------------------------------------------------------------------

class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses the header kinds that make tarfile buffer unbounded data: huge pax/long names, sparse."""

    def _proc_pax(self, tarfile):  # type: ignore[no-untyped-def]
        self._check_header_size()
        return super()._proc_pax(tarfile)

    def _proc_gnulong(self, tarfile):  # type: ignore[no-untyped-def]
        self._check_header_size()
        return super()._proc_gnulong(tarfile)

    def _proc_sparse(self, tarfile):  # type: ignore[no-untyped-def]
        raise _SparseMember()

    def _proc_gnusparse_00(self, next, pax_headers, buf):  # type: ignore[no-untyped-def]
        raise _SparseMember()

    def _proc_gnusparse_01(self, next, pax_headers):  # type: ignore[no-untyped-def]
        raise _SparseMember()

    def _proc_gnusparse_10(self, next, pax_headers, tarfile):  # type: ignore[no-untyped-def]
        raise _SparseMember()

    def _check_header_size(self) -> None:
        if self.size > _MAX_HEADER:
            raise _OversizeHeader(self.size)


class _SparseMember(Exception):
    pass


class _OversizeHeader(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class _DiffIdReader:
    """Reads the uncompressed tar while hashing it, to check the layer's diff_id at the end."""

    def __init__(self, inner: LimitedReader) -> None:
        self._inner = inner
        self._hash = Digest("sha256", "0" * 64).hasher()

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n)
        self._hash.update(data)
        return data

    def drain_digest(self) -> Digest:
        while self.read(_MIB):
            pass
        return Digest("sha256", self._hash.hexdigest())


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The members one by one; tarfile's list of seen members is dropped so memory stays flat."""
    while (member := tar.next()) is not None:
        yield member
        tar.members.clear()


# -- the applier -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _DirMeta:
    path: tuple[str, ...]  # the physical path from the root (no symlinks in it) where it was made
    mode: int
    uid: int
    gid: int
    mtime: int


class _Applier:
    """Applies layers below ``root_fd``; all state about places in the rootfs is fds or (dev, ino)."""

    def __init__(self, root_fd: int, root: Path, budget: int, max_entries: int, id_shift: int) -> None:
        self.root_fd = root_fd
        self.root = root
        self.budget = budget
        self.max_entries = max_entries
        self.id_shift = id_shift
        self.entries = 0
        self.members = 0
        self.bytes = 0
        self.tar_bytes = 0
        self.skipped: list[str] = []
        self.notes: list[str] = []
        self._is_root = os.geteuid() == 0
        self._dirs: dict[tuple[int, int], _DirMeta] = {}
        self._parent: tuple[tuple[str, ...], int, list[str]] | None = None  # last parent: parts, fd, path
        self._reshaped = False
        root_st = os.fstat(root_fd)
        self._root_id = (root_st.st_dev, root_st.st_ino)
        self._chown_fd(root_fd, id_shift, id_shift)
        # mkdtemp made it 0700; an image root is 0755 unless a layer's "./" entry says otherwise,
        # else a non-root image user cannot reach its own entrypoint.
        os.fchmod(root_fd, 0o755)

    # Layers --------------------------------------------------------------------------------------

    def apply(self, layer: Layer, position: str) -> None:
        """Apply one layer; ``position`` ('(2 of 3)') goes into every message about it."""
        what = f"layer {layer.digest.short} {position}"
        self.close()
        created: set[tuple[int, int, str]] = set()  # (parent dev, parent ino, name) made by this layer
        limited: LimitedReader | None = None
        try:
            with layer.open_uncompressed() as raw:
                limited = LimitedReader(raw, self.budget - self.tar_bytes)
                reader = _DiffIdReader(limited)
                with tarfile.open(fileobj=reader, mode="r|", tarinfo=_BoundedTarInfo) as tar:  # type: ignore[call-overload]
                    for member in _members(tar):
                        self._count_member(what)
                        self._apply_member(tar, member, created, what)
                got = reader.drain_digest()
        except LimitExceeded:
            raise self._over_budget(what) from None
        except _SparseMember:
            raise UnsafeLayerError(f"{what} holds a sparse file, which goslim does not unpack",
                                   hint="rebuild the layer without sparse files (tar --sparse off)") from None
        except _OversizeHeader as exc:
            raise UnsafeLayerError(f"{what} has a tar header of {exc.size} bytes (limit {_MAX_HEADER})",
                                   hint="the layer is malformed or malicious; refusing it") from None
        except tarfile.TarError as exc:
            raise BlobError(f"layer {layer.digest} {position} is not a valid tar: {exc}") from exc
        except (EOFError, zlib.error, zstandard.ZstdError, gzip.BadGzipFile) as exc:
            raise BlobError(f"layer {layer.digest} {position} cannot be decompressed: {exc}",
                            hint="the blob is truncated or corrupt; rebuild or re-pull the image") from exc
        except OSError as exc:
            raise UserInputError(f"cannot write the rootfs under {self.root.parent}: {exc.strerror or exc}",
                                 hint="check free space and permissions of the destination") from exc
        finally:
            if limited is not None:
                self.tar_bytes += limited.count
        if got != layer.diff_id:
            raise BlobError(f"layer {layer.digest} {position} unpacks to {got}, but the config says "
                            f"{layer.diff_id}",
                            hint="the layer or config is corrupt")

    def _count_member(self, what: str) -> None:
        self.members += 1
        if self.members > self.max_entries:
            raise UnsafeLayerError(f"{what} takes the image past {self.max_entries} tar entries",
                                   hint="malformed or malicious; raise UnpackLimits.max_entries if genuine")

    def _over_budget(self, what: str) -> UnsafeLayerError:
        return UnsafeLayerError(
            f"{what} unpacks past the image's budget of {self.budget / _MIB:.1f} MiB uncompressed",
            hint="a decompression bomb, or an image far larger than its compressed size; "
                 "raise UnpackLimits if it is genuine",
        )

    def finish(self) -> None:
        """Directory metadata, deepest first, on directories re-opened without following anything."""
        for key, meta in sorted(self._dirs.items(), key=lambda kv: len(kv[1].path), reverse=True):
            fd = self._reopen_dir(meta.path)
            if fd is None:
                self.notes.append(f"/{'/'.join(meta.path)}: directory metadata not applied: "
                                  "the directory was replaced by a later entry")
                continue
            try:
                st = os.fstat(fd)
                if (st.st_dev, st.st_ino) != key:
                    self.notes.append(f"/{'/'.join(meta.path)}: directory metadata not applied: "
                                      "another directory is there now")
                    continue
                self._chown_fd(fd, meta.uid, meta.gid)
                os.fchmod(fd, meta.mode)
                os.utime(fd, (meta.mtime, meta.mtime))
            finally:
                if fd != self.root_fd:
                    os.close(fd)

    def _reopen_dir(self, path: tuple[str, ...]) -> int | None:
        """The directory at ``path`` opened with no symlink followed at any step; None if it is not there."""
        fd = self.root_fd
        try:
            for part in path:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                if fd != self.root_fd:
                    os.close(fd)
                fd = nxt
        except OSError as exc:
            if fd != self.root_fd:
                os.close(fd)
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                return None
            raise
        return fd

    # Members -------------------------------------------------------------------------------------

    def _apply_member(
        self, tar: tarfile.TarFile, m: tarfile.TarInfo, created: set[tuple[int, int, str]], what: str
    ) -> None:
        rel = _safe_name(m.name, what)
        parts = _split(rel)
        if not parts:
            if m.isdir():
                self._dirs[self._root_id] = _DirMeta((), stat.S_IMODE(m.mode), *self._ids(m, what),
                                                     _mtime(m))
            return
        kind = _whiteout_kind(parts, what, m.name)
        if kind is not None:
            self._whiteout(parts, kind, created, what, m.name)
            return
        key = tuple(parts[:-1])
        if self._parent is None or self._parent[0] != key:
            self.close()
            with self._walk(parts[:-1], what, m.name, create=True) as (pfd, where):
                self._parent = (key, os.dup(pfd), where)
        _key, pfd, where = self._parent
        self._reshaped = False
        self._create(tar, m, pfd, where, parts[-1], created, what)
        if self._reshaped:
            self.close()  # something was removed or a symlink made: resolve the next parent afresh

    def close(self) -> None:
        """Forget the cached parent directory (tar entries come sorted, so most share the previous one)."""
        if self._parent is not None:
            os.close(self._parent[1])
            self._parent = None

    def _whiteout(
        self, parts: list[str], kind: str, created: set[tuple[int, int, str]], what: str, name: str
    ) -> None:
        self.close()
        with self._walk(parts[:-1], what, name, create=False) as (pfd, _where):
            if pfd is None:
                return  # nothing below to hide
            if kind == "whiteout":
                _remove(pfd, parts[-1][len(WHITEOUT):])
                return
            st = os.fstat(pfd)
            for child in os.listdir(pfd):
                if (st.st_dev, st.st_ino, child) not in created:
                    _remove(pfd, child)

    def _create(
        self, tar: tarfile.TarFile, m: tarfile.TarInfo, pfd: int, where: list[str], name: str,
        created: set[tuple[int, int, str]], what: str,
    ) -> None:
        rel = "/".join([*where, name])
        pst = os.fstat(pfd)
        created.add((pst.st_dev, pst.st_ino, name))
        self.entries += 1
        uid, gid = self._ids(m, what)
        existing = _lstat(pfd, name)
        merge = existing is not None and m.isdir() and stat.S_ISDIR(existing.st_mode)
        self._reshaped = (existing is not None and not merge) or m.issym()
        if m.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                if existing is not None:
                    _remove(pfd, name)
                os.mkdir(name, 0o700, dir_fd=pfd)
            fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
            try:
                st = os.fstat(fd)
            finally:
                os.close(fd)
            self._dirs[(st.st_dev, st.st_ino)] = _DirMeta((*where, name), stat.S_IMODE(m.mode), uid, gid,
                                                          _mtime(m))
            return
        if m.islnk():
            self._hardlink(m, pfd, name, existing, what)
            return
        if existing is not None:
            _remove(pfd, name)
        if m.issym():
            # Judged from where the link really lands (its parent may have been reached through a symlink).
            _check_symlink(where, m.linkname, rel, what)
            os.symlink(m.linkname, name, dir_fd=pfd)
            if self._is_root:
                os.chown(name, uid, gid, dir_fd=pfd, follow_symlinks=False)
            os.utime(name, (_mtime(m), _mtime(m)), dir_fd=pfd, follow_symlinks=False)
            return
        if m.isfile():
            self._write_file(tar, m, pfd, name, uid, gid, what)
        elif m.isfifo():
            os.mkfifo(name, 0o600, dir_fd=pfd)
            # Just made by us in a directory only we write to; a fifo cannot be opened to fchmod it.
            if self._is_root:
                os.chown(name, uid, gid, dir_fd=pfd, follow_symlinks=False)
            os.chmod(name, stat.S_IMODE(m.mode) & 0o777, dir_fd=pfd)
            os.utime(name, (_mtime(m), _mtime(m)), dir_fd=pfd, follow_symlinks=False)
        elif m.ischr() or m.isblk():
            self.skipped.append(rel)  # the runtime populates /dev; a node from an image is never needed
        else:
            raise UnsafeLayerError(f"{what}: '{m.name}' has an unsupported tar type {m.type!r}")

    def _hardlink(
        self, m: tarfile.TarInfo, pfd: int, name: str, existing: os.stat_result | None, what: str
    ) -> None:
        """Link to a regular file found by the same walk; judged before anything is removed."""
        target = _split(_safe_name(m.linkname, what))
        if not target:
            raise UnsafeLayerError(f"{what}: hardlink '{m.name}' has no target")
        with self._walk(target[:-1], what, m.linkname, create=False) as (tfd, _where):
            tst = _lstat(tfd, target[-1]) if tfd is not None else None
            if tst is None or not stat.S_ISREG(tst.st_mode):
                raise UnsafeLayerError(f"{what}: hardlink '{m.name}' points to '{m.linkname}', "
                                       "which is not a regular file in the rootfs")
            if existing is not None:
                if (existing.st_dev, existing.st_ino) == (tst.st_dev, tst.st_ino):
                    return  # already that very file
                _remove(pfd, name)
            os.link(target[-1], name, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)

    def _write_file(
        self, tar: tarfile.TarFile, m: tarfile.TarInfo, pfd: int, name: str, uid: int, gid: int, what: str
    ) -> None:
        if self.bytes + m.size > self.budget:
            raise self._over_budget(what)
        src = tar.extractfile(m)
        assert src is not None
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=pfd)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(src, out, _MIB)
            self.bytes += m.size
            self._chown_fd(out.fileno(), uid, gid)
            os.fchmod(out.fileno(), stat.S_IMODE(m.mode))
            os.utime(out.fileno(), (_mtime(m), _mtime(m)))

    # Resolution ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _walk(
        self, parts: list[str], what: str, name: str, *, create: bool
    ) -> Iterator[tuple[int, list[str]]]:
        """Open the directory ``parts`` inside the root: yields (fd, its physical path), or (None, []).

        Each step is an ``O_NOFOLLOW|O_DIRECTORY`` open relative to the previous fd. A symlink met on
        the way is read and its target resolved inside the root (absolute targets from the root);
        ``..`` above the root is refused. Missing directories are made (0755) when ``create``.
        """
        stack: list[tuple[str, int]] = []  # physical path and the fd of each level below the root
        todo = list(parts)
        hops = 0
        try:
            while todo:
                part = todo.pop(0)
                if part in ("", "."):
                    continue
                cur = stack[-1][1] if stack else self.root_fd
                if part == "..":
                    if not stack:
                        raise UnsafeLayerError(f"{what}: '{name}' resolves above the image root",
                                               hint="the layer is malformed or malicious; refusing it")
                    os.close(stack.pop()[1])
                    continue
                st = _lstat(cur, part)
                if st is not None and stat.S_ISLNK(st.st_mode):
                    hops += 1
                    if hops > _MAX_LINK_HOPS:
                        raise UnsafeLayerError(f"{what}: too many symlinks under '{name}'")
                    target = os.readlink(part, dir_fd=cur)
                    if target.startswith("/"):
                        while stack:
                            os.close(stack.pop()[1])
                    todo = [p for p in target.split("/") if p] + todo
                    continue
                if st is None:
                    if not create:
                        yield None, []  # type: ignore[misc]
                        return
                    os.mkdir(part, 0o755, dir_fd=cur)
                elif not stat.S_ISDIR(st.st_mode):
                    where = "/".join([*(p for p, _ in stack), part])
                    raise UnsafeLayerError(f"{what}: '{name}' needs '{where}' to be a directory")
                fd = os.open(part, _DIR_FLAGS, dir_fd=cur)
                stack.append((part, fd))
                if st is None:
                    self._chown_fd(fd, self.id_shift, self.id_shift)
            yield (stack[-1][1] if stack else self.root_fd), [p for p, _ in stack]
        finally:
            for _p, fd in stack:
                os.close(fd)

    # Ownership -------------------------------------------------------------------------------------

    def _ids(self, m: tarfile.TarInfo, what: str) -> tuple[int, int]:
        uid, gid = m.uid + self.id_shift, m.gid + self.id_shift
        if not (0 <= uid <= _MAX_ID and 0 <= gid <= _MAX_ID):
            raise UnsafeLayerError(f"{what}: '{m.name}' has uid/gid {m.uid}/{m.gid}, out of range"
                                   + (f" with the id shift {self.id_shift}" if self.id_shift else ""))
        return uid, gid

    def _chown_fd(self, fd: int, uid: int, gid: int) -> None:
        """chown an fd we hold (ids already shifted); only root can give files away."""
        if self._is_root:
            os.fchown(fd, uid, gid)


def _mtime(m: tarfile.TarInfo) -> int:
    # Bounded to what a timespec holds; huge or negative pax mtimes from hostile layers are clamped.
    return max(0, min(int(m.mtime), (1 << 63) // 10**9 - 1))


def _lstat(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _remove(dir_fd: int, name: str) -> None:
    """Remove ``name`` in ``dir_fd`` without following it (a directory's whole tree, fd by fd)."""
    st = _lstat(dir_fd, name)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


def _force_rmtree(path: Path) -> None:
    """Remove a half-built rootfs (fd-based, never following a symlink out of it)."""
    shutil.rmtree(path, ignore_errors=True)
