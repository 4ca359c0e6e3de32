"""The simple-signing payload cosign signs for an image digest."""

from __future__ import annotations

import json
from typing import Any

COSIGN_SIGNATURE_TYPE = "cosign container image signature"


def make_payload(
    docker_reference: str, manifest_digest: str, annotations: dict[str, str] | None = None
) -> bytes:
    """The exact bytes to sign and upload: critical identity/image/type plus optional annotations."""
    body = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": manifest_digest},
            "type": COSIGN_SIGNATURE_TYPE,
        },
        "optional": annotations or None,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def payload_digest_claim(payload: bytes) -> str | None:
    """The image digest a payload claims, or None when it is not a cosign simple-signing payload."""
    try:
        body: Any = json.loads(payload)
        critical = {k.lower(): v for k, v in body["critical"].items()}
        image = {k.lower(): v for k, v in critical["image"].items()}
        if str(critical.get("type", "")).lower() != COSIGN_SIGNATURE_TYPE:
            return None
        digest = image["docker-manifest-digest"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return digest if isinstance(digest, str) else None
