"""Where signatures and SBOMs are attached: an OCI image layout on disk, or a registry.

Both speak the same small protocol so signing and attaching never care which one
they write to: resolve the image to a digest, read and write content-addressed blobs,
read and write a manifest under a tag.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from goslim.errors import UserInputError
from goslim.oci.digest import Digest
from goslim.oci.errors import BlobError
from goslim.oci.layout import layout_tags, mark_entries, put_blob_bytes, read_blob_bytes, tag_manifest
from goslim.oci.mediatypes import INDEX_TYPES

# Tags that hold attachments, not images.
ATTACHMENT_SUFFIXES = (".sig", ".sbom", ".att")
# cosign's index.json markers for `--local-image` (pkg/oci/layout): which entry is the image, which
# its signatures, which its attestations.
COSIGN_KIND = "kind"
COSIGN_KINDS = {".sig": "dev.cosignproject.cosign/sigs", ".att": "dev.cosignproject.cosign/atts"}
COSIGN_IMAGE_KIND = "dev.cosignproject.cosign/image"
COSIGN_INDEX_KIND = "dev.cosignproject.cosign/imageIndex"
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

    def get_manifest(self, digest: str) -> bytes:
        """The manifest or index ``digest`` names (an index's platform entries have no tag), checked."""
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
    """An OCI image layout directory, read and written through goslim.oci's layout functions."""

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

    def resolve(self) -> str:
        tags = {t: d for t, d in layout_tags(self.root).items() if not t.endswith(ATTACHMENT_SUFFIXES)}
        if self.tag is not None:
            if self.tag not in tags:
                raise UserInputError(f"no image tagged '{self.tag}' in {self.root}")
            tags = {self.tag: tags[self.tag]}
        if not tags:
            raise UserInputError(f"{self.root} holds no image")
        if len(tags) > 1:
            raise UserInputError(
                f"{self.root} holds {len(tags)} images; name one",
                hint=f"use oci:{self.root}:TAG with one of: {', '.join(sorted(tags))}",
            )
        digest = str(next(iter(tags.values())).digest)
        # A manifest edited on disk keeps its old name in index.json: hash it, never trust the name.
        self.get_blob(digest)
        return digest

    def get_blob(self, digest: str) -> bytes:
        try:
            return read_blob_bytes(self.root, Digest.parse(check_digest(digest)))
        except BlobError as exc:
            if "missing" in exc.message:
                raise
            raise BlobDigestMismatch(
                f"blob {digest} in {self.root} does not match its digest (modified on disk)"
            ) from exc

    def put_blob(self, data: bytes, media_type: str) -> str:
        return str(put_blob_bytes(self.root, data))

    def get_tagged(self, tag: str) -> bytes | None:
        desc = layout_tags(self.root).get(tag)
        return None if desc is None else self.get_blob(str(desc.digest))

    def get_manifest(self, digest: str) -> bytes:
        return self.get_blob(digest)

    def put_tagged(self, tag: str, manifest: bytes, media_type: str) -> str:
        suffix = next((s for s in COSIGN_KINDS if tag.endswith(s)), None)
        if suffix is None:
            return str(tag_manifest(self.root, manifest, media_type, tag).digest)
        # Marked as cosign marks them, so `cosign verify[-attestation] --local-image DIR` reads the
        # image signed or attested last.
        desc = tag_manifest(self.root, manifest, media_type, tag, {COSIGN_KIND: COSIGN_KINDS[suffix]})
        mark_entries(self.root, desc.digest, COSIGN_KIND, COSIGN_KINDS[suffix])
        image = Digest.parse(check_digest(tag.removesuffix(suffix).replace("-", ":", 1)))
        mark_entries(self.root, image, COSIGN_KIND, self._image_kind(image))
        return str(desc.digest)

    def _image_kind(self, image: Digest) -> str:
        """cosign marks an index apart from an image: ``verify --local-image`` looks for either."""
        entry = next((d for d in layout_tags(self.root).values() if d.digest == image), None)
        is_index = entry is not None and entry.media_type in INDEX_TYPES
        return COSIGN_INDEX_KIND if is_index else COSIGN_IMAGE_KIND


class BlobDigestMismatch(UserInputError):
    """Stored bytes do not hash to the digest that names them."""
