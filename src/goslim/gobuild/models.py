"""Artifacts of the build stage."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from goslim.platform import Platform


class Binary(BaseModel):
    """A built Go executable and how it was made."""

    model_config = ConfigDict(frozen=True)

    path: Path
    name: str
    package: str  # import path of the main package
    module_dir: Path
    sha256: str
    size: int
    platform: Platform
    profile: str
    go_version: str
    env: dict[str, str]  # the build environment goslim set (CGO_ENABLED, GOOS, GOARCH, ...)
    flags: list[str]  # the go build flags, in order

    @classmethod
    def from_file(cls, path: Path, **fields: object) -> Binary:
        """Describe an existing file; sha256 and size are measured, never assumed."""
        digest, size = sha256_file(path)
        return cls(path=path, sha256=digest, size=size, **fields)


def sha256_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size
