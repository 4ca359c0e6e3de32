"""Images and indexes: immutable values whose raw JSON bytes are canonical and hashed once.

An ``Image`` holds the exact manifest and config bytes plus its layers; its digest is
the sha256 of the manifest bytes, computed when the object is made. Changing an image
(``with_layers``) returns a new one. An ``Index`` groups per-platform images.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from goslim.oci import mediatypes
from goslim.oci.descriptor import Descriptor, canonical_json, parse_json, platform_from_dict
from goslim.oci.digest import Digest
from goslim.oci.errors import ImageFormatError
from goslim.oci.index_entries import is_platform_image
from goslim.oci.layer import Layer, source_date_epoch
from goslim.platform import Platform

EPOCH_RFC3339 = "1970-01-01T00:00:00Z"


def rfc3339(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_config(
    platform: Platform,
    *,
    entrypoint: Sequence[str] | None = None,
    cmd: Sequence[str] | None = None,
    env: Mapping[str, str] | Sequence[str] | None = None,
    user: str | None = None,
    workdir: str | None = None,
    exposed_ports: Iterable[int | str] = (),
    labels: Mapping[str, str] | None = None,
    stop_signal: str | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    """An OCI image config dict (without rootfs; ``Image.build`` fills diff_ids).

    ``created`` defaults to SOURCE_DATE_EPOCH (else 0) so the config is reproducible.
    """
    cfg: dict[str, Any] = {}
    if env:
        cfg["Env"] = list(env) if not isinstance(env, Mapping) else [f"{k}={v}" for k, v in env.items()]
    if entrypoint:
        cfg["Entrypoint"] = list(entrypoint)
    if cmd:
        cfg["Cmd"] = list(cmd)
    if user:
        cfg["User"] = user
    if workdir:
        cfg["WorkingDir"] = workdir
    ports = {p if "/" in str(p) else f"{p}/tcp": {} for p in (str(x) for x in exposed_ports)}
    if ports:
        cfg["ExposedPorts"] = ports
    if labels:
        cfg["Labels"] = dict(labels)
    if stop_signal:
        cfg["StopSignal"] = stop_signal
    out: dict[str, Any] = {
        "architecture": platform.architecture,
        "os": platform.os,
        "created": rfc3339(source_date_epoch() if created is None else created),
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    }
    if platform.variant:
        out["variant"] = platform.variant
    return out


def history_entry(created_by: str, *, created: int | None = None, empty_layer: bool = False,
                  comment: str | None = None) -> dict[str, Any]:
    """One config history record (``empty_layer`` for steps that add no layer)."""
    entry: dict[str, Any] = {
        "created": rfc3339(source_date_epoch() if created is None else created),
        "created_by": created_by,
    }
    if comment:
        entry["comment"] = comment
    if empty_layer:
        entry["empty_layer"] = True
    return entry


@dataclass(frozen=True)
class Image:
    """One platform's image: exact manifest bytes, config bytes, and its layers (base first)."""

    manifest_bytes: bytes = field(repr=False)
    config_bytes: bytes = field(repr=False)
    layers: tuple[Layer, ...]
    digest: Digest = field(init=False)
    manifest: dict[str, Any] = field(init=False, repr=False, compare=False)
    config: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        manifest = parse_json(self.manifest_bytes, what="image manifest")
        config = parse_json(self.config_bytes, what="image config")
        _check_image(manifest, config, self.config_bytes, self.layers)
        object.__setattr__(self, "manifest", manifest)
        object.__setattr__(self, "config", config)
        object.__setattr__(self, "digest", Digest.of_bytes(self.manifest_bytes))

    @classmethod
    def build(
        cls,
        config: Mapping[str, Any],
        layers: Sequence[Layer],
        *,
        annotations: Mapping[str, str] | None = None,
        docker_media_types: bool = False,
    ) -> Image:
        """Serialise ``config`` (diff_ids from ``layers``) and a manifest; OCI media types by default."""
        cfg = copy.deepcopy(dict(config))
        cfg["rootfs"] = {"type": "layers", "diff_ids": [str(layer.diff_id) for layer in layers]}
        history = cfg.get("history")
        if not history:
            cfg.pop("history", None)
        return cls.from_config_bytes(canonical_json(cfg), layers, annotations=annotations,
                                     docker_media_types=docker_media_types)

    @classmethod
    def from_config_bytes(
        cls,
        config_bytes: bytes,
        layers: Sequence[Layer],
        *,
        annotations: Mapping[str, str] | None = None,
        docker_media_types: bool = False,
    ) -> Image:
        """A manifest around exact config bytes (kept byte-for-byte, so the image ID is preserved)."""
        config_type = mediatypes.DOCKER_CONFIG if docker_media_types else mediatypes.OCI_CONFIG
        manifest_type = mediatypes.DOCKER_MANIFEST if docker_media_types else mediatypes.OCI_MANIFEST
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": Descriptor(config_type, Digest.of_bytes(config_bytes), len(config_bytes)).to_dict(),
            "layers": [layer.descriptor().to_dict() for layer in layers],
        }
        if annotations:
            manifest["annotations"] = dict(sorted(annotations.items()))
        return cls(canonical_json(manifest), config_bytes, tuple(layers))

    def with_layers(
        self,
        layers: Sequence[Layer],
        config_updates: Mapping[str, Any] | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
        *,
        annotations: Mapping[str, str] | None = None,
    ) -> Image:
        """A new image: these layers on top, ``config_updates`` merged into config.config,
        ``history`` appended (one record per new layer is added when not given)."""
        cfg = copy.deepcopy(self.config)
        inner = dict(cfg.get("config") or {})
        inner.update(config_updates or {})
        cfg["config"] = inner
        old_history = list(cfg.get("history") or [])
        if history is None:
            history = [history_entry("goslim: add layer") for _ in layers]
        cfg["history"] = old_history + [dict(h) for h in history]
        merged = dict(self.annotations)
        merged.update(annotations or {})
        docker = self.media_type == mediatypes.DOCKER_MANIFEST
        all_layers = [*self.layers, *layers]
        if docker:
            # One media-type family per manifest: some registries reject mixes.
            all_layers = [_as_docker(layer) for layer in all_layers]
        elif any(mt.startswith("application/vnd.docker") for mt in (la.media_type for la in self.layers)):
            all_layers = [_as_oci(layer) for layer in all_layers]
        return Image.build(cfg, all_layers, annotations=merged or None, docker_media_types=docker)

    @property
    def media_type(self) -> str:
        return str(self.manifest.get("mediaType") or mediatypes.OCI_MANIFEST)

    @property
    def config_descriptor(self) -> Descriptor:
        return Descriptor.from_dict(self.manifest["config"], where="manifest config")

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.manifest.get("annotations") or {})

    @property
    def platform(self) -> Platform:
        return platform_from_dict(self.config)

    @property
    def diff_ids(self) -> list[Digest]:
        return [layer.diff_id for layer in self.layers]

    @property
    def size(self) -> int:
        """Bytes a registry transfers: manifest + config + compressed layers."""
        return len(self.manifest_bytes) + len(self.config_bytes) + sum(la.size for la in self.layers)

    def descriptor(
        self, annotations: Mapping[str, str] | None = None, *, with_platform: bool = False
    ) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.manifest_bytes), dict(annotations or {}),
                          self.platform if with_platform else None)

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly description (for --json output and reports)."""
        return {
            "digest": str(self.digest),
            "media_type": self.media_type,
            "platform": str(self.platform),
            "size": self.size,
            "config_digest": str(self.config_descriptor.digest),
            "layers": [{"digest": str(la.digest), "diff_id": str(la.diff_id), "size": la.size,
                        "media_type": la.media_type} for la in self.layers],
        }


@dataclass(frozen=True)
class Index:
    """A multi-platform image: exact index bytes plus the images it lists."""

    index_bytes: bytes = field(repr=False)
    images: tuple[Image, ...]
    digest: Digest = field(init=False)
    index: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", tuple(self.images))
        data = parse_json(self.index_bytes, what="image index")
        if not isinstance(data, dict) or data.get("schemaVersion") != 2:
            raise ImageFormatError("image index needs schemaVersion 2")
        if not isinstance(data.get("manifests") or [], list):
            raise ImageFormatError("image index manifests is not a list")
        manifests = [Descriptor.from_dict(d, where="index entry") for d in data.get("manifests") or []]
        known = {img.digest for img in self.images}
        for d in manifests:
            # buildx's attestation manifests ride along in the index bytes; they are no platform's image.
            if is_platform_image(d) and d.digest not in known:
                raise ImageFormatError(f"image index lists {d.digest} but that image is not present")
        object.__setattr__(self, "index", data)
        object.__setattr__(self, "digest", Digest.of_bytes(self.index_bytes))

    @classmethod
    def build(cls, images: Sequence[Image], *, annotations: Mapping[str, str] | None = None,
              docker_media_types: bool = False) -> Index:
        """An index over ``images`` with a platform on each entry (order kept)."""
        seen: set[str] = set()
        for img in images:
            key = str(img.platform)
            if key in seen:
                raise ImageFormatError(f"two images for platform {key} in one index")
            seen.add(key)
        data: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": mediatypes.DOCKER_MANIFEST_LIST if docker_media_types else mediatypes.OCI_INDEX,
            "manifests": [img.descriptor(with_platform=True).to_dict() for img in images],
        }
        if annotations:
            data["annotations"] = dict(sorted(annotations.items()))
        return cls(canonical_json(data), tuple(images))

    @property
    def media_type(self) -> str:
        return str(self.index.get("mediaType") or mediatypes.OCI_INDEX)

    def descriptor(self, annotations: Mapping[str, str] | None = None) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.index_bytes), dict(annotations or {}))

    def image_for(self, platform: Platform | str) -> Image:
        """The image for ``platform`` (first match wins, per the spec)."""
        want = str(platform)
        for img in self.images:
            got = img.platform
            if str(got) == want or (f"{got.os}/{got.architecture}" == want):
                return img
        have = ", ".join(str(i.platform) for i in self.images) or "none"
        raise ImageFormatError(f"no image for platform {want} in the index", hint=f"available: {have}")


def _as_docker(layer: Layer) -> Layer:
    kind = layer.compression
    if kind == "gzip":
        return layer.with_media_type(mediatypes.DOCKER_LAYER_GZIP)
    if kind == "none":
        return layer.with_media_type(mediatypes.DOCKER_LAYER)
    raise ImageFormatError("a zstd layer cannot go into a Docker schema 2 manifest",
                           hint="use gzip compression with Docker-typed bases")


def _as_oci(layer: Layer) -> Layer:
    return layer.with_media_type(mediatypes.OCI_LAYER_FOR[layer.compression])


def _check_image(manifest: Any, config: Any, config_bytes: bytes, layers: tuple[Layer, ...]) -> None:
    """Refuse an image whose manifest, config and layers disagree."""
    if not isinstance(manifest, dict) or manifest.get("schemaVersion") != 2:
        raise ImageFormatError("image manifest needs schemaVersion 2")
    media_type = manifest.get("mediaType", mediatypes.OCI_MANIFEST)
    if not isinstance(media_type, str) or media_type not in mediatypes.MANIFEST_TYPES:
        raise ImageFormatError(f"'{media_type}' is not an image manifest media type")
    if not isinstance(manifest.get("annotations") or {}, dict):
        raise ImageFormatError("image manifest annotations are not a JSON object")
    cfg_desc = Descriptor.from_dict(manifest.get("config"), where="manifest config")
    if cfg_desc.media_type not in mediatypes.CONFIG_TYPES:
        raise ImageFormatError(f"config media type '{cfg_desc.media_type}' is not an image config",
                               hint="artifacts (signatures, SBOMs) are not runnable images")
    cfg_desc.digest.verify_bytes(config_bytes, what="image config")
    if cfg_desc.size != len(config_bytes):
        raise ImageFormatError(
            f"image config {cfg_desc.digest} size {len(config_bytes)} != manifest {cfg_desc.size}"
        )
    raw_layers = manifest.get("layers")
    if not isinstance(raw_layers, list):
        raise ImageFormatError("image manifest has no layers list")
    descs = [Descriptor.from_dict(d, where=f"manifest layer {i}") for i, d in enumerate(raw_layers)]
    if len(descs) != len(layers):
        raise ImageFormatError(f"manifest lists {len(descs)} layers but {len(layers)} were given")
    for d, layer in zip(descs, layers, strict=True):
        if d.digest != layer.digest or d.size != layer.size:
            raise ImageFormatError(f"manifest layer {d.digest} does not match the layer blob {layer.digest}")
    if not isinstance(config, dict):
        raise ImageFormatError("image config is not a JSON object")
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, dict) or rootfs.get("type") != "layers":
        raise ImageFormatError("image config rootfs.type must be 'layers'")
    diff_ids = rootfs.get("diff_ids") or []
    if not isinstance(diff_ids, list):
        raise ImageFormatError("image config rootfs.diff_ids is not a list")
    if [str(x) for x in diff_ids] != [str(la.diff_id) for la in layers]:
        raise ImageFormatError("image config rootfs.diff_ids do not match the layers",
                               hint="the config and layers come from different images")
