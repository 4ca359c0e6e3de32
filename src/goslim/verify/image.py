"""Verify an image by location (or an ``Image`` value): read it with goslim.oci, unpack, run the checklist."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from goslim import oci
from goslim.errors import UserInputError
from goslim.oci.image import Image, Index
from goslim.platform import Platform
from goslim.verify.models import Checklist, VerifyOptions
from goslim.verify.runtime import OciRuntime
from goslim.verify.verify import Progress, host_architecture, verify_rootfs

ROOTFS_PREFIX = "goslim-verify-rootfs-"


def load_image(location: str) -> Image:
    """The image at ``location`` for this machine's platform (an index is narrowed to it)."""
    here = Platform(os="linux", architecture=host_architecture())
    reader = getattr(oci, "read_image", None)
    image = reader(location, here) if reader is not None else _read_without_read_image(location, here)
    if isinstance(image, Index):
        image = image.image_for(here)
    return image


def _read_without_read_image(location: str, here: Platform) -> Image | Index:
    from goslim.oci.reference import ImageLocation  # landed after goslim.oci's first commit

    loc = ImageLocation.parse(location)
    if loc.kind == "oci":
        assert loc.path is not None
        if not (loc.path / "index.json").is_file():
            raise UserInputError(
                f"no OCI layout at {loc.path}", hint="give oci:PATH[:TAG] of an existing layout"
            )
        return oci.read_layout_image(loc.path, loc.tag, here)
    if loc.kind == "docker-archive":
        from goslim.oci.archive import read_docker_archive

        assert loc.path is not None
        return read_docker_archive(loc.path)
    raise UserInputError(
        f"cannot read '{location}': registry support is not available in this build",
        hint="save the image with `skopeo copy` to oci:DIR and verify that",
    )


def verify_image(
    image: str | Image,
    options: VerifyOptions | None = None,
    *,
    runtime: OciRuntime | None = None,
    progress: Progress | None = None,
) -> Checklist:
    """Unpack ``image`` (a location such as ``oci:PATH[:TAG]`` or an ``Image``) and run the checklist."""
    options = options or VerifyOptions()
    label = image if isinstance(image, str) else f"image {image.digest}"
    if progress:
        progress("reading the image")
    img = load_image(image) if isinstance(image, str) else image
    if options.image_size_bytes is None:
        options = options.model_copy(update={"image_size_bytes": img.size})
    work = Path(tempfile.mkdtemp(prefix=ROOTFS_PREFIX))
    try:
        if progress:
            progress("unpacking layers")
        from goslim.oci.unpack import unpack_rootfs

        rootfs = work / "rootfs"
        unpack_rootfs(img, rootfs)
        checklist = verify_rootfs(
            rootfs, img.config, options, label=label, runtime=runtime, progress=progress
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return checklist.model_copy(update={"image_digest": str(img.digest)})
