"""Compressed gzip members kept between runs, so an unchanged binary is not compressed again.

A layer's gzip stream is a series of independent members (goslim.gzipstream), each a pure function
of its input bytes and the encoder, so a member can be looked up by the sha256 of its input.
Each entry carries the sha256 of the member itself and is checked on read; anything that does not
check out is a miss. The folder keeps the most recently used MAX_ENTRIES members.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from goslim.cachedir import cache_root
from goslim.errors import OutputPathError
from goslim.fsutil import write_bytes_atomic

MIN_BYTES = 256 << 10  # smaller inputs compress faster than a disk round trip pays back
MAX_ENTRIES = 256  # at most 4 MiB each: about 1 GiB in the worst case
_DIGEST = 32


class MemberCache:
    """gzip members under ``root/gzip/TAG-SHA256(input)``."""

    def __init__(self, root: Path | None = None) -> None:
        self.dir = (root or cache_root()) / "gzip"

    def member(self, data: bytes, tag: str, make: Callable[[bytes], bytes]) -> bytes:
        """``make(data)``, or the member an earlier run made from the same bytes with encoder ``tag``."""
        if len(data) < MIN_BYTES:
            return make(data)
        path = self.dir / f"{tag}-{hashlib.sha256(data).hexdigest()}"
        found = self._read(path, data)
        if found is not None:
            return found
        made = make(data)
        self._write(path, made)
        return made

    def _read(self, path: Path, data: bytes) -> bytes | None:
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        member, digest = raw[:-_DIGEST], raw[-_DIGEST:]
        if len(raw) <= _DIGEST + 18 or hashlib.sha256(member).digest() != digest:
            return None
        crc, size = struct.unpack("<II", member[-8:])
        if crc != zlib.crc32(data) & 0xFFFFFFFF or size != len(data) & 0xFFFFFFFF:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: kept when the folder is trimmed
        return member

    def _write(self, path: Path, member: bytes) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, member + hashlib.sha256(member).digest())
            self._trim()
        except (OSError, OutputPathError):
            pass  # a cache that cannot be written only costs the next run its time

    def _trim(self) -> None:
        entries = [p for p in self.dir.iterdir() if not p.name.startswith(".")]
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(key=lambda p: p.stat().st_mtime)
        for stale in entries[: len(entries) - MAX_ENTRIES]:
            stale.unlink(missing_ok=True)
