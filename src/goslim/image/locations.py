"""Reading bases from and writing images to locations in skopeo's words, through goslim.oci.

``oci:PATH[:TAG]``, ``docker-archive:PATH`` or a registry reference ``HOST/REPO[:TAG|@DIGEST]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from goslim import oci
from goslim.errors import UserInputError
from goslim.oci.image import Image, Index
from goslim.oci.reference import ImageLocation
from goslim.platform import Platform

DEFAULT_IMAGE_DIR = "image"


def read_base_image(location: str, platform: Platform) -> Image:
    """The image for ``platform`` at ``location`` (an index is narrowed to that platform)."""
    reader = getattr(oci, "read_image", None)
    if reader is not None:
        return reader(location, platform)
    loc = ImageLocation.parse(location)
    if loc.kind == "oci":
        assert loc.path is not None
        if not loc.path.is_dir():
            raise UserInputError(f"no OCI layout at {loc.path}",
                                 hint="give oci:PATH[:TAG] of an existing layout")
        return oci.read_layout_image(loc.path, loc.tag, platform)
    raise _missing(f"reading {loc.kind} images")


def write_image(location: str, image: Image, *, tag: str, name: str) -> str:
    """Write ``image`` to ``location``, adding ``tag`` where the location names none; returns where."""
    loc = ImageLocation.parse(location)
    if loc.kind == "oci":
        assert loc.path is not None
        oci.write_oci_layout(loc.path, image, loc.tag or tag)
        return f"oci:{loc.path}:{loc.tag or tag}"
    if loc.kind == "docker-archive":
        assert loc.path is not None
        writer = _need("write_docker_archive", "writing docker-archive")
        repo_tag = f"{name}:{tag}"
        writer(loc.path, image, repo_tags=(repo_tag,))
        return f"docker-archive:{loc.path} ({repo_tag})"
    assert loc.reference is not None
    ref = loc.reference if (loc.reference.tag or loc.reference.digest) else loc.reference.with_tag(tag)
    push = _need("push", "pushing to a registry")
    client = _need("RegistryClient", "pushing to a registry")()
    push(image, str(ref), client)
    return f"{ref}@{image.digest}"


def default_location(directory: Path, out: str) -> str:
    """``oci:<module>/<build.out>/image``: beside the binaries goslim builds."""
    return f"oci:{directory / out / DEFAULT_IMAGE_DIR}"


def _need(name: str, what: str) -> Any:
    found = getattr(oci, name, None)
    if found is None:
        raise _missing(what)
    return found


def _missing(what: str) -> UserInputError:
    return UserInputError(f"{what} is not available in this build of goslim.oci",
                          hint="use an OCI layout: oci:PATH[:TAG]")


__all__ = ["Image", "Index", "default_location", "read_base_image", "write_image"]
