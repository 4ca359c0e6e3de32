"""Turn an image location string into the store that signing and attaching write to."""

from __future__ import annotations

from goslim.errors import UserInputError
from goslim.oci import ImageLocation, RegistryClient
from goslim.sign.registry_store import RegistryStore
from goslim.sign.store import ImageStore, LayoutLocation, OciLayoutStore


def open_store(location: str, client: RegistryClient | None = None) -> ImageStore:
    """``oci:DIR[:TAG]`` → the layout on disk; ``HOST/REPO[:TAG|@DIGEST]`` → the registry."""
    loc = ImageLocation.parse(location)
    if loc.kind == "oci":
        assert loc.path is not None
        return OciLayoutStore(LayoutLocation(loc.path, loc.tag))
    if loc.kind == "registry":
        assert loc.reference is not None
        return RegistryStore(loc.reference, client)
    raise UserInputError(
        f"cannot attach signatures or SBOMs to a {loc.kind}",
        where=location,
        hint="they live beside an image in an OCI layout (oci:DIR) or a registry: put it there first",
    )
