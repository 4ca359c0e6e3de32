"""Artifacts of the bases stage: the files a base carries and why, and the base itself."""

from __future__ import annotations

import posixpath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from goslim.platform import Platform


class BaseFile(BaseModel):
    """One filesystem entry a built-in base puts in the image (absolute POSIX path)."""

    model_config = ConfigDict(frozen=True)

    path: str
    kind: Literal["file", "dir", "symlink"]
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    data: bytes = b""  # content of a file
    target: str = ""  # target of a symlink
    group: str = ""  # files that share much of their content, kept side by side in the layer

    @property
    def size(self) -> int:
        return len(self.data)


class Provision(BaseModel):
    """Something goslim put into (or deliberately left out of) a base, and the evidence why."""

    model_config = ConfigDict(frozen=True)

    item: Literal["passwd", "ca-bundle", "zoneinfo", "nsswitch", "os-release", "dirs"]
    included: bool
    reason: str
    source: str = ""  # "system /etc/ssl/certs/ca-certificates.crt", "certifi", "tzdata (PyPI)"
    version: str = ""  # "20230311+deb12u1", "2026.10.19", "2026f"
    paths: list[str] = Field(default_factory=list)
    files: int = 0
    bytes: int = 0


class LibcInfo(BaseModel):
    """What a base offers a dynamically linked binary."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["glibc", "musl", "none"] = "none"
    loaders: list[str] = Field(default_factory=list)  # dynamic loaders found, e.g. /lib/ld-musl-x86_64.so.1


class Base(BaseModel):
    """A base image ready for assembly: built-in files or a pulled image, plus what it contains."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str  # "static", "scratch", or the reference / location the user gave
    kind: Literal["builtin", "remote"]
    platform: Platform
    digest: str | None = None  # manifest digest of a remote base
    files: list[BaseFile] = Field(default_factory=list, exclude=True)  # built-in bases: their one layer
    image: Any = Field(default=None, exclude=True)  # remote bases: the goslim.oci Image
    paths: frozenset[str] = Field(default_factory=frozenset, exclude=True)  # every path, for collisions
    symlinks: dict[str, str] = Field(default_factory=dict, exclude=True)  # path -> target, to resolve paths
    libc: LibcInfo = Field(default_factory=LibcInfo)
    env: list[str] = Field(default_factory=list)  # the base config's Env (remote bases)
    provisions: list[Provision] = Field(default_factory=list)

    @property
    def is_builtin(self) -> bool:
        return self.kind == "builtin"

    def resolve(self, path: str, depth: int = 0) -> str | None:
        """The path ``path`` points at inside the base after following symlinks; None if absent."""
        if depth > 40:
            return None
        parts = [p for p in path.split("/") if p]
        current = "/"
        for i, part in enumerate(parts):
            candidate = posixpath.join(current, part)
            target = self.symlinks.get(candidate)
            if target is not None:
                joined = target if target.startswith("/") else posixpath.join(current, target)
                rest = "/".join(parts[i + 1 :])
                full = posixpath.normpath(posixpath.join(joined, rest) if rest else joined)
                return self.resolve(full, depth + 1)
            if candidate not in self.paths:
                return None
            current = candidate
        return current

    def contains(self, path: str) -> bool:
        return self.resolve(path) is not None
