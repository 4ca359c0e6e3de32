"""Push images to and pull them from registries with ``RegistryClient``.

Push order is blobs, then child manifests (by digest), then the tag last, so a push
interrupted anywhere leaves the tag as it was; a re-run skips blobs already there.
Pulled blobs land in a content-addressed cache (verified) and become file-backed layers.
"""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from goslim.cachedir import cache_root
from goslim.oci import mediatypes
from goslim.oci.descriptor import Descriptor, parse_json
from goslim.oci.digest import Digest
from goslim.oci.errors import BlobCacheError, BlobError, ImageFormatError, RegistryError
from goslim.oci.image import Image, Index
from goslim.oci.index_docker import docker_index, refuses_oci_index
from goslim.oci.index_entries import index_entries, is_platform_image
from goslim.oci.layer import Layer
from goslim.oci.layout import blob_path, default_platform, write_blob
from goslim.oci.reference import ImageReference
from goslim.oci.registry import PARALLEL_UPLOADS, Progress, RegistryClient
from goslim.platform import Platform


@dataclass(frozen=True)
class PushResult:
    """What a push did: the reference pushed, its digest, and per-blob outcome."""

    reference: str
    digest: str
    blobs: dict[str, str] = field(default_factory=dict)  # digest -> exists | mounted | uploaded
    seconds: float = 0.0
    # Set when the registry refused the OCI index and a Docker manifest list went up instead: why.
    docker_fallback: str | None = None

    @property
    def pinned(self) -> str:
        """``registry/repo@sha256:...``: the immutable name to deploy."""
        return f"{ImageReference.parse(self.reference).name}@{self.digest}"


def push(
    image: Image | Index,
    reference: str | ImageReference,
    client: RegistryClient,
    *,
    mount_from: Iterable[str] = (),
    progress: Progress | None = None,
    jobs: int = PARALLEL_UPLOADS,
) -> PushResult:
    """Upload ``image`` (or an index and its images) to ``reference``; tag last.

    Blobs go up ``jobs`` at a time; manifests only after every blob is in place.
    """
    ref = reference if isinstance(reference, ImageReference) else ImageReference.parse(reference)
    if ref.digest is not None and ref.digest != image.digest:
        raise RegistryError(f"cannot push {image.digest} to {ref}: the reference pins another digest")
    start = time.monotonic()
    mounts = tuple(mount_from)
    images = image.images if isinstance(image, Index) else (image,)
    blobs: dict[Digest, tuple[int, Callable[[], IO[bytes]]]] = {}
    for img in images:
        for layer in img.layers:
            blobs.setdefault(layer.digest, (layer.size, layer.open))
        cfg = img.config_descriptor
        blobs.setdefault(cfg.digest, (cfg.size, lambda data=img.config_bytes: io.BytesIO(data)))
    client.ping(ref)  # settle the scheme once, before the workers start

    def upload(item: tuple[Digest, tuple[int, Callable[[], IO[bytes]]]]) -> tuple[str, str]:
        digest, (size, opener) = item
        status = client.upload_blob(ref, digest, size, opener, mount_from=mounts, progress=progress)
        return str(digest), status

    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(blobs)))) as pool:
        outcome = dict(pool.map(upload, blobs.items()))
    if not isinstance(image, Index):
        client.put_manifest(ref, ref.tag or str(image.digest), image.manifest_bytes, image.media_type)
        shown = ref.with_tag(ref.tag) if ref.tag else ref.with_digest(image.digest)
        return PushResult(str(shown), str(image.digest), outcome, time.monotonic() - start)
    why = None
    try:
        _put_index(client, ref, image)
    except RegistryError as exc:
        if image.media_type != mediatypes.OCI_INDEX or ref.digest is not None or not refuses_oci_index(exc):
            raise
        # The same blobs under Docker media types: a manifest list is what such a registry takes.
        why = f"{ref.registry} refused the OCI index ({exc.message}): pushed a Docker manifest list"
        image = docker_index(image)
        _put_index(client, ref, image)
    shown = ref.with_tag(ref.tag) if ref.tag else ref.with_digest(image.digest)
    return PushResult(str(shown), str(image.digest), outcome, time.monotonic() - start, docker_fallback=why)


def _put_index(client: RegistryClient, ref: ImageReference, index: Index) -> None:
    """Each platform's manifest by digest, then the index under the tag (or its digest)."""
    for img in index.images:
        client.put_manifest(ref, str(img.digest), img.manifest_bytes, img.media_type)
    client.put_manifest(ref, ref.tag or str(index.digest), index.index_bytes, index.media_type)


def pull(
    reference: str | ImageReference,
    client: RegistryClient,
    *,
    cache_dir: Path | None = None,
) -> Image | Index:
    """Fetch an image or index (all its platforms) with verified blobs cached under ``cache_dir``."""
    ref = reference if isinstance(reference, ImageReference) else ImageReference.parse(reference)
    cache = cache_dir or default_cache_dir()
    top = client.get_manifest(ref)
    if top.media_type in mediatypes.INDEX_TYPES:
        doc = parse_json(top.data, what=f"index {ref}")
        images = [_pull_image(ref, client, d.digest, cache) for d in _index_entries(doc, ref)]
        return Index(top.data, tuple(images))
    return _image_from_manifest(ref, client, top.data, top.media_type, cache)


