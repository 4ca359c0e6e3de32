"""Reading bases from and writing images to locations in skopeo's words, through goslim.oci.

``oci:PATH[:TAG]``, ``docker-archive:PATH`` or a registry reference ``HOST/REPO[:TAG|@DIGEST]``.
"""

from __future__ import annotations

from pathlib import Path

from goslim import oci
from goslim.errors import UserInputError
from goslim.oci.image import Image, Index
from goslim.oci.layout import default_platform
from goslim.oci.reference import ImageLocation
from goslim.platform import Platform

DEFAULT_IMAGE_DIR = "image"


def read_base_image(location: str, platform: Platform) -> Image:
    """The image for ``platform`` at ``location`` (an index is narrowed to that platform)."""
    loc = ImageLocation.parse(location)
    if loc.kind in ("oci", "docker-archive") and loc.path is not None and not loc.path.exists():
        raise UserInputError(f"base {location}: {loc.path} does not exist",
                             hint="give an existing OCI layout (oci:DIR[:TAG]) or docker-archive tarball")
    return oci.read_image(loc, platform)


def write_image(location: str, image: Image | Index, *, tag: str, name: str) -> str:
    """Write ``image`` (or an index) to ``location``, adding ``tag`` where the location names none.

    Returns where it went; a docker-archive holds one image, so an index gives it this machine's
    platform (else the first) and the returned text says which.
    """
    loc = ImageLocation.parse(location)
    if loc.kind == "docker-archive" and isinstance(image, Index):
        chosen = archive_choice(image)
        where = write_image(location, chosen, tag=tag, name=name)
        return f"{where[:-1]}, {chosen.platform} only of {len(image.images)} platforms)"
    if loc.kind == "oci":
        assert loc.path is not None
        oci.write_oci_layout(loc.path, image, loc.tag or tag)
        return f"oci:{loc.path}:{loc.tag or tag}"
    if loc.kind == "docker-archive":
        assert loc.path is not None
        repo_tag = f"{name}:{tag}"
        oci.write_docker_archive(loc.path, image, (repo_tag,))
        return f"docker-archive:{loc.path} ({repo_tag})"
    assert loc.reference is not None
    ref = loc.reference if (loc.reference.tag or loc.reference.digest) else loc.reference.with_tag(tag)
    digest = oci.write_image(ImageLocation("registry", reference=ref), image)
    return f"{ref}@{digest}"


def archive_choice(index: Index) -> Image:
    """What a docker-archive (one image) gets of an index: this machine's platform, else the first."""
    here = default_platform()
    for img in index.images:
        if (img.platform.os, img.platform.architecture) == (here.os, here.architecture):
            return img
    return index.images[0]


def default_location(directory: Path, out: str) -> str:
    """``oci:<module>/<build.out>/image``: beside the binaries goslim builds."""
    return f"oci:{(directory / out if out else directory) / DEFAULT_IMAGE_DIR}"
