"""Which entries of an image index are platform images, and which only ride along.

buildx pushes an attestation manifest beside each image (``platform`` unknown/unknown, annotation
``vnd.docker.reference.type: attestation-manifest``). It is a manifest, but no platform's image:
never pulled, run, signed or picked for a platform; the index keeps it untouched.
"""

from __future__ import annotations

from goslim.oci import mediatypes
from goslim.oci.descriptor import Descriptor
from goslim.oci.errors import ImageFormatError

# buildx's attestation manifests: index entries with platform unknown/unknown that point at an image.
REFERENCE_TYPE = "vnd.docker.reference.type"
ATTESTATION_MANIFEST = "attestation-manifest"


def is_platform_image(desc: Descriptor) -> bool:
    """Is this index entry an image for a platform (not buildx's attestation manifest, not unknown/unknown)?

    Only these are pulled, run, signed or picked for a platform; the others ride along untouched.
    """
    if desc.media_type not in mediatypes.MANIFEST_TYPES:
        return False
    if desc.annotations.get(REFERENCE_TYPE) == ATTESTATION_MANIFEST:
        return False
    return desc.platform is None or "unknown" not in (desc.platform.os, desc.platform.architecture)


def index_entries(doc: object, *, where: str) -> list[Descriptor]:
    """The descriptors of an index document's ``manifests`` list (checked to be a list of objects)."""
    entries = doc.get("manifests") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ImageFormatError(f"{where} has no manifests list")
    return [Descriptor.from_dict(d, where=f"{where} entry {i}") for i, d in enumerate(entries)]
