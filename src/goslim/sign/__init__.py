"""The sign stage: cosign-compatible keys, image signatures (``sha256-<hex>.sig``), blob signatures."""

from goslim.sign.attach import ArtifactLayer, Attachment, attach
from goslim.sign.blob import BlobSignature, sign_blob, verify_blob
from goslim.sign.errors import (
    KeyFileError,
    SignatureVerificationError,
    UnsupportedKeyError,
    WrongPasswordError,
)
from goslim.sign.image import (
    ImageSignature,
    SignatureCheck,
    SignatureReport,
    check_signatures,
    sign_image,
    verify_image,
)
from goslim.sign.keys import KeyPair, load_private_key, load_public_key, write_key_pair
from goslim.sign.locations import open_store

__all__ = [
    "ArtifactLayer",
    "Attachment",
    "BlobSignature",
    "ImageSignature",
    "KeyFileError",
    "KeyPair",
    "SignatureCheck",
    "SignatureReport",
    "SignatureVerificationError",
    "UnsupportedKeyError",
    "WrongPasswordError",
    "attach",
    "check_signatures",
    "load_private_key",
    "load_public_key",
    "open_store",
    "sign_blob",
    "sign_image",
    "verify_blob",
    "verify_image",
    "write_key_pair",
]
