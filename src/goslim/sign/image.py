"""Sign an image and verify its signatures, stored as cosign stores them (``sha256-<hex>.sig``)."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict

from goslim.errors import UserInputError
from goslim.sign.attach import ArtifactLayer, Attachment, attach, existing_layers
from goslim.sign.crypto import decode_signature, encode_signature, sign_bytes, verify_bytes
from goslim.sign.errors import SignatureVerificationError
from goslim.sign.keys import load_private_key, load_public_key
from goslim.sign.locations import open_store
from goslim.sign.payload import make_payload, payload_digest_claim
from goslim.sign.store import BlobDigestMismatch, ImageStore, attachment_tag, sha256_digest

SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"


class SignatureCheck(BaseModel):
    """The outcome for one signature layer."""

    model_config = ConfigDict(frozen=True)

    payload_digest: str
    valid: bool
    reason: str  # "ok" or why it failed


class ImageSignature(BaseModel):
    """A signed image: its digest and where the signature is stored."""

    model_config = ConfigDict(frozen=True)

    location: str
    image_digest: str
    docker_reference: str
    attachment: Attachment


class SignatureReport(BaseModel):
    """The result of verifying an image's signatures against one public key."""

    model_config = ConfigDict(frozen=True)

    location: str
    image_digest: str
    tag: str
    checks: list[SignatureCheck]

    @property
    def verified(self) -> bool:
        return any(c.valid for c in self.checks)


def sign_image(
    location: str,
    key: Path | ec.EllipticCurvePrivateKey,
    password: bytes,
    *,
    annotations: dict[str, str] | None = None,
    store: ImageStore | None = None,
    once: bool = False,
) -> ImageSignature:
    """Sign the image at ``location`` (``oci:DIR[:TAG]`` or a registry reference) with a cosign key.

    ``key``: a cosign.key path, loaded (with ``password``) before anything is written so a wrong
    password changes nothing, or a key already loaded.
    """
    if isinstance(key, Path):
        key = load_private_key(key, password)
    store = store or open_store(location)
    digest = store.resolve()
    if once:  # a valid signature by this key is kept as it is: a re-run adds no layer and no push
        tag = attachment_tag(digest, ".sig")
        layers = existing_layers(store, tag)
        if any(_check_layer(store, key.public_key(), d, digest).valid for d in layers):
            attachment = Attachment(image_digest=digest, tag=tag,
                                    manifest_digest=sha256_digest(store.get_tagged(tag) or b""),
                                    layers=len(layers))
            return ImageSignature(location=location, image_digest=digest, docker_reference=store.repository,
                                  attachment=attachment)
    payload = make_payload(store.repository, digest, annotations)
    layer = ArtifactLayer(
        payload=payload,
        media_type=SIMPLE_SIGNING_MEDIA_TYPE,
        annotations={SIGNATURE_ANNOTATION: encode_signature(sign_bytes(key, payload))},
    )
    attachment = attach(store, digest, ".sig", [layer], append=True)
    return ImageSignature(
        location=location, image_digest=digest, docker_reference=store.repository, attachment=attachment
    )


def check_signatures(location: str, pub_path: Path, *, store: ImageStore | None = None) -> SignatureReport:
    """Check every signature layer of the image against ``pub_path``; never raises on a bad layer."""
    key = load_public_key(pub_path)
    store = store or open_store(location)
    try:
        digest = store.resolve()
    except BlobDigestMismatch as exc:
        raise SignatureVerificationError(f"image manifest tampered: {exc.message}", where=location) from exc
    tag = attachment_tag(digest, ".sig")
    checks = []
    for desc in existing_layers(store, tag):
        checks.append(_check_layer(store, key, desc, digest))
    return SignatureReport(location=location, image_digest=digest, tag=tag, checks=checks)


def verify_image(location: str, pub_path: Path, *, store: ImageStore | None = None) -> SignatureReport:
    """Verify the image's signatures; raise SignatureVerificationError (one line) unless one is valid."""
    report = check_signatures(location, pub_path, store=store)
    if not report.checks:
        raise SignatureVerificationError(
            f"no signatures found for {report.image_digest}",
            where=location,
            hint="sign it with `goslim sign IMAGE --key cosign.key` (a changed image has a new digest)",
        )
    if not report.verified:
        reasons = "; ".join(f"layer {i + 1}: {c.reason}" for i, c in enumerate(report.checks))
        raise SignatureVerificationError(
            f"no matching signatures: {reasons}", where=location, hint=f"checked with {pub_path}"
        )
    return report


def _check_layer(store: ImageStore, key: object, desc: dict, image_digest: str) -> SignatureCheck:
    payload_digest = str(desc.get("digest", ""))

    def fail(reason: str) -> SignatureCheck:
        return SignatureCheck(payload_digest=payload_digest, valid=False, reason=reason)

    if desc.get("mediaType") != SIMPLE_SIGNING_MEDIA_TYPE:
        return fail(f"not a simple-signing layer ({desc.get('mediaType')})")
    encoded = (desc.get("annotations") or {}).get(SIGNATURE_ANNOTATION)
    if not encoded:
        return fail("no signature annotation")
    signature = decode_signature(encoded)
    if signature is None:
        return fail("the signature annotation is not base64")
    try:
        payload = store.get_blob(payload_digest)
    except UserInputError as exc:
        return fail(f"payload unreadable: {exc.message}")
    if not verify_bytes(key, payload, signature):  # type: ignore[arg-type]
        return fail("signature does not match the payload (tampered, or signed with another key)")
    claimed = payload_digest_claim(payload)
    if claimed is None:
        return fail("the payload is not a cosign simple-signing payload")
    if claimed != image_digest:
        return fail(f"the payload signs {claimed}, not this image ({image_digest})")
    return SignatureCheck(payload_digest=payload_digest, valid=True, reason="ok")
