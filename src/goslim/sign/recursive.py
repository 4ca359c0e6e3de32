"""Sign, attest and verify an image index as ``cosign sign --recursive`` does: the index and each
platform's manifest, every one under its own ``sha256-<hex>.sig`` / ``.att`` tag in the same place.

A single image is the same call with no platforms. In an OCI layout the platforms' attachments are
plain tags and the index is written last, so cosign's ``--local-image`` markers stay on the index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict

from goslim.oci import mediatypes
from goslim.oci.descriptor import parse_json
from goslim.oci.index_entries import index_entries, is_platform_image
from goslim.oci.layout import tag_manifest
from goslim.sign.attest import AttestationCheck, ImageAttestation, attest_image, verify_attestation
from goslim.sign.image import ImageSignature, SignatureReport, sign_image, verify_image
from goslim.sign.keys import load_private_key
from goslim.sign.locations import open_store
from goslim.sign.store import ImageStore, OciLayoutStore


class PlatformManifest(BaseModel):
    """One platform's image manifest in an index."""

    model_config = ConfigDict(frozen=True)

    platform: str
    digest: str


class PlatformStore:
    """The store of an index, pinned to one platform's manifest (signatures go beside the index's)."""

    def __init__(self, inner: ImageStore, digest: str) -> None:
        self.inner = inner
        self.digest = digest

    @property
    def repository(self) -> str:
        return self.inner.repository

    def resolve(self) -> str:
        self.inner.get_manifest(self.digest)  # present and unmodified
        return self.digest

    def get_blob(self, digest: str) -> bytes:
        return self.inner.get_blob(digest)

    def put_blob(self, data: bytes, media_type: str) -> str:
        return self.inner.put_blob(data, media_type)

    def get_tagged(self, tag: str) -> bytes | None:
        return self.inner.get_tagged(tag)

    def get_manifest(self, digest: str) -> bytes:
        return self.inner.get_manifest(digest)

    def put_tagged(self, tag: str, manifest: bytes, media_type: str) -> str:
        if isinstance(self.inner, OciLayoutStore):
            # A plain tag: cosign's layout markers name one image, and that stays the index.
            return str(tag_manifest(self.inner.root, manifest, media_type, tag).digest)
        return self.inner.put_tagged(tag, manifest, media_type)


def platform_manifests(store: ImageStore) -> tuple[str, tuple[PlatformManifest, ...]]:
    """The digest the store names and, when it is an index, its platform images (none for an image).

    buildx's attestation manifests (unknown/unknown) are no platform's image and are left out.
    """
    digest = store.resolve()
    raw = store.get_manifest(digest)
    doc = parse_json(raw, what=f"manifest {digest}")
    media_type = doc.get("mediaType") if isinstance(doc, dict) else None
    if media_type not in mediatypes.INDEX_TYPES and not (isinstance(doc, dict) and "manifests" in doc):
        return digest, ()
    entries = [d for d in index_entries(doc, where=f"index {digest}") if is_platform_image(d)]
    return digest, tuple(PlatformManifest(platform=str(d.platform) if d.platform else "unknown",
                                          digest=str(d.digest)) for d in entries)


class RecursiveSignature(BaseModel):
    """The index (or image) signed, and each platform's manifest signed beside it."""

    model_config = ConfigDict(frozen=True)

    location: str
    image: ImageSignature  # the index, or the single image
    platforms: dict[str, ImageSignature] = {}


class RecursiveSignatureReport(BaseModel):
    """Every signature checked: the index's and each platform manifest's."""

    model_config = ConfigDict(frozen=True)

    location: str
    image: SignatureReport
    platforms: dict[str, SignatureReport] = {}


class RecursiveAttestation(BaseModel):
    """An attestation written on the index (or image) and on each platform's manifest."""

    model_config = ConfigDict(frozen=True)

    location: str
    image: ImageAttestation
    platforms: dict[str, ImageAttestation] = {}


class RecursiveAttestationCheck(BaseModel):
    """The valid attestation of one type found for the index and for each platform's manifest."""

    model_config = ConfigDict(frozen=True)

    location: str
    image_digest: str
    image: AttestationCheck
    platforms: dict[str, AttestationCheck] = {}
    digests: dict[str, str] = {}  # platform -> its manifest digest


def sign_recursive(
    location: str,
    key: Path | ec.EllipticCurvePrivateKey,
    password: bytes,
    *,
    store: ImageStore | None = None,
    once: bool = False,
) -> RecursiveSignature:
    """Sign the image at ``location``; for an index, each platform's manifest too, then the index."""
    if isinstance(key, Path):  # before anything is written: a wrong password changes nothing
        key = load_private_key(key, password)
    store = store or open_store(location)
    _, manifests = platform_manifests(store)
    platforms = {m.platform: sign_image(f"{location} ({m.platform})", key, b"",
                                        store=PlatformStore(store, m.digest), once=once)
                 for m in manifests}
    top = sign_image(location, key, b"", store=store, once=once)
    return RecursiveSignature(location=location, image=top, platforms=platforms)


def verify_recursive(location: str, pub_path: Path, *, store: ImageStore | None = None
                     ) -> RecursiveSignatureReport:
    """Verify the image's signatures; for an index, every platform manifest's too (each must verify)."""
    store = store or open_store(location)
    _, manifests = platform_manifests(store)
    top = verify_image(location, pub_path, store=store)
    platforms = {m.platform: verify_image(f"{location} ({m.platform})", pub_path,
                                          store=PlatformStore(store, m.digest))
                 for m in manifests}
    return RecursiveSignatureReport(location=location, image=top, platforms=platforms)


def attest_recursive(
    location: str,
    key: ec.EllipticCurvePrivateKey,
    predicate_type: str,
    predicate: dict[str, Any],
    *,
    per_platform: dict[str, dict[str, Any]] | None = None,
    store: ImageStore | None = None,
) -> RecursiveAttestation:
    """Attest ``predicate`` on the index (or image) and on each platform's manifest, as
    ``cosign attest --recursive`` does; with ``per_platform``, each platform it names gets its own
    predicate instead and the platforms it does not name get none (they were not verified)."""
    store = store or open_store(location)
    _, manifests = platform_manifests(store)
    chosen = per_platform if per_platform is not None else {m.platform: predicate for m in manifests}
    platforms = {m.platform: attest_image(f"{location} ({m.platform})", key, b"", predicate_type,
                                          chosen[m.platform], store=PlatformStore(store, m.digest))
                 for m in manifests if m.platform in chosen}
    top = attest_image(location, key, b"", predicate_type, predicate, store=store)
    return RecursiveAttestation(location=location, image=top, platforms=platforms)


def verify_attestation_recursive(
    location: str, pub_path: Path, predicate_type: str, *, store: ImageStore | None = None
) -> RecursiveAttestationCheck:
    """The valid attestation of ``predicate_type`` for the image and, for an index, for each platform's
    manifest; SignatureVerificationError (one line, naming the platform) when one has none."""
    store = store or open_store(location)
    digest, manifests = platform_manifests(store)
    top = verify_attestation(location, pub_path, predicate_type, store=store)
    platforms = {m.platform: verify_attestation(f"{location} ({m.platform})", pub_path, predicate_type,
                                                store=PlatformStore(store, m.digest))
                 for m in manifests}
    return RecursiveAttestationCheck(location=location, image_digest=digest, image=top, platforms=platforms,
                                     digests={m.platform: m.digest for m in manifests})
