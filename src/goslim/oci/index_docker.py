"""An image index as a Docker manifest list (v2.2) over Docker schema-2 manifests, for registries that
refuse the OCI index media type.

The blobs are the same bytes: the config is kept byte for byte (same image ID) and each gzip layer
only changes its media type, so a push after an OCI one uploads nothing new. Docker schema 2 has no
zstd layers and no annotations: zstd is refused in one line, annotations are dropped.
"""

from __future__ import annotations

from goslim.errors import UserInputError
from goslim.oci import mediatypes
from goslim.oci.errors import RegistryError
from goslim.oci.image import Image, Index

DOCKER_LAYER_FOR = {"gzip": mediatypes.DOCKER_LAYER_GZIP, "none": mediatypes.DOCKER_LAYER}
# What registries answer a manifest media type they do not take with (distribution: 400 MANIFEST_INVALID).
REFUSAL_CODES = frozenset({"MANIFEST_INVALID", "UNSUPPORTED", "MANIFEST_UNSUPPORTED"})


class DockerFormatError(UserInputError):
    """The image cannot be written as Docker schema 2 (zstd layers)."""


def docker_image(image: Image, *, where: str = "") -> Image:
    """The same image under Docker schema-2 media types (config bytes kept, layer blobs unchanged)."""
    if image.media_type == mediatypes.DOCKER_MANIFEST:
        return image
    zstd = [layer for layer in image.layers if layer.compression not in DOCKER_LAYER_FOR]
    if zstd:
        raise DockerFormatError(
            f"{where or image.platform}: a Docker manifest has no zstd layers ({len(zstd)} here)",
            hint="build with --compression gzip for a Docker manifest list, or push the OCI index")
    layers = [layer.with_media_type(DOCKER_LAYER_FOR[layer.compression]) for layer in image.layers]
    return Image.from_config_bytes(image.config_bytes, layers, docker_media_types=True)


def docker_index(index: Index) -> Index:
    """The index as a Docker manifest list over Docker schema-2 manifests, in the same platform order."""
    if index.media_type == mediatypes.DOCKER_MANIFEST_LIST:
        return index
    return Index.build([docker_image(img) for img in index.images], docker_media_types=True)


def refuses_oci_index(exc: RegistryError) -> bool:
    """Did the registry refuse a manifest for its media type (not for auth, limits or a broken link)?"""
    return exc.status == 415 or (exc.status == 400 and (exc.code or "").upper() in REFUSAL_CODES)
