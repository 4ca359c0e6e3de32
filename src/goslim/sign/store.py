"""Where signatures and SBOMs are attached: an OCI image layout on disk, or a registry.

Both speak the same small protocol so signing and attaching never care which one
they write to: resolve the image to a digest, read and write content-addressed blobs,
read and write a manifest under a tag.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from goslim.errors import UserInputError
from goslim.fsutil import write_bytes_atomic
from goslim.oci.layout import layout_lock

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
# Tags that hold attachments, not images.
ATTACHMENT_SUFFIXES = (".sig", ".sbom", ".att")
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


class ImageStore(Protocol):
    """The operations signing and attaching need from an image location."""

    @property
    def repository(self) -> str:
        """Name used as the payload's docker-reference."""
        ...

    def resolve(self) -> str:
        """Digest (sha256:...) of the image manifest or index the location names."""
        ...

    def get_blob(self, digest: str) -> bytes:
        """A blob's bytes, checked against its digest."""
        ...

    def put_blob(self, data: bytes, media_type: str) -> str:
        """Store a blob (skipped when present); returns its digest."""
        ...

    def get_tagged(self, tag: str) -> bytes | None:
        """The manifest under ``tag``, or None when there is none."""
        ...

    def put_tagged(self, tag: str, manifest: bytes, media_type: str) -> str:
        """Store a manifest under ``tag``; returns its digest."""
        ...


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    """A strict sha256 digest, or a clear error."""
    if not _DIGEST_RE.match(digest):
        raise UserInputError(f"'{digest}' is not a sha256 digest", hint="write it as sha256:<64 hex digits>")
    return digest


def attachment_tag(digest: str, suffix: str) -> str:
    """``sha256:abc…`` + ``.sig`` → ``sha256-abc….sig`` (cosign's tag scheme)."""
    return check_digest(digest).replace(":", "-") + suffix


@dataclass(frozen=True)
class LayoutLocation:
    path: Path
    tag: str | None


def parse_layout_location(location: str) -> LayoutLocation | None:
    """``oci:PATH[:TAG]`` → LayoutLocation; None for anything else."""
    if not location.startswith("oci:"):
        return None
    rest = location[4:]
    path, sep, tag = rest.rpartition(":")
    if sep and path and "/" not in tag:
        return LayoutLocation(Path(path), tag or None)
    return LayoutLocation(Path(rest), None)


class OciLayoutStore:
    """An OCI image layout directory (index.json + blobs/sha256/...), written atomically."""

    def __init__(self, location: LayoutLocation) -> None:
        self.root = location.path
        self.tag = location.tag
        if not (self.root / "oci-layout").is_file() or not (self.root / "index.json").is_file():
            raise UserInputError(
                f"{self.root} is not an OCI image layout (no oci-layout/index.json)",
                hint="write one with `goslim image --to oci:DIR`",
            )

    @property
    def repository(self) -> str:
        return self.root.resolve().name

    def _index(self) -> dict:
        try:
            index = json.loads((self.root / "index.json").read_text())
        except ValueError as exc:
            raise UserInputError(f"{self.root}/index.json is not valid JSON") from exc
        if not isinstance(index.get("manifests"), list):
            raise UserInputError(f"{self.root}/index.json has no manifests list")
        return index

    def resolve(self) -> str:
        images = [
            m
            for m in self._index()["manifests"]
            if not str(m.get("annotations", {}).get(REF_NAME, "")).endswith(ATTACHMENT_SUFFIXES)
        ]
        if self.tag is not None:
            images = [m for m in images if m.get("annotations", {}).get(REF_NAME) == self.tag]
            if not images:
                raise UserInputError(f"no image tagged '{self.tag}' in {self.root}")
        if not images:
            raise UserInputError(f"{self.root} holds no image")
        if len(images) > 1:
            tags = sorted({str(m.get("annotations", {}).get(REF_NAME)) for m in images})
            raise UserInputError(
                f"{self.root} holds {len(images)} images; name one",
                hint=f"use oci:{self.root}:TAG with one of: {', '.join(tags)}",
            )
        digest = check_digest(images[0]["digest"])
        # A manifest edited on disk keeps its old name in index.json: hash it, never trust the name.
        self.get_blob(digest)
        return digest

    def _blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / check_digest(digest).split(":", 1)[1]

    def get_blob(self, digest: str) -> bytes:
        path = self._blob_path(digest)
        if not path.is_file():
            raise UserInputError(f"blob {digest} is missing from {self.root}")
        data = path.read_bytes()
        if sha256_digest(data) != digest:
            raise BlobDigestMismatch(
                f"blob {digest} in {self.root} does not match its digest (modified on disk)"
            )
        return data

    def put_blob(self, data: bytes, media_type: str) -> str:
        digest = sha256_digest(data)
        path = self._blob_path(digest)
        if not path.is_file() or sha256_digest(path.read_bytes()) != digest:
            write_bytes_atomic(path, data)
        return digest

    def get_tagged(self, tag: str) -> bytes | None:
        for m in self._index()["manifests"]:
            if m.get("annotations", {}).get(REF_NAME) == tag:
                return self.get_blob(m["digest"])
        return None

    def put_tagged(self, tag: str, manifest: bytes, media_type: str) -> str:
        digest = self.put_blob(manifest, media_type)
        entry = {"mediaType": media_type, "digest": digest, "size": len(manifest)}
        entry["annotations"] = {REF_NAME: tag}
        # The lock goslim.oci's layout writer takes, so index.json updates never interleave.
        with layout_lock(self.root):
            index = self._index()
            kept = [m for m in index["manifests"] if m.get("annotations", {}).get(REF_NAME) != tag]
            index["manifests"] = [*kept, entry]
            write_bytes_atomic(self.root / "index.json", json.dumps(index, indent=2).encode() + b"\n")
        return digest


class BlobDigestMismatch(UserInputError):
    """Stored bytes do not hash to the digest that names them."""
