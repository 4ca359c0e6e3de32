"""Reading bases from and writing images to locations in skopeo's words, through goslim.oci.

``oci:PATH[:TAG]``, ``docker-archive:PATH`` or a registry reference ``HOST/REPO[:TAG|@DIGEST]``.
"""

from __future__ import annotations

from pathlib import Path

from goslim import oci
from goslim.errors import UserInputError
from goslim.oci.image import Image
from goslim.platform import Platform


def read_base_image(location: str, platform: Platform) -> Image:
    """The image for ``platform`` at ``location`` (an index is narrowed to that platform)."""
    reader = getattr(oci, "read_image", None)
    if reader is not None:
        return reader(location, platform)
    if location.startswith("oci:"):
        path, tag = split_oci(location)
        return oci.read_layout_image(path, tag, platform)
    raise UserInputError(f"cannot read base '{location}' yet: only oci:PATH bases are supported",
                         hint="copy the base into an OCI layout first: skopeo copy docker://REF oci:DIR:TAG")


def write_image(location: str, image: Image) -> str:
    """Write ``image`` to ``location``; returns a short description of where it went."""
    writer = getattr(oci, "write_image", None)
    if writer is not None:
        writer(location, image)
        return location
    if location.startswith("oci:"):
        path, tag = split_oci(location)
        oci.write_oci_layout(path, image, tag)
        return location
    raise UserInputError(f"cannot write to '{location}' yet: only oci:PATH[:TAG] is supported")


def split_oci(location: str) -> tuple[Path, str | None]:
    """``oci:PATH[:TAG]`` -> (PATH, TAG)."""
    rest = location.removeprefix("oci:")
    path, sep, tag = rest.rpartition(":")
    if sep and tag and "/" not in tag:
        return Path(path), tag
    return Path(rest), None
