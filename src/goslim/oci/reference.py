"""Image locations in skopeo's words, and registry references ``HOST/REPO[:TAG|@DIGEST]``."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from goslim.oci.digest import Digest
from goslim.oci.errors import InvalidDigestError, InvalidReferenceError

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_REPO_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST_RE = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*"
                      r"|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$")
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
# skopeo transports goslim does not read; named so the error says so instead of "bad repository".
_OTHER_TRANSPORTS = frozenset({"docker-daemon", "containers-storage", "dir", "oci-archive", "ostree", "sif"})
_HINT = "use HOST/REPO[:TAG|@sha256:DIGEST], e.g. ghcr.io/acme/app:v1 or 127.0.0.1:5000/app:latest"


@dataclass(frozen=True)
class ImageReference:
    """A registry reference: ``registry`` host, ``repository`` path, and a tag and/or digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Parse strictly; Docker Hub short names get ``docker.io`` and ``library/``."""
        raw = text.strip()
        if not raw or raw != text or any(c.isspace() for c in raw):
            raise InvalidReferenceError(f"invalid image reference '{text}'", hint=_HINT)
        name, digest = raw, None
        if "@" in raw:
            name, _, digest_text = raw.partition("@")
            try:
                digest = Digest.parse(digest_text)
            except InvalidDigestError as exc:
                raise InvalidReferenceError(f"invalid image reference '{text}': {exc.message}",
                                            hint=_HINT) from None
        tag = None
        last = name.rsplit("/", 1)[-1]
        if ":" in last:
            name, _, tag = name.rpartition(":")
            if not TAG_RE.match(tag):
                raise InvalidReferenceError(f"invalid tag '{tag}' in image reference '{text}'",
                                            hint="tags are [A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
        first, sep, rest = name.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
            registry, repository = first, rest
            if not _HOST_RE.match(registry):
                raise InvalidReferenceError(f"invalid registry host '{registry}' in '{text}'", hint=_HINT)
        else:
            registry, repository = DOCKER_HUB, name
        if registry in (DOCKER_HUB, "index.docker.io", "registry-1.docker.io"):
            registry = DOCKER_HUB
            if "/" not in repository:
                repository = f"library/{repository}"
        if not _REPO_RE.match(repository) or len(registry) + 1 + len(repository) > 255:
            raise InvalidReferenceError(f"invalid repository name '{repository}' in '{text}'",
                                        hint="repository names are lowercase: a-z 0-9 . _ - separated by /")
        return cls(registry, repository, tag, digest)

    @property
    def api_host(self) -> str:
        """The host serving /v2/ (Docker Hub's differs from its name)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def is_loopback(self) -> bool:
        host = self.registry.rsplit(":", 1)[0] if not self.registry.startswith("[") else \
            self.registry[1:].split("]", 1)[0]
        if host == "localhost" or host.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def identifier(self) -> str:
        """What goes after /manifests/: the digest if pinned, else the tag (default ``latest``)."""
        return str(self.digest) if self.digest else (self.tag or "latest")

    def with_tag(self, tag: str) -> ImageReference:
        return ImageReference(self.registry, self.repository, tag, None)

    def with_digest(self, digest: Digest) -> ImageReference:
        return ImageReference(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


@dataclass(frozen=True)
class ImageLocation:
    """Where an image lives: an OCI layout, a docker-archive tarball, or a registry."""

    kind: Literal["oci", "docker-archive", "registry"]
    path: Path | None = None
    tag: str | None = None
    reference: ImageReference | None = None

    @classmethod
    def parse(cls, text: str) -> ImageLocation:
        """``oci:PATH[:TAG]``, ``docker-archive:PATH``, ``docker://REF`` or ``HOST/REPO[:TAG|@DIGEST]``."""
        if text.startswith("oci:"):
            body = text[4:]
            path, tag = body, None
            head, sep, maybe_tag = body.rpartition(":")
            if sep and head and "/" not in maybe_tag:
                if not TAG_RE.match(maybe_tag):
                    raise InvalidReferenceError(f"invalid tag '{maybe_tag}' in '{text}'",
                                                hint="use oci:PATH[:TAG]")
                path, tag = head, maybe_tag
            if not path:
                raise InvalidReferenceError(f"'{text}' has no path", hint="use oci:PATH[:TAG]")
            return cls("oci", Path(path), tag)
        if text.startswith("docker-archive:"):
            body = text[len("docker-archive:"):]
            if not body:
                raise InvalidReferenceError(f"'{text}' has no path", hint="use docker-archive:PATH")
            return cls("docker-archive", Path(body))
        if text.startswith("docker://"):
            text = text[len("docker://"):]
        elif text.split(":", 1)[0] in _OTHER_TRANSPORTS:
            word = text.split(":", 1)[0]
            raise InvalidReferenceError(f"image transport '{word}:' is not supported by goslim",
                                        hint="use oci:PATH[:TAG], docker-archive:PATH or HOST/REPO[:TAG]")
        return cls("registry", reference=ImageReference.parse(text))

    def __str__(self) -> str:
        if self.kind == "registry":
            return str(self.reference)
        suffix = f":{self.tag}" if self.tag else ""
        return f"{self.kind}:{self.path}{suffix}"
