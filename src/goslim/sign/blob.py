"""Detached signatures for files (binaries): ``<file>.sig`` and ``<file>.sha256``.

The ``.sig`` file holds the base64 DER signature over the file's bytes, exactly
what ``cosign sign-blob --key`` prints, so ``cosign verify-blob`` accepts it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from goslim.errors import UserInputError
from goslim.fsutil import write_text_atomic
from goslim.gobuild.models import sha256_file
from goslim.sign.crypto import decode_signature, encode_signature, sign_bytes, verify_bytes
from goslim.sign.errors import SignatureVerificationError
from goslim.sign.keys import load_private_key, load_public_key


class BlobSignature(BaseModel):
    """A signed file and where its detached signature and checksum are."""

    model_config = ConfigDict(frozen=True)

    path: Path
    sha256: str
    size: int
    signature_path: Path
    checksum_path: Path
    verified: bool = False


def sign_blob(
    path: Path, key_path: Path, password: bytes, signature_path: Path | None = None
) -> BlobSignature:
    """Sign ``path`` with a cosign key; write ``<path>.sig`` and ``<path>.sha256`` beside it."""
    data = _read_file(path)
    key = load_private_key(key_path, password)
    digest, size = sha256_file(path)
    sig_path = signature_path or path.with_name(path.name + ".sig")
    sum_path = path.with_name(path.name + ".sha256")
    write_text_atomic(sig_path, encode_signature(sign_bytes(key, data)) + "\n")
    # sha256sum's format so `sha256sum -c` works too.
    write_text_atomic(sum_path, f"{digest}  {path.name}\n")
    return BlobSignature(path=path, sha256=digest, size=size, signature_path=sig_path, checksum_path=sum_path)


def verify_blob(path: Path, pub_path: Path, signature_path: Path | None = None) -> BlobSignature:
    """Check ``path`` against its ``.sha256`` (when present) and its detached signature."""
    data = _read_file(path)
    key = load_public_key(pub_path)
    sig_path = signature_path or path.with_name(path.name + ".sig")
    sum_path = path.with_name(path.name + ".sha256")
    if not sig_path.is_file():
        raise UserInputError(
            f"{sig_path}: no signature file", hint="sign it with `goslim sign-blob FILE --key`"
        )
    digest, size = sha256_file(path)
    if sum_path.is_file():
        recorded = sum_path.read_text().split()[:1]
        if recorded != [digest]:
            raise SignatureVerificationError(
                f"sha256 mismatch: {sum_path.name} records {recorded[0] if recorded else 'nothing'}, "
                f"the file is {digest}",
                where=str(path),
            )
    signature = decode_signature(sig_path.read_bytes())
    if signature is None:
        raise SignatureVerificationError(f"{sig_path.name} is not a base64 signature", where=str(path))
    if not verify_bytes(key, data, signature):
        raise SignatureVerificationError(
            "signature does not match: the file changed or was signed with another key",
            where=str(path),
            hint=f"checked with {pub_path}",
        )
    return BlobSignature(
        path=path, sha256=digest, size=size, signature_path=sig_path, checksum_path=sum_path, verified=True
    )


def _read_file(path: Path) -> bytes:
    if not path.is_file():
        raise UserInputError(f"{path}: no such file")
    return path.read_bytes()
