"""goslim.gzipstream: libdeflate members that every reader takes as one stream; zlib when missing."""

from __future__ import annotations

import gzip
import os
import zlib

import pytest

from goslim import gzipstream
from goslim.oci import FileEntry, build_layer


def _data(n: int) -> bytes:
    # Compressible but not trivial: repeated pseudo-random blocks.
    block = os.urandom(4096)
    return (block * (n // 4096 + 1))[:n]


def test_large_streams_are_members_read_as_one() -> None:
    data = _data(gzipstream.MEMBER_BYTES * 2 + 12345)
    blob = gzipstream.gzip_bytes(data)
    assert gzip.decompress(blob) == data
    # Go's reader and zlib's multi-member mode see the same bytes: members follow each other.
    d = zlib.decompressobj(31)
    assert d.decompress(blob) == data[: gzipstream.MEMBER_BYTES]
    assert blob.count(b"\x1f\x8b\x08\x00\x00\x00\x00\x00") >= 3


def test_same_input_same_bytes_whatever_the_threads() -> None:
    data = _data(gzipstream.MEMBER_BYTES * 3)
    chunks_one: list[bytes] = []
    one = gzipstream.GzipWriter(chunks_one.append, workers=1)
    for i in range(0, len(data), 1 << 20):
        one.write(data[i : i + (1 << 20)])
    one.finish()
    assert b"".join(chunks_one) == gzipstream.gzip_bytes(data)


def test_empty_stream_is_valid_gzip() -> None:
    out: list[bytes] = []
    w = gzipstream.GzipWriter(out.append)
    w.finish()
    assert gzip.decompress(b"".join(out)) == b""


@pytest.mark.skipif(gzipstream.backend() != "libdeflate-12", reason="the libdeflate binding is not installed")
def test_libdeflate_beats_zlib_9() -> None:
    data = _data(1 << 20) + bytes(range(256)) * 4000
    assert len(gzipstream.gzip_bytes(data)) < len(gzip.compress(data, 9, mtime=0))


def test_fallback_to_zlib_is_announced_and_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gzipstream, "_libdeflate", None)
    assert gzipstream.backend() == "zlib-9 (libdeflate binding missing)"
    data = _data(gzipstream.MEMBER_BYTES + 100)
    blob = gzipstream.gzip_bytes(data)
    assert gzip.decompress(blob) == data
    layer = build_layer([FileEntry.file("app", data, 0o755)], "gzip", mtime=0)
    assert gzip.decompress(layer.read_bytes())[:512]  # a readable tar stream
    assert layer.read_bytes()[9] == 255  # the same fixed header
