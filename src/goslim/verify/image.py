"""Verify an image by location (or an ``Image`` value): read it with goslim.oci, unpack, run the checklist."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from goslim import interrupt, oci
from goslim.oci.image import Image
from goslim.oci.reference import ImageLocation
from goslim.verify.models import Checklist, VerifyOptions
from goslim.verify.runtime import ROOTFS_PREFIX, OciRuntime
from goslim.verify.userns import user_namespace
from goslim.verify.verify import Progress, verify_rootfs


def load_image(location: str) -> Image:
    """The image at ``location`` (an index is narrowed to this machine's platform)."""
    return oci.read_image(location)


def _stored_bytes(image: object) -> int | None:
    """The size of a docker-archive file: its layers may be stored compressed as a whole."""
    if isinstance(image, str) and image.startswith("docker-archive:"):
        path = ImageLocation.parse(image).path
        with contextlib.suppress(OSError):
            return path.stat().st_size if path is not None else None
    return None


def verify_image(
    image: str | Image | Any,
    options: VerifyOptions | None = None,
    *,
    runtime: OciRuntime | None = None,
    progress: Progress | None = None,
) -> Checklist:
    """Unpack ``image`` and run the checklist on it.

    ``image`` is a location (``oci:PATH[:TAG]``, ``docker-archive:PATH``, ``HOST/REPO[:TAG]``), a
    ``goslim.oci.Image``, or anything carrying one as ``.image`` (goslim.image's ``AssembledImage``).
    """
    options = options or VerifyOptions()
    step = progress or (lambda _s: None)
    step("reading the image")
    t0 = time.monotonic()
    if isinstance(image, str):
        label, img = image, load_image(image)
    else:
        img = getattr(image, "image", image)
        label = f"image {img.digest}"
    if options.image_size_bytes is None:
        options = options.model_copy(update={"image_size_bytes": img.size})
    userns = user_namespace(Path(tempfile.gettempdir()))
    shift = userns.id_map.host_id if userns.id_map else None
    work = Path(tempfile.mkdtemp(prefix=f"{ROOTFS_PREFIX}{os.getpid()}-"))
    try:
        step("unpacking layers")
        rootfs = work / "rootfs"
        unpacked = oci.unpack_rootfs(img, rootfs, id_shift=shift or 0, stored_bytes=_stored_bytes(image))
        if shift is not None:
            options = options.model_copy(update={"rootfs_id_shift": shift})
            os.chmod(work, 0o711)  # the container's root (an unprivileged host id) must reach the rootfs
            if os.lstat(rootfs).st_uid == 0:  # no "./" entry in the layers: "/" owned by the container's root
                os.chown(rootfs, shift, shift, follow_symlinks=False)
        unpack_seconds = time.monotonic() - t0
        checklist = verify_rootfs(
            rootfs, img.config, options, label=label, runtime=runtime, progress=progress,
            unpacked_bytes=unpacked.bytes,
        )
    finally:
        with interrupt.shielded():  # a Ctrl-C cannot cut the removal of the rootfs short
            shutil.rmtree(work, ignore_errors=True)
    phases = {"read+unpack": round(unpack_seconds, 4), **checklist.phase_seconds}
    return checklist.model_copy(
        update={
            "image_digest": str(img.digest),
            "phase_seconds": phases,
            "seconds": round(checklist.seconds + unpack_seconds, 3),
        }
    )
