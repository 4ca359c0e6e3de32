"""Content digests (``sha256:<64 hex>``), parsed strictly and computed from raw bytes."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import IO

from goslim.oci.errors import BlobError, InvalidDigestError

_ALGORITHM_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*$")
_ENCODED_RE = re.compile(r"^[a-zA-Z0-9=_-]+$")
_HEX = {"sha256": 64, "sha512": 128}


@dataclass(frozen=True, order=True)
class Digest:
    """An ``algorithm:encoded`` content address; only sha256 and sha512 are accepted."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``sha256:<64 lowercase hex>``; anything else raises InvalidDigestError."""
        if not isinstance(text, str) or ":" not in text:
            raise InvalidDigestError(f"invalid digest '{text}'", hint="expected sha256:<64 hex digits>")
        algorithm, _, encoded = text.partition(":")
        if not _ALGORITHM_RE.match(algorithm) or not _ENCODED_RE.match(encoded):
            raise InvalidDigestError(f"invalid digest '{text}'", hint="expected sha256:<64 hex digits>")
        length = _HEX.get(algorithm)
        if length is None:
            raise InvalidDigestError(f"unsupported digest algorithm '{algorithm}' in '{text}'",
                                     hint="goslim supports sha256 and sha512")
        if len(encoded) != length or not re.fullmatch(r"[0-9a-f]+", encoded):
            raise InvalidDigestError(
                f"invalid digest '{text}': {algorithm} needs {length} lowercase hex digits"
            )
        return cls(algorithm, encoded)

    @classmethod
    def of_bytes(cls, data: bytes) -> Digest:
        return cls("sha256", hashlib.sha256(data).hexdigest())

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)

    def verify_bytes(self, data: bytes, *, what: str = "blob") -> None:
        """Raise BlobError naming this digest unless ``data`` hashes to it."""
        h = self.hasher()
        h.update(data)
        if h.hexdigest() != self.hex:
            raise BlobError(f"{what} {self} is corrupt: content hashes to {self.algorithm}:{h.hexdigest()}",
                            hint="the blob was modified or truncated; rebuild or re-pull the image")

    def verify_stream(self, fh: IO[bytes], size: int | None = None, *, what: str = "blob") -> int:
        """Hash a stream to the end and check it against this digest (and ``size``); returns the size."""
        h = self.hasher()
        n = 0
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            n += len(chunk)
        if size is not None and n != size:
            raise BlobError(f"{what} {self} has {n} bytes, expected {size}",
                            hint="the blob was truncated or replaced; rebuild or re-pull the image")
        if h.hexdigest() != self.hex:
            raise BlobError(f"{what} {self} is corrupt: content hashes to {self.algorithm}:{h.hexdigest()}",
                            hint="the blob was modified or truncated; rebuild or re-pull the image")
        return n

    @property
    def encoded(self) -> str:
        return self.hex

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def short(self) -> str:
        return f"{self.algorithm}:{self.hex[:12]}"
