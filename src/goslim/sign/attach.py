"""Attach artifacts to an image the way cosign does: an image under ``sha256-<hex>.<suffix>``.

Signatures (``.sig``) and SBOMs (``.sbom``) are both stored as a small OCI image whose
layers are the payloads, with an empty-image config, in the image's own repository.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from goslim.errors import UserInputError
from goslim.oci.mediatypes import OCI_CONFIG, OCI_MANIFEST
from goslim.sign.store import ImageStore, attachment_tag, sha256_digest

ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class ArtifactLayer:
    """One payload to attach, with its layer media type and annotations."""

    payload: bytes
    media_type: str
    annotations: dict[str, str] = field(default_factory=dict)

    def descriptor(self) -> dict:
        desc: dict = {
            "mediaType": self.media_type,
            "size": len(self.payload),
            "digest": sha256_digest(self.payload),
        }
        if self.annotations:
            desc["annotations"] = dict(self.annotations)
        return desc


class Attachment(BaseModel):
    """Where an artifact was attached."""

    model_config = ConfigDict(frozen=True)

    image_digest: str
    tag: str
    manifest_digest: str
    layers: int


def empty_image_config(layer_digests: list[str]) -> bytes:
    """The config of go-containerregistry's empty image with these layers (what cosign writes)."""
    config = {
        "architecture": "",
        "created": ZERO_TIME,
        "history": [{"created": ZERO_TIME} for _ in layer_digests],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": list(layer_digests)},
        "config": {},
    }
    return json.dumps(config, separators=(",", ":")).encode()


def existing_layers(store: ImageStore, tag: str) -> list[dict]:
    """Layer descriptors of the artifact image under ``tag`` (empty when there is none)."""
    raw = store.get_tagged(tag)
    if raw is None:
        return []
    try:
        layers = json.loads(raw).get("layers") or []
    except (ValueError, AttributeError) as exc:
        raise UserInputError(f"the manifest tagged {tag} is not valid JSON") from exc
    return [d for d in layers if isinstance(d, dict)]


def attach(
    store: ImageStore,
    image_digest: str,
    suffix: str,
    layers: list[ArtifactLayer],
    *,
    append: bool,
    drop: Callable[[dict], bool] | None = None,
) -> Attachment:
    """Store ``layers`` under ``sha256-<hex><suffix>``; with ``append``, keep the layers already there
    except those ``drop`` selects (an attestation of the same type is replaced, not piled up).

    A layer identical to one already attached (same digest and annotations) is not added twice.
    """
    tag = attachment_tag(image_digest, suffix)
    descriptors = existing_layers(store, tag) if append else []
    if drop is not None:
        descriptors = [d for d in descriptors if not drop(d)]
    for layer in layers:
        store.put_blob(layer.payload, layer.media_type)
        desc = layer.descriptor()
        if desc not in descriptors:
            descriptors.append(desc)
    config = empty_image_config([d["digest"] for d in descriptors])
    config_digest = store.put_blob(config, OCI_CONFIG)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": config_digest},
        "layers": descriptors,
    }
    body = json.dumps(manifest, separators=(",", ":")).encode()
    manifest_digest = store.put_tagged(tag, body, OCI_MANIFEST)
    return Attachment(
        image_digest=image_digest, tag=tag, manifest_digest=manifest_digest, layers=len(descriptors)
    )
