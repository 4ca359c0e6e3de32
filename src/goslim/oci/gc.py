"""Garbage collection of an OCI layout goslim owns: drop orphaned attachments and unreferenced blobs.

A re-run of `goslim slim` moves the image's tag to the new image; the old manifest, its layers and
the cosign-style attachments of the old digest (``sha256-<hex>.sig|.att|.sbom``) would otherwise
accumulate. Reachability starts at index.json's entries; attachments whose subject digest is no
longer an entry of index.json are dropped first. Runs under the layout lock, for layouts that only
goslim writes (a concurrent writer that stored a blob but has not yet tagged it would lose it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from goslim.fsutil import write_bytes_atomic
from goslim.oci.descriptor import canonical_json
from goslim.oci.digest import Digest
from goslim.oci.errors import ImageFormatError
from goslim.oci.layout import ATTACHMENT_TAG, REF_NAME, blob_path, layout_lock, load_index
from goslim.oci.mediatypes import INDEX_TYPES

_MAX_DOCUMENT = 4 << 20  # manifests and indexes larger than this are not followed


@dataclass(frozen=True)
class GcResult:
    """What a collection removed."""

    removed_tags: tuple[str, ...]  # attachment tags whose image is gone
    removed_blobs: int
    freed_bytes: int

    def describe(self) -> str:
        if not self.removed_tags and not self.removed_blobs:
            return "nothing to remove"
        parts = []
        if self.removed_tags:
            parts.append(f"{len(self.removed_tags)} stale attachment{'s' * (len(self.removed_tags) != 1)}")
        if self.removed_blobs:
            parts.append(f"{self.removed_blobs} unreferenced blob{'s' * (self.removed_blobs != 1)} "
                         f"({self.freed_bytes:,} bytes)")
        return "removed " + " and ".join(parts)


def collect_garbage(path: Path) -> GcResult:
    """Remove attachments of images no longer in the layout, then every blob nothing references."""
    root = Path(path)
    with layout_lock(root):
        index = load_index(root)
        entries = [e for e in index.get("manifests", []) if isinstance(e, dict)]
        tagged = [e for e in entries if not ATTACHMENT_TAG.match(_tag(e))]
        # A tagged index keeps the attachments of its platform images (an SBOM of the amd64 image) too.
        subjects = {e.get("digest") for e in tagged} | _index_children(root, tagged)
        kept, dropped = [], []
        for entry in entries:
            tag = _tag(entry)
            if ATTACHMENT_TAG.match(tag) and _subject(tag) not in subjects:
                dropped.append(tag)
            else:
                kept.append(entry)
        if dropped:
            index["manifests"] = kept
            write_bytes_atomic(root / "index.json", canonical_json(index))
        reachable = _reachable(root, kept)
        removed = freed = 0
        blobs = root / "blobs" / "sha256"
        for blob in sorted(blobs.iterdir()) if blobs.is_dir() else ():
            if blob.name.startswith(".") or not blob.is_file() or blob.is_symlink():
                continue  # temp files of a writer and anything that is not a blob stay
            if blob.name not in reachable:
                freed += blob.stat().st_size
                blob.unlink()
                removed += 1
    return GcResult(tuple(dropped), removed, freed)


def _tag(entry: dict) -> str:
    annotations = entry.get("annotations")
    tag = annotations.get(REF_NAME) if isinstance(annotations, dict) else None
    return tag if isinstance(tag, str) else ""


def _subject(attachment_tag: str) -> str:
    """The image digest an attachment tag ``sha256-<hex>.<kind>`` belongs to."""
    return "sha256:" + attachment_tag.removeprefix("sha256-").split(".", 1)[0]


def _reachable(root: Path, entries: list[dict]) -> set[str]:
    """Hex digests of every blob reachable from ``entries`` (manifests, indexes, configs, layers)."""
    seen: set[str] = set()
    # (descriptor, is a manifest or index to follow): index entries and index children are followed
    # whatever their media type says; configs and layers are leaves.
    pending: list[tuple[dict, bool]] = [(e, True) for e in entries]
    while pending:
        desc, follow = pending.pop()
        try:
            digest = Digest.parse(str(desc.get("digest")))
        except (ImageFormatError, ValueError):
            continue
        if digest.algorithm != "sha256" or digest.hex in seen:
            continue
        seen.add(digest.hex)
        if not follow:
            continue
        path = blob_path(root, digest)
        if not path.is_file() or path.stat().st_size > _MAX_DOCUMENT:
            continue
        try:
            doc = json.loads(path.read_bytes())
        except ValueError:
            continue
        if not isinstance(doc, dict):
            continue
        leaves = [doc.get("config"), *_list(doc.get("layers"))]
        pending.extend((c, False) for c in leaves if isinstance(c, dict))
        pending.extend((c, True) for c in _list(doc.get("manifests")) if isinstance(c, dict))
    return seen


def _index_children(root: Path, entries: list[dict]) -> set[str]:
    """Digests of the images listed by the indexes among ``entries`` (one level, as goslim writes)."""
    children: set[str] = set()
    for entry in entries:
        if entry.get("mediaType") not in INDEX_TYPES:
            continue
        try:
            path = blob_path(root, Digest.parse(str(entry.get("digest"))))
        except (ImageFormatError, ValueError):
            continue
        if not path.is_file() or path.stat().st_size > _MAX_DOCUMENT:
            continue
        try:
            doc = json.loads(path.read_bytes())
        except ValueError:
            continue
        if isinstance(doc, dict):
            children |= {str(c.get("digest")) for c in _list(doc.get("manifests")) if isinstance(c, dict)}
    return children


def _list(value: object) -> list:
    return value if isinstance(value, list) else []
