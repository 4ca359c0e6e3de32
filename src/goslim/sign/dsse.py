"""DSSE envelopes (the signed wrapper of in-toto attestations), as cosign writes and checks them.

The signature covers PAE(payloadType, payload) = "DSSEv1 <len> <type> <len> <payload>", never the
JSON of the envelope, so re-encoding the envelope does not break it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from goslim.sign.crypto import decode_signature, encode_signature, sign_bytes, verify_bytes

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
ENVELOPE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
MAX_ENVELOPE_BYTES = 16 << 20  # an attestation layer larger than this is refused unread


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding of ``payload``."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def seal(key: ec.EllipticCurvePrivateKey, payload: bytes, payload_type: str = IN_TOTO_PAYLOAD_TYPE) -> bytes:
    """The envelope JSON for ``payload``, signed with ``key`` (one signature, empty keyid as cosign)."""
    envelope = {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": "", "sig": encode_signature(sign_bytes(key, pae(payload_type, payload)))}],
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Opened:
    """An envelope that was checked: its payload when a signature matched, else why not."""

    payload: bytes | None
    payload_type: str
    reason: str  # "ok" or why it failed

    @property
    def valid(self) -> bool:
        return self.payload is not None


def open_envelope(key: ec.EllipticCurvePublicKey, raw: bytes) -> Opened:
    """Check ``raw`` (envelope JSON) against ``key``; never raises on malformed input."""
    if len(raw) > MAX_ENVELOPE_BYTES:
        return Opened(None, "", f"envelope larger than {MAX_ENVELOPE_BYTES} bytes")
    try:
        envelope = json.loads(raw)
        payload_type = envelope["payloadType"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = envelope["signatures"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        return Opened(None, "", "not a DSSE envelope")
    if not isinstance(payload_type, str) or not isinstance(signatures, list):
        return Opened(None, "", "not a DSSE envelope")
    message = pae(payload_type, payload)
    for entry in signatures:
        sig = decode_signature(entry.get("sig", "")) if isinstance(entry, dict) else None
        if sig is not None and verify_bytes(key, message, sig):
            return Opened(payload, payload_type, "ok")
    return Opened(None, payload_type, "no signature matches the key (tampered, or signed with another key)")
