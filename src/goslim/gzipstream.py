"""The one gzip encoder goslim writes layers with and prices pull sizes with.

libdeflate (the ``deflate`` binding) at level 12 makes streams every runtime reads that are a few
percent smaller than zlib -9 at about the same speed. Its API takes whole buffers, so a stream is
written as consecutive gzip members of ``MEMBER_BYTES`` each (RFC 1952 allows several members;
Go's compress/gzip, Python's gzip, pigz and containerd read them as one stream), compressed on
several threads (the binding releases the GIL). Splitting costs at most the 32 KiB window at each
boundary: about 450 bytes on a 6.6 MB binary. Without the binding, zlib -9 in one member, and the
backend says so. Both are deterministic: a fixed header (no name, mtime 0, OS 255).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from goslim.gzipcache import MemberCache

try:
    import deflate as _libdeflate
except ImportError:  # pragma: no cover - exercised by the fallback test through BACKEND overrides
    _libdeflate = None

MEMBER_BYTES = 4 << 20
LIBDEFLATE_LEVEL = 12
ZLIB_LEVEL = 9
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no flags, mtime 0, max compression, OS 255


def backend() -> str:
    """What compresses gzip layers here: 'libdeflate-12' or 'zlib-9 (libdeflate binding missing)'."""
    return "libdeflate-12" if _libdeflate is not None else "zlib-9 (libdeflate binding missing)"


def _member_tag() -> str:
    """Names the encoder in the member cache: another libdeflate may compress differently."""
    version = getattr(_libdeflate, "__version__", "unknown")
    return f"libdeflate{version}-{LIBDEFLATE_LEVEL}"


def gzip_member(data: bytes, level: int | None = None) -> bytes:
    """One complete gzip member of ``data`` with the best encoder available, at its layer level or
    at ``level``."""
    if _libdeflate is not None:
        return _libdeflate.gzip_compress(data, LIBDEFLATE_LEVEL if level is None else level)
    comp = zlib.compressobj(ZLIB_LEVEL if level is None else level, zlib.DEFLATED, -15, 9)
    body = comp.compress(data) + comp.flush()
    return _HEADER + body + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)


def gzip_bytes(data: bytes) -> bytes:
    """``data`` as the gzip stream a layer would carry (members of MEMBER_BYTES, in order)."""
    if len(data) <= MEMBER_BYTES:
        return gzip_member(data)
    writer_out: list[bytes] = []
    writer = GzipWriter(writer_out.append)
    writer.write(data)
    writer.finish()
    return b"".join(writer_out)


class GzipWriter:
    """Streaming gzip: libdeflate members compressed on a thread pool and emitted in order, or one
    zlib member streamed as it comes when the binding is missing."""

    def __init__(
        self,
        emit: Callable[[bytes], object],
        workers: int | None = None,
        members: MemberCache | None = None,
    ) -> None:
        self._emit = emit
        # With ``members``, bytes compressed before (an unchanged binary) come back from that cache.
        self._members = members
        self._buffer = bytearray()
        self._wrote_any = False
        self._workers = max(1, workers or min(4, os.cpu_count() or 1))
        self._pending: deque[Future[bytes]] = deque()
        self._pool = (
            ThreadPoolExecutor(self._workers, thread_name_prefix="goslim-gzip") if _libdeflate else None
        )
        if self._pool is None:
            self._zlib = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, -15, 9)
            self._crc = self._size = 0
            self._emit(_HEADER)

    def write(self, data: bytes) -> None:
        if self._pool is None:
            self._crc = zlib.crc32(data, self._crc)
            self._size += len(data)
            self._emit(self._zlib.compress(data))
            return
        self._buffer += data
        while len(self._buffer) >= MEMBER_BYTES:
            self._submit(bytes(self._buffer[:MEMBER_BYTES]))
            del self._buffer[:MEMBER_BYTES]

    def finish(self) -> None:
        """Compress what is left (an empty stream is still one valid member) and wait for all."""
        if self._pool is None:
            self._emit(self._zlib.flush())
            self._emit(struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF))
            return
        try:
            if self._buffer or not self._wrote_any:
                self._submit(bytes(self._buffer))
                self._buffer.clear()
            while self._pending:
                self._emit(self._pending.popleft().result())
        finally:
            self.abort()

    def abort(self) -> None:
        """Stop the workers (after an error: nothing more is emitted)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _submit(self, data: bytes) -> None:
        assert self._pool is not None
        self._wrote_any = True
        if self._members is None:
            self._pending.append(self._pool.submit(gzip_member, data))
        else:
            self._pending.append(self._pool.submit(self._members.member, data, _member_tag(), gzip_member))
        # Bound memory: at most two members in flight per worker.
        while len(self._pending) > 2 * self._workers:
            self._emit(self._pending.popleft().result())
