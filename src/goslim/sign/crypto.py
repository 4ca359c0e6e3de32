"""ECDSA P-256 / SHA-256 signatures in ASN.1 DER, the form cosign writes and checks."""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec


def sign_bytes(key: ec.EllipticCurvePrivateKey, payload: bytes) -> bytes:
    """DER ECDSA-Sig-Value over SHA-256(payload)."""
    return key.sign(payload, ec.ECDSA(hashes.SHA256()))


def verify_bytes(key: ec.EllipticCurvePublicKey, payload: bytes, signature: bytes) -> bool:
    """True when ``signature`` (DER) is valid for ``payload`` under ``key``."""
    try:
        key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def encode_signature(signature: bytes) -> str:
    """Base64 std encoding, as in the cosign annotation and in sign-blob output."""
    return base64.b64encode(signature).decode()


def decode_signature(text: str | bytes) -> bytes | None:
    """Decode a base64 signature; None when it is not base64."""
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
