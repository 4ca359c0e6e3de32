"""Which platforms an image location offers: the entries of its index, or the one image's platform.

``goslim image --platform all`` on a pulled base means "the platforms the base offers" (as ko does);
this answers that without pulling any layer of a registry index.
"""

from __future__ import annotations

from goslim.oci import mediatypes
from goslim.oci.archive import read_docker_archive
from goslim.oci.descriptor import parse_json
from goslim.oci.image import Image
from goslim.oci.index_entries import index_entries, is_platform_image
from goslim.oci.layout import read_oci_layout
from goslim.oci.reference import ImageLocation
from goslim.oci.registry import RegistryClient
from goslim.oci.remote import pull_image
from goslim.platform import SUPPORTED, Platform


def available_platforms(
    location: str | ImageLocation, client: RegistryClient | None = None
) -> tuple[Platform, ...]:
    """The platforms goslim can build for that ``location`` holds an image for, in the index's order.

    Entries goslim does not target (``unknown/unknown`` attestations, windows) are left out.
    """
    loc = location if isinstance(location, ImageLocation) else ImageLocation.parse(location)
    if loc.kind == "oci":
        assert loc.path is not None
        found = read_oci_layout(loc.path, loc.tag)
        found_platforms = [found.platform] if isinstance(found, Image) else [i.platform for i in found.images]
        return _supported(found_platforms)
    if loc.kind == "docker-archive":
        assert loc.path is not None
        return _supported([read_docker_archive(loc.path, verify_layers=False).platform])
    assert loc.reference is not None
    own = client is None
    active = client or RegistryClient()
    try:
        top = active.get_manifest(loc.reference)
        if top.media_type not in mediatypes.INDEX_TYPES:
            return _supported([pull_image(loc.reference, active).platform])
        doc = parse_json(top.data, what=f"index {loc.reference}")
        images = [d for d in index_entries(doc, where=f"index {loc.reference}") if is_platform_image(d)]
        return _supported([d.platform for d in images if d.platform is not None])
    finally:
        if own:
            active.close()


def _supported(platforms: list[Platform]) -> tuple[Platform, ...]:
    seen: dict[str, Platform] = {}
    for p in platforms:
        if f"{p.os}/{p.architecture}" in SUPPORTED:
            seen.setdefault(str(p), p)
    return tuple(seen.values())
