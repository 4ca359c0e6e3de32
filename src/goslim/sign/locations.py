"""Turn an image location string into the store that signing and attaching write to."""

from __future__ import annotations

from goslim.errors import UserInputError
from goslim.sign.store import ImageStore, OciLayoutStore, parse_layout_location


def open_store(location: str) -> ImageStore:
    """``oci:DIR[:TAG]`` → the layout on disk; ``HOST/REPO[:TAG|@DIGEST]`` → the registry."""
    layout = parse_layout_location(location)
    if layout is not None:
        return OciLayoutStore(layout)
    if location.startswith(("docker-archive:", "docker-daemon:", "dir:")):
        raise UserInputError(
            f"cannot attach signatures to {location.split(':', 1)[0]}",
            where=location,
            hint="signatures live beside an image in an OCI layout (oci:DIR) or a registry",
        )
    from goslim.sign.registry_store import RegistryStore  # noqa: PLC0415 (late: HTTP client)

    return RegistryStore.open(location)
