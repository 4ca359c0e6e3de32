"""The registry side of ``ImageStore``: signatures and SBOMs pushed beside the image, by tag."""

from __future__ import annotations

import io

from goslim.oci import Digest, RegistryClient, RegistryError
from goslim.oci.reference import ImageReference
from goslim.sign.store import BlobDigestMismatch, sha256_digest


class RegistryStore:
    """One repository on a registry, through goslim.oci's client (auth, retries, http on loopback)."""

    def __init__(self, reference: ImageReference, client: RegistryClient | None = None) -> None:
        self.reference = reference
        self.client = client or RegistryClient()

    @classmethod
    def open(cls, reference: ImageReference, client: RegistryClient | None = None) -> RegistryStore:
        return cls(reference, client)

    @property
    def repository(self) -> str:
        return self.reference.name

    def resolve(self) -> str:
        if self.reference.digest is not None:
            return str(self.reference.digest)
        return str(self.client.get_manifest(self.reference).digest)

    def get_blob(self, digest: str) -> bytes:
        data = b"".join(self.client.fetch_blob(self.reference, Digest.parse(digest)))
        if sha256_digest(data) != digest:
            raise BlobDigestMismatch(f"blob {digest} from {self.reference.name} does not match its digest")
        return data

    def put_blob(self, data: bytes, media_type: str) -> str:
        digest = Digest.of_bytes(data)
        self.client.upload_blob(self.reference, digest, len(data), lambda: io.BytesIO(data))
        return str(digest)

    def get_tagged(self, tag: str) -> bytes | None:
        try:
            return self.client.get_manifest(self.reference, tag).data
        except RegistryError as exc:
            if exc.status == 404:
                return None
            raise

    def get_manifest(self, digest: str) -> bytes:
        data = self.client.get_manifest(self.reference, digest).data
        if sha256_digest(data) != digest:
            raise BlobDigestMismatch(
                f"manifest {digest} from {self.reference.name} does not match its digest")
        return data

    def put_tagged(self, tag: str, manifest: bytes, media_type: str) -> str:
        return str(self.client.put_manifest(self.reference, tag, manifest, media_type))
