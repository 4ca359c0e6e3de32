"""Cached gzip members: the same bytes out as compressing again, and nothing trusted that does not check."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from goslim.gzipcache import MIN_BYTES, MemberCache
from goslim.gzipstream import MEMBER_BYTES, GzipWriter, gzip_member
from goslim.oci.layer import FileEntry, build_layer


def _data(size: int) -> bytes:
    rng = random.Random(16)
    words = [bytes(rng.choice(b"abcdefgh") for _ in range(rng.randint(2, 9))) for _ in range(500)]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


def _stream(data: bytes, cache: MemberCache) -> bytes:
    parts: list[bytes] = []
    writer = GzipWriter(parts.append, members=cache)
    writer.write(data)
    writer.finish()
    return b"".join(parts)


def test_a_cached_stream_is_byte_identical_to_a_fresh_one(tmp_path: Path):
    data = _data(MEMBER_BYTES + MIN_BYTES * 2)
    fresh = _stream(data, MemberCache(tmp_path / "other"))
    cache = MemberCache(tmp_path / "cache")
    assert _stream(data, cache) == fresh
    assert len(list(cache.dir.iterdir())) == 2  # both members were large enough to keep
    assert _stream(data, cache) == fresh and gzip.decompress(fresh) == data


def test_hits_skip_compression_and_bad_entries_are_misses(tmp_path: Path):
    cache = MemberCache(tmp_path)
    data = _data(MIN_BYTES)
    calls: list[int] = []

    def make(chunk: bytes) -> bytes:
        calls.append(len(chunk))
        return gzip_member(chunk)

    first = cache.member(data, "t", make)
    assert cache.member(data, "t", make) == first and len(calls) == 1
    assert cache.member(data, "other-encoder", make) == first and len(calls) == 2
    for entry in cache.dir.iterdir():
        raw = bytearray(entry.read_bytes())
        raw[20] ^= 0xFF  # a flipped bit in the member
        entry.write_bytes(bytes(raw))
    assert cache.member(data, "t", make) == first and len(calls) == 3
    small = b"tiny"
    cache.member(small, "t", make)
    assert len(list(cache.dir.iterdir())) == 2  # small inputs are not kept


def test_gzip_layers_keep_their_members_and_their_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GOSLIM_CACHE", str(tmp_path / "cache"))
    app = tmp_path / "app"
    app.write_bytes(_data(MEMBER_BYTES + MIN_BYTES))
    first = build_layer([FileEntry.from_path("/app/app", app, mode=0o755)], "gzip", mtime=0)
    assert len(list((tmp_path / "cache" / "gzip").iterdir())) == 2
    again = build_layer([FileEntry.from_path("/app/app", app, mode=0o755)], "gzip", mtime=0)
    assert again.digest == first.digest and again.data == first.data
