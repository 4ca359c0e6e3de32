"""Attestations stored as cosign stores them: in-toto statements in DSSE envelopes under ``.att``.

One layer per attestation (media type ``application/vnd.dsse.envelope.v1+json``, annotation
``predicateType``) in the image tagged ``sha256-<hex>.att`` beside the image. Attesting again
with the same predicate type replaces the earlier one, as ``cosign attest --replace`` does, so
re-runs do not pile up. ``cosign verify-attestation --key K --type T`` reads what this writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict

from goslim.errors import UserInputError
from goslim.sign.attach import ArtifactLayer, Attachment, attach, existing_layers
from goslim.sign.dsse import ENVELOPE_MEDIA_TYPE, IN_TOTO_PAYLOAD_TYPE, open_envelope, seal
from goslim.sign.errors import SignatureVerificationError
from goslim.sign.keys import load_private_key, load_public_key
from goslim.sign.locations import open_store
from goslim.sign.store import ImageStore, attachment_tag, sha256_digest

STATEMENT_TYPE = "https://in-toto.io/Statement/v0.1"  # what cosign attest writes
STATEMENT_TYPES = (STATEMENT_TYPE, "https://in-toto.io/Statement/v1")
PREDICATE_ANNOTATION = "predicateType"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
# cosign's short names for --type, and goslim's own predicate.
PREDICATE_TYPES = {
    "goslim": "https://goslim.dev/attestations/verify/v1",
    "cyclonedx": "https://cyclonedx.org/bom",
    "spdxjson": "https://spdx.dev/Document",
}


def predicate_type_uri(name: str) -> str:
    """A predicate type from a short name (goslim, cyclonedx, spdxjson) or a URI given as is."""
    if name in PREDICATE_TYPES:
        return PREDICATE_TYPES[name]
    if "://" not in name:
        raise UserInputError(f"unknown attestation type '{name}'",
                             hint=f"use {', '.join(PREDICATE_TYPES)} or a predicate type URI")
    return name


class AttestationCheck(BaseModel):
    """One attestation layer, checked against a public key."""

    model_config = ConfigDict(frozen=True)

    predicate_type: str
    valid: bool
    reason: str  # "ok" or why it failed
    predicate: dict[str, Any] | None = None  # only when valid


class ImageAttestation(BaseModel):
    """An attestation that was written: for which image, under which tag."""

    model_config = ConfigDict(frozen=True)

    location: str
    image_digest: str
    predicate_type: str
    attachment: Attachment


def statement(subject_name: str, image_digest: str, predicate_type: str, predicate: dict[str, Any]) -> bytes:
    """The in-toto statement about the image ``image_digest`` (sha256:...)."""
    body = {
        "_type": STATEMENT_TYPE,
        "predicateType": predicate_type,
        "subject": [{"name": subject_name, "digest": {"sha256": image_digest.removeprefix("sha256:")}}],
        "predicate": predicate,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def attest_image(
    location: str,
    key: Path | ec.EllipticCurvePrivateKey,
    password: bytes,
    predicate_type: str,
    predicate: dict[str, Any],
    *,
    store: ImageStore | None = None,
) -> ImageAttestation:
    """Sign ``predicate`` about the image at ``location`` and attach it, replacing the same type.

    ``key``: a cosign.key path (decrypted with ``password``) or a key already loaded.
    """
    if isinstance(key, Path):  # before anything is written: a wrong password changes nothing
        key = load_private_key(key, password)
    store = store or open_store(location)
    digest = store.resolve()
    kept = _same_attestation(store, key.public_key(), digest, predicate_type, predicate)
    if kept is not None:  # a re-run attests nothing new: no write, no registry push
        return ImageAttestation(location=location, image_digest=digest, predicate_type=predicate_type,
                                attachment=kept)
    envelope = seal(key, statement(store.repository, digest, predicate_type, predicate))
    layer = ArtifactLayer(
        payload=envelope,
        media_type=ENVELOPE_MEDIA_TYPE,
        annotations={SIGNATURE_ANNOTATION: "", PREDICATE_ANNOTATION: predicate_type},
    )
    attachment = attach(
        store, digest, ".att", [layer], append=True,
        drop=lambda desc: (desc.get("annotations") or {}).get(PREDICATE_ANNOTATION) == predicate_type,
    )
    return ImageAttestation(location=location, image_digest=digest, predicate_type=predicate_type,
                            attachment=attachment)


def check_attestations(
    location: str,
    pub: Path | ec.EllipticCurvePublicKey,
    *,
    predicate_type: str | None = None,
    store: ImageStore | None = None,
) -> tuple[str, list[AttestationCheck]]:
    """(image digest, every attestation layer of that type checked against the public key ``pub``)."""
    key = load_public_key(pub) if isinstance(pub, Path) else pub
    store = store or open_store(location)
    digest = store.resolve()
    checks = []
    for desc in existing_layers(store, attachment_tag(digest, ".att")):
        declared = str((desc.get("annotations") or {}).get(PREDICATE_ANNOTATION, ""))
        if predicate_type is not None and declared != predicate_type:
            continue
        checks.append(_check_layer(store, key, desc, digest, declared))
    return digest, checks


def verify_attestation(
    location: str, pub_path: Path, predicate_type: str, *, store: ImageStore | None = None
) -> AttestationCheck:
    """The valid attestation of ``predicate_type`` for the image; SignatureVerificationError if none."""
    digest, checks = check_attestations(location, pub_path, predicate_type=predicate_type, store=store)
    valid = [c for c in checks if c.valid]
    if valid:
        return valid[-1]
    if not checks:
        raise SignatureVerificationError(
            f"no {predicate_type} attestation for {digest}", where=location,
            hint="attest it with `goslim verify IMAGE --attest --key cosign.key` (a changed image has a "
            "new digest)")
    reasons = "; ".join(c.reason for c in checks)
    raise SignatureVerificationError(f"no valid {predicate_type} attestation: {reasons}", where=location,
                                     hint=f"checked with {pub_path}")


def _same_attestation(
    store: ImageStore, pub: ec.EllipticCurvePublicKey, digest: str, predicate_type: str, predicate: dict
) -> Attachment | None:
    """The attachment when it already holds a valid attestation of this type, key and predicate."""
    tag = attachment_tag(digest, ".att")
    layers = existing_layers(store, tag)
    for desc in layers:
        declared = str((desc.get("annotations") or {}).get(PREDICATE_ANNOTATION, ""))
        if declared != predicate_type:
            continue
        if _check_layer(store, pub, desc, digest, declared).predicate == predicate:
            raw = store.get_tagged(tag) or b""
            return Attachment(image_digest=digest, tag=tag, manifest_digest=sha256_digest(raw),
                              layers=len(layers))
    return None


def _check_layer(store: ImageStore, key: object, desc: dict, digest: str, declared: str) -> AttestationCheck:
    def fail(reason: str) -> AttestationCheck:
        return AttestationCheck(predicate_type=declared, valid=False, reason=reason)

    if desc.get("mediaType") != ENVELOPE_MEDIA_TYPE:
        return fail(f"not a DSSE envelope layer ({desc.get('mediaType')})")
    try:
        raw = store.get_blob(str(desc.get("digest", "")))
    except UserInputError as exc:
        return fail(f"envelope unreadable: {exc.message}")
    opened = open_envelope(key, raw)  # type: ignore[arg-type]
    if opened.payload is None:
        return fail(opened.reason)
    if opened.payload_type != IN_TOTO_PAYLOAD_TYPE:
        return fail(f"payload type is {opened.payload_type}, not an in-toto statement")
    try:
        body = json.loads(opened.payload)
        subjects = {s["digest"]["sha256"] for s in body["subject"]}
        stated_type, predicate = body["predicateType"], body["predicate"]
        kind = body["_type"]
    except (ValueError, KeyError, TypeError):
        return fail("the payload is not an in-toto statement")
    if kind not in STATEMENT_TYPES:
        return fail(f"unknown statement type {kind}")
    if digest.removeprefix("sha256:") not in subjects:
        return fail(f"the statement is about {', '.join(sorted(subjects))}, not this image ({digest})")
    if stated_type != declared:
        return fail(f"the layer says {declared} but the signed statement says {stated_type}")
    if not isinstance(predicate, dict):
        return fail("the predicate is not a JSON object")
    return AttestationCheck(predicate_type=declared, valid=True, reason="ok", predicate=predicate)
