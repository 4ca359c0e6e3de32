"""Measured sizes of an image: what a registry transfers and what it takes on disk."""

from __future__ import annotations

import tarfile
import zlib

import zstandard
from pydantic import BaseModel, ConfigDict

from goslim.oci.errors import BlobError
from goslim.oci.image import Image
from goslim.oci.layer import Layer


class LayerStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    digest: str
    media_type: str
    size: int  # compressed bytes (pulled)
    tar_size: int  # uncompressed tar bytes
    content_bytes: int  # bytes of regular files
    files: int  # regular files
    entries: int  # all tar entries
    created_by: str = ""


class ImageStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    pull_size: int  # manifest + config + compressed layers
    disk_size: int  # uncompressed layer tars
    content_bytes: int
    files: int
    layers: list[LayerStats]


def layer_stats(layer: Layer, created_by: str = "") -> LayerStats:
    """Stream one layer's tar and count its files and bytes."""
    files = entries = content = tar_size = 0
    try:
        with layer.open_uncompressed() as raw:
            counter = _CountingReader(raw)
            with tarfile.open(fileobj=counter, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    entries += 1
                    if member.isreg():
                        files += 1
                        content += member.size
            while counter.read(1 << 20):
                pass  # count the end-of-archive padding too
            tar_size = counter.count
    except (tarfile.TarError, OSError, EOFError, zlib.error, zstandard.ZstdError) as exc:
        raise BlobError(f"layer {layer.digest} is not a readable tar: {exc}",
                        hint="the blob is corrupt or its media type is wrong") from exc
    return LayerStats(digest=str(layer.digest), media_type=layer.media_type, size=layer.size,
                      tar_size=tar_size, content_bytes=content, files=files, entries=entries,
                      created_by=created_by)


def image_stats(image: Image) -> ImageStats:
    """Pull size, disk size and file counts of ``image``, measured from its blobs."""
    history = [h for h in image.config.get("history") or [] if not h.get("empty_layer")]
    layers = [
        layer_stats(layer, str(history[i].get("created_by", "")) if i < len(history) else "")
        for i, layer in enumerate(image.layers)
    ]
    return ImageStats(
        pull_size=image.size,
        disk_size=sum(la.tar_size for la in layers),
        content_bytes=sum(la.content_bytes for la in layers),
        files=sum(la.files for la in layers),
        layers=layers,
    )


class _CountingReader:
    """A read-only stream wrapper that counts bytes read through it."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        self.count += len(data)
        return data
