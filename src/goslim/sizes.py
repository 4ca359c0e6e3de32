"""Measured sizes: what a registry transfers for some bytes (gzip and zstd)."""

from __future__ import annotations

import lzma
from pathlib import Path

import zstandard

from goslim.gzipstream import gzip_bytes, gzip_member

ZSTD_LEVEL = 19


def gzip_size(data: bytes, level: int | None = None) -> int:
    """Bytes of ``data`` gzipped exactly as goslim writes gzip layers (goslim.gzipstream), or in one
    gzip member at ``level`` (libdeflate when installed, else zlib)."""
    return len(gzip_bytes(data) if level is None else gzip_member(data, level))


def zstd_size(data: bytes, level: int = ZSTD_LEVEL) -> int:
    return len(zstandard.ZstdCompressor(level=level).compress(data))


def file_sizes(
    path: Path, gzip_level: int | None = None, zstd_level: int = ZSTD_LEVEL
) -> tuple[int, int, int]:
    """(file size, gzip size, zstd size) of one file; gzip as layers are written unless a level is given."""
    data = path.read_bytes()
    return len(data), gzip_size(data, gzip_level), zstd_size(data, zstd_level)


def percent_change(value: int | float, baseline: int | float) -> float:
    return 0.0 if baseline == 0 else (value - baseline) * 100.0 / baseline


def xz_size(data: bytes) -> int:
    """Bytes of `xz -9e` of ``data`` (liblzma preset 9 + extreme): the floor no layer format beats by much."""
    return len(lzma.compress(data, format=lzma.FORMAT_XZ, preset=9 | lzma.PRESET_EXTREME))
