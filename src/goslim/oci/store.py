"""Read and write images by location word: ``oci:PATH[:TAG]``, ``docker-archive:PATH``, or a registry."""

from __future__ import annotations

from pathlib import Path

from goslim.errors import UserInputError
from goslim.oci.archive import read_docker_archive, write_docker_archive
from goslim.oci.image import Image, Index
from goslim.oci.layout import read_layout_image, write_oci_layout
from goslim.oci.reference import ImageLocation
from goslim.oci.registry import RegistryClient
from goslim.oci.remote import PushResult, pull_image, push
from goslim.platform import Platform


def read_image(
    location: str | ImageLocation,
    platform: Platform | str | None = None,
    client: RegistryClient | None = None,
    *,
    cache_dir: Path | None = None,
) -> Image:
    """Load one image from any location; an index is narrowed to ``platform`` (default: this machine)."""
    loc = location if isinstance(location, ImageLocation) else ImageLocation.parse(location)
    if loc.kind == "oci":
        assert loc.path is not None
        return read_layout_image(loc.path, loc.tag, platform)
    if loc.kind == "docker-archive":
        assert loc.path is not None
        return read_docker_archive(loc.path)
    assert loc.reference is not None
    own = client is None
    active = client or RegistryClient()
    try:
        return pull_image(loc.reference, active, platform=platform, cache_dir=cache_dir)
    finally:
        if own:
            active.close()


def write_image(
    location: str | ImageLocation,
    image: Image | Index,
    client: RegistryClient | None = None,
    *,
    repo_tags: tuple[str, ...] = (),
) -> str:
    """Write to any location; returns the digest written (manifest or index digest)."""
    loc = location if isinstance(location, ImageLocation) else ImageLocation.parse(location)
    if loc.kind == "oci":
        assert loc.path is not None
        return str(write_oci_layout(loc.path, image, loc.tag).digest)
    if loc.kind == "docker-archive":
        assert loc.path is not None
        if isinstance(image, Index):
            raise UserInputError("a docker-archive holds one image, not a multi-platform index",
                                 hint="write an oci: layout or push to a registry instead")
        write_docker_archive(loc.path, image, repo_tags)
        return str(image.digest)
    assert loc.reference is not None
    own = client is None
    active = client or RegistryClient()
    try:
        result: PushResult = push(image, loc.reference, active)
    finally:
        if own:
            active.close()
    return result.digest