def pull_image(
    reference: str | ImageReference,
    client: RegistryClient,
    *,
    platform: Platform | str | None = None,
    cache_dir: Path | None = None,
) -> Image:
    """Fetch one image; for an index, only the entry matching ``platform`` (default: this machine)."""
    ref = reference if isinstance(reference, ImageReference) else ImageReference.parse(reference)
    cache = cache_dir or default_cache_dir()
    top = client.get_manifest(ref)
    if top.media_type not in mediatypes.INDEX_TYPES:
        return _image_from_manifest(ref, client, top.data, top.media_type, cache)
    doc = parse_json(top.data, what=f"index {ref}")
    want = str(platform or default_platform())
    entries = _index_entries(doc, ref)
    for d in entries:
        p = d.platform
        if p is not None and (str(p) == want or f"{p.os}/{p.architecture}" == want):
            return _pull_image(ref, client, d.digest, cache)
    have = ", ".join(str(d.platform) for d in entries if d.platform) or "none"
    raise ImageFormatError(f"{ref} has no image for platform {want}", hint=f"available: {have}")


def default_cache_dir() -> Path:
    """``$GOSLIM_CACHE`` or ``$XDG_CACHE_HOME/goslim`` or ``~/.cache/goslim``: verified pulled blobs."""
    return cache_root()


def _index_entries(doc: Any, ref: ImageReference) -> list[Descriptor]:
    """The index's platform images: buildx's attestation manifests (unknown/unknown) are never pulled."""
    return [d for d in index_entries(doc, where=f"index {ref}") if is_platform_image(d)]


def _pull_image(ref: ImageReference, client: RegistryClient, digest: Digest, cache: Path) -> Image:
    got = client.get_manifest(ref, str(digest))
    return _image_from_manifest(ref, client, got.data, got.media_type, cache)


def _image_from_manifest(ref: ImageReference, client: RegistryClient, data: bytes, media_type: str,
                         cache: Path) -> Image:
    if media_type not in mediatypes.MANIFEST_TYPES:
        raise ImageFormatError(f"{ref} is a '{media_type}', not an image",
                               hint="pull an image or image index")
    doc = parse_json(data, what=f"manifest {ref}")
    if not isinstance(doc, dict):
        raise ImageFormatError(f"manifest {ref} is not a JSON object")
    cfg = Descriptor.from_dict(doc.get("config"), where=f"manifest {ref} config")
    config_bytes = client.fetch_config(ref, cfg)
    config = parse_json(config_bytes, what=f"config of {ref}")
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    diff_ids = (rootfs.get("diff_ids") if isinstance(rootfs, dict) else None) or []
    raw_layers = doc.get("layers") or []
    if not isinstance(diff_ids, list) or not isinstance(raw_layers, list):
        raise ImageFormatError(f"{ref}: manifest layers or config rootfs.diff_ids is not a list")
    if len(raw_layers) != len(diff_ids):
        raise ImageFormatError(f"{ref}: {len(raw_layers)} layers but {len(diff_ids)} diff_ids in its config")
    layers = []
    for i, raw in enumerate(raw_layers):
        d = Descriptor.from_dict(raw, where=f"manifest {ref} layer {i}")
        path = blob_path(cache, d.digest)
        if not _cached_ok(path, d):
            _download(ref, client, d, cache)
        layers.append(Layer(d.media_type, d.digest, Digest.parse(diff_ids[i]), d.size, path=path,
                            annotations=dict(d.annotations)))
    return Image(data, config_bytes, tuple(layers))


def _download(ref: ImageReference, client: RegistryClient, desc: Descriptor, cache: Path) -> None:
    """Stream one layer into the cache; a full disk or unwritable cache is one line, its temp file removed."""
    try:
        blob_path(cache, desc.digest).unlink(missing_ok=True)
        cache.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(cache).free
        if desc.size > free:
            raise BlobCacheError(f"cannot cache blob {desc.digest} of {ref}: it has {desc.size} bytes and "
                                 f"{cache} has {free} free", hint=_CACHE_HINT)
        write_blob(cache, desc.digest, desc.size, _IterReader(client.fetch_blob(ref, desc.digest, desc.size)))
    except OSError as exc:
        raise BlobCacheError(f"cannot write blob {desc.digest} to the cache {cache}: "
                             f"{(exc.strerror or str(exc)).lower()}", hint=_CACHE_HINT) from exc


_CACHE_HINT = "free space there or point GOSLIM_CACHE at a larger disk"


def _cached_ok(path: Path, desc: Descriptor) -> bool:
    """A cached blob is reused only if it still hashes to its digest."""
    if not (path.is_file() and path.stat().st_size == desc.size):
        return False
    try:
        with open(path, "rb") as fh:
            desc.digest.verify_stream(fh, desc.size)
    except BlobError:
        return False
    return True


class _IterReader(io.RawIOBase):
    """A read()-able view of an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            nxt = next(self._chunks, None)
            if nxt is None:
                break
            self._buf += nxt
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out
