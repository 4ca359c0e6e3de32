"""Measured sizes: what a registry transfers for some bytes (gzip and zstd)."""

from __future__ import annotations

import lzma
from pathlib import Path

import zstandard

from goslim.gzipstream import gzip_bytes

ZSTD_LEVEL = 19


def gzip_size(data: bytes) -> int:
    """Bytes of ``data`` gzipped exactly as goslim writes gzip layers (goslim.gzipstream)."""
    return len(gzip_bytes(data))


def zstd_size(data: bytes, level: int = ZSTD_LEVEL) -> int:
    return len(zstandard.ZstdCompressor(level=level).compress(data))


def file_sizes(path: Path) -> tuple[int, int, int]:
    """(file size, gzip size as layers are written, zstd -19 size) of one file."""
    data = path.read_bytes()
    return len(data), gzip_size(data), zstd_size(data)


def percent_change(value: int | float, baseline: int | float) -> float:
    return 0.0 if baseline == 0 else (value - baseline) * 100.0 / baseline


def xz_size(data: bytes) -> int:
    """Bytes of `xz -9e` of ``data`` (liblzma preset 9 + extreme): the floor no layer format beats by much."""
    return len(lzma.compress(data, format=lzma.FORMAT_XZ, preset=9 | lzma.PRESET_EXTREME))
