"""A summary of an image at any location, fetching only manifests and config from registries."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from goslim.oci import mediatypes
from goslim.oci.archive import read_docker_archive
from goslim.oci.descriptor import Descriptor, parse_json
from goslim.oci.digest import Digest
from goslim.oci.errors import ImageFormatError
from goslim.oci.image import Image
from goslim.oci.index_entries import index_entries, is_platform_image
from goslim.oci.layout import default_platform, read_oci_layout
from goslim.oci.reference import ImageLocation, ImageReference
from goslim.oci.registry import RegistryClient
from goslim.oci.store import read_image
from goslim.platform import Platform


@dataclass(frozen=True)
class LayerSummary:
    digest: str
    diff_id: str
    size: int
    media_type: str


@dataclass(frozen=True)
class ImageSummary:
    """What ``goslim inspect`` shows: digest, platform, sizes, layers and the runtime config."""

    location: str
    digest: str
    media_type: str
    platform: str
    size: int
    config_digest: str
    created: str | None
    config: dict[str, Any]
    layers: tuple[LayerSummary, ...]
    platforms: tuple[str, ...] = ()  # every platform of the index, when the location is one
    index_digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def inspect_image(
    location: str, platform: Platform | str | None = None, client: RegistryClient | None = None
) -> ImageSummary:
    """Summarise the image at ``location`` (registry: manifests + config only, no layers)."""
    loc = ImageLocation.parse(location)
    if loc.kind == "docker-archive":
        assert loc.path is not None
        image = read_docker_archive(loc.path, verify_layers=False)  # manifest.json and config only
        return _summary(str(loc), image.manifest_bytes, image.config_bytes)
    if loc.kind == "oci":
        assert loc.path is not None
        found = read_oci_layout(loc.path, loc.tag)
        if isinstance(found, Image):
            return _summary(str(loc), found.manifest_bytes, found.config_bytes)
        image = found.image_for(platform or default_platform())
        summary = _summary(str(loc), image.manifest_bytes, image.config_bytes)
        return replace(summary, platforms=tuple(str(i.platform) for i in found.images),
                       index_digest=str(found.digest))
    if loc.kind != "registry":
        image = read_image(loc, platform)
        return _summary(str(loc), image.manifest_bytes, image.config_bytes)
    assert loc.reference is not None
    own = client is None
    active = client or RegistryClient()
    try:
        return _remote_summary(loc.reference, active, platform)
    finally:
        if own:
            active.close()


def _remote_summary(
    ref: ImageReference, client: RegistryClient, platform: Platform | str | None
) -> ImageSummary:
    top = client.get_manifest(ref)
    platforms: tuple[str, ...] = ()
    index_digest = None
    manifest = top
    if top.media_type in mediatypes.INDEX_TYPES:
        doc = parse_json(top.data, what=f"index {ref}")
        entries = [d for d in index_entries(doc, where=f"index {ref}") if is_platform_image(d) and d.platform]
        platforms = tuple(str(d.platform) for d in entries)
        want = str(platform or default_platform())
        chosen = next((d for d in entries if d.platform and (str(d.platform) == want or
                       f"{d.platform.os}/{d.platform.architecture}" == want)), None)
        if chosen is None:
            raise ImageFormatError(f"{ref} has no image for platform {want}",
                                   hint=f"available: {', '.join(platforms) or 'none'}")
        index_digest = str(top.digest)
        manifest = client.get_manifest(ref, str(chosen.digest))
    if manifest.media_type not in mediatypes.MANIFEST_TYPES:
        raise ImageFormatError(f"{ref} is a '{manifest.media_type}', not an image")
    doc = parse_json(manifest.data, what=f"manifest {ref}")
    cfg = Descriptor.from_dict(doc.get("config"), where=f"manifest {ref} config")
    config_bytes = client.fetch_config(ref, cfg)
    summary = _summary(str(ref), manifest.data, config_bytes)
    return ImageSummary(**{**summary.__dict__, "platforms": platforms, "index_digest": index_digest})


def _summary(location: str, manifest_bytes: bytes, config_bytes: bytes) -> ImageSummary:
    manifest = parse_json(manifest_bytes, what="manifest")
    config = parse_json(config_bytes, what="config")
    if not isinstance(manifest, dict) or not isinstance(config, dict):
        raise ImageFormatError(f"{location}: the manifest or the config is not a JSON object")
    raw_layers = manifest.get("layers") or []
    if not isinstance(raw_layers, list):
        raise ImageFormatError(f"{location}: manifest layers is not a list")
    descs = [Descriptor.from_dict(d, where="manifest layer") for d in raw_layers]
    rootfs = config.get("rootfs")
    diff_ids = (rootfs.get("diff_ids") if isinstance(rootfs, dict) else None) or []
    if not isinstance(diff_ids, list):
        diff_ids = []
    layers = tuple(LayerSummary(str(d.digest), str(diff_ids[i]) if i < len(diff_ids) else "", d.size,
                                d.media_type) for i, d in enumerate(descs))
    cfg_desc = Descriptor.from_dict(manifest.get("config"), where="manifest config")
    # Strings only: a hostile config may put lists or numbers where the spec says string.
    platform = "/".join(str(x) for x in (config.get("os"), config.get("architecture"), config.get("variant"))
                        if x)
    runtime = config.get("config")
    created = config.get("created")
    size = len(manifest_bytes) + len(config_bytes) + sum(la.size for la in layers)
    return ImageSummary(location, str(Digest.of_bytes(manifest_bytes)),
                        str(manifest.get("mediaType") or mediatypes.OCI_MANIFEST), platform, size,
                        str(cfg_desc.digest), None if created is None else str(created),
                        dict(runtime) if isinstance(runtime, dict) else {}, layers)
