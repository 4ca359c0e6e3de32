"""A target platform in Go's and OCI's shared vocabulary (GOOS/GOARCH = os/architecture)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from goslim.errors import UserInputError

_PLATFORM_RE = re.compile(r"^(?P<os>[a-z0-9]+)/(?P<arch>[a-z0-9]+)(?:/(?P<variant>[a-z0-9.]+))?$")

# GOOS/GOARCH pairs goslim builds and images; others are refused with this list.
SUPPORTED = (
    "linux/amd64",
    "linux/arm64",
    "linux/arm",
    "linux/386",
    "linux/ppc64le",
    "linux/s390x",
    "linux/riscv64",
)


class Platform(BaseModel):
    model_config = ConfigDict(frozen=True)

    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        m = _PLATFORM_RE.match(text.strip())
        if not m or f"{m['os']}/{m['arch']}" not in SUPPORTED:
            raise UserInputError(f"unsupported platform '{text}'", hint=f"use one of: {', '.join(SUPPORTED)}")
        return cls(os=m["os"], architecture=m["arch"], variant=m["variant"])

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base

    def matches(self, offered: Platform) -> bool:
        """Does ``offered`` (an index entry's platform) serve a request for this one? No variant: any."""
        if str(self) == str(offered):
            return True
        return self.variant is None and (self.os, self.architecture) == (offered.os, offered.architecture)

    @property
    def slug(self) -> str:
        """File-name friendly form: linux_amd64."""
        return str(self).replace("/", "_")


# What `--platform all` means on the built-in bases (static, scratch): the Linux ports images ship for.
BUILTIN_ALL = ("linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le", "linux/s390x", "linux/riscv64")


def parse_platforms(text: str) -> tuple[Platform, ...]:
    """``linux/amd64,linux/arm64`` -> platforms in the order given, duplicates dropped.

    ``all`` is not handled here: what it means depends on the base (see goslim.image.platforms).
    """
    seen: dict[str, Platform] = {}
    for part in text.split(","):
        if not part.strip():
            raise UserInputError(f"empty platform in '{text}'", hint="separate platforms with commas, e.g. "
                                 "linux/amd64,linux/arm64")
        p = Platform.parse(part)
        seen.setdefault(str(p), p)
    return tuple(seen.values())
