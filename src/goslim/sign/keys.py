"""cosign-compatible key files: an scrypt + NaCl secretbox encrypted PKCS#8 key, and a PKIX public key.

The private key PEM body is the JSON envelope of go-securesystemslib's ``encrypted``
package, so keys made here load in cosign and cosign's keys load here.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nacl.exceptions
import nacl.secret
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from goslim.errors import UserInputError
from goslim.fsutil import write_bytes_atomic
from goslim.sign.errors import KeyFileError, UnsupportedKeyError, WrongPasswordError

PRIVATE_PEM_TYPE = "ENCRYPTED SIGSTORE PRIVATE KEY"
LEGACY_PRIVATE_PEM_TYPE = "ENCRYPTED COSIGN PRIVATE KEY"
PUBLIC_PEM_TYPE = "PUBLIC KEY"

# (N, r, p) sets cosign accepts on decrypt; we write the standard one.
SCRYPT_STANDARD = (65536, 8, 1)
SCRYPT_ACCEPTED = {(32768, 8, 1), (65536, 8, 1), (131072, 8, 1)}
SALT_BYTES = 32
NONCE_BYTES = 24
_PEM_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)

KEY_HINT = "goslim signs with ECDSA P-256 keys, cosign's default: make one with `goslim keygen`"


@dataclass(frozen=True)
class KeyPair:
    """Paths of a written key pair."""

    private_key: Path
    public_key: Path


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def encrypt_private_key(key: ec.EllipticCurvePrivateKey, password: bytes) -> bytes:
    """PEM ``ENCRYPTED SIGSTORE PRIVATE KEY``: scrypt-derived key + secretbox over PKCS#8 DER."""
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    n, r, p = SCRYPT_STANDARD
    salt = os.urandom(SALT_BYTES)
    nonce = os.urandom(NONCE_BYTES)
    box = nacl.secret.SecretBox(_scrypt(password, salt, n, r, p))
    ciphertext = box.encrypt(der, nonce).ciphertext
    envelope = {
        "kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p}, "salt": _b64(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": _b64(nonce)},
        "ciphertext": _b64(ciphertext),
    }
    return pem_encode(PRIVATE_PEM_TYPE, json.dumps(envelope, separators=(",", ":")).encode())


def decrypt_private_key(
    pem: bytes, password: bytes, *, where: str | None = None
) -> ec.EllipticCurvePrivateKey:
    """Load a cosign private key (current or legacy PEM type); wrong password is one clear error."""
    pem_type, body = pem_decode(pem, where=where)
    if pem_type not in (PRIVATE_PEM_TYPE, LEGACY_PRIVATE_PEM_TYPE):
        raise UnsupportedKeyError(
            f"unsupported private key type '{pem_type}'",
            where=where,
            hint=f"expected '{PRIVATE_PEM_TYPE}' (cosign); {KEY_HINT}",
        )
    try:
        env = json.loads(body)
        kdf, cipher = env["kdf"], env["cipher"]
        params = kdf["params"]
        nrp = (int(params["N"]), int(params["r"]), int(params["p"]))
        salt = base64.b64decode(kdf["salt"])
        nonce = base64.b64decode(cipher["nonce"])
        ciphertext = base64.b64decode(env["ciphertext"])
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyFileError("the encrypted key envelope is malformed", where=where, hint=KEY_HINT) from exc
    if kdf.get("name") != "scrypt" or cipher.get("name") != "nacl/secretbox":
        raise UnsupportedKeyError(
            f"unsupported key encryption {kdf.get('name')}/{cipher.get('name')}",
            where=where,
            hint="cosign keys use scrypt and nacl/secretbox",
        )
    if nrp not in SCRYPT_ACCEPTED:
        raise UnsupportedKeyError(
            f"unsupported scrypt parameters N={nrp[0]} r={nrp[1]} p={nrp[2]}", where=where
        )
    if len(nonce) != NONCE_BYTES:
        raise KeyFileError("the encrypted key has a bad nonce", where=where)
    box = nacl.secret.SecretBox(_scrypt(password, salt, *nrp))
    try:
        der = box.decrypt(ciphertext, nonce)
    except nacl.exceptions.CryptoError:
        raise WrongPasswordError(
            "wrong password for the private key",
            where=where,
            hint="set COSIGN_PASSWORD to the password the key was made with",
        ) from None
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise UnsupportedKeyError(
            "the decrypted private key is not a PKCS#8 key goslim can read", where=where, hint=KEY_HINT
        ) from exc
    return _require_p256_private(key, where)


def load_private_key(path: Path, password: bytes) -> ec.EllipticCurvePrivateKey:
    """Read and decrypt a cosign.key file."""
    return decrypt_private_key(_read(path), password, where=str(path))


def public_key_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    """PEM ``PUBLIC KEY`` (PKIX SubjectPublicKeyInfo), as in cosign.pub."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def parse_public_key(pem: bytes, *, where: str | None = None) -> ec.EllipticCurvePublicKey:
    """Parse a cosign.pub; an encrypted private key or a non-P-256 key is refused clearly."""
    pem_type, _ = pem_decode(pem, where=where)
    if pem_type in (PRIVATE_PEM_TYPE, LEGACY_PRIVATE_PEM_TYPE) or "PRIVATE" in pem_type:
        raise UnsupportedKeyError(
            "this is a private key; verification takes the public key",
            where=where,
            hint="pass cosign.pub, not cosign.key",
        )
    if pem_type != PUBLIC_PEM_TYPE:
        raise UnsupportedKeyError(
            f"unsupported public key type '{pem_type}'",
            where=where,
            hint="expected a PEM 'PUBLIC KEY' such as cosign.pub",
        )
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError("the public key cannot be parsed", where=where, hint=KEY_HINT) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise UnsupportedKeyError(
            f"unsupported public key algorithm {_describe(key)}", where=where, hint=KEY_HINT
        )
    return key


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    """Read a cosign.pub file."""
    return parse_public_key(_read(path), where=str(path))


def load_verifying_key(path: Path, password: Callable[[], bytes]) -> ec.EllipticCurvePublicKey:
    """The public key of cosign.pub, or of cosign.key (decrypted with ``password()``, asked only then)."""
    return KeyFile(path, password).public()


class KeyFile:
    """A key file that one run uses several times (look-ups, verification, signing): decrypted at most
    once, so scrypt runs once and a terminal asks for the password once."""

    def __init__(self, path: Path, password: Callable[[], bytes]) -> None:
        self.path = path
        self._password = password
        self._private: ec.EllipticCurvePrivateKey | None = None
        self._public: ec.EllipticCurvePublicKey | None = None

    def private(self) -> ec.EllipticCurvePrivateKey:
        if self._private is None:
            self._private = load_private_key(self.path, self._password())
        return self._private

    def public(self) -> ec.EllipticCurvePublicKey:
        """cosign.pub's key, or cosign.key's public half (decrypting it only then)."""
        if self._public is None:
            pem_type, _ = pem_decode(_read(self.path), where=str(self.path))
            private = pem_type in (PRIVATE_PEM_TYPE, LEGACY_PRIVATE_PEM_TYPE)
            self._public = self.private().public_key() if private else load_public_key(self.path)
        return self._public


def write_key_pair(out_dir: Path, password: bytes, *, overwrite: bool = False) -> KeyPair:
    """Write cosign.key and cosign.pub into ``out_dir`` (refuses to overwrite an existing key)."""
    pair = KeyPair(out_dir / "cosign.key", out_dir / "cosign.pub")
    existing = [p for p in (pair.private_key, pair.public_key) if p.exists()]
    if existing and not overwrite:
        raise UserInputError(
            f"{existing[0]} already exists", hint="remove it or choose another --out directory"
        )
    key = generate_private_key()
    write_bytes_atomic(pair.private_key, encrypt_private_key(key, password), mode=0o600)
    write_bytes_atomic(pair.public_key, public_key_pem(key.public_key()))
    return pair


def pem_encode(pem_type: str, body: bytes) -> bytes:
    """PEM with 64-column base64 lines, as Go's encoding/pem writes it."""
    text = base64.b64encode(body).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return (f"-----BEGIN {pem_type}-----\n" + "\n".join(lines) + f"\n-----END {pem_type}-----\n").encode()


def pem_decode(pem: bytes, *, where: str | None = None) -> tuple[str, bytes]:
    """The type and body of the first PEM block."""
    match = _PEM_RE.search(pem.decode("ascii", errors="replace"))
    if not match:
        raise KeyFileError("not a PEM key file", where=where, hint=KEY_HINT)
    body = "".join(line.strip() for line in match[2].splitlines() if ":" not in line)
    try:
        return match[1], base64.b64decode(body, validate=True)
    except ValueError as exc:
        raise KeyFileError("the PEM block is not valid base64", where=where) from exc


def _require_p256_private(key: object, where: str | None) -> ec.EllipticCurvePrivateKey:
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise UnsupportedKeyError(
            f"unsupported private key algorithm {_describe(key)}", where=where, hint=KEY_HINT
        )
    return key


def _describe(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    return type(key).__name__.lstrip("_").replace("PublicKey", "").replace("PrivateKey", "") or "unknown"


@functools.lru_cache(maxsize=8)
def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    """The key's box key. Cached: a slim run over many services opens the same key for each of them
    (reuse look-up, signing), and scrypt costs about half a second each time, by design."""
    # OpenSSL's default memory cap is below scrypt's 128*r*N bytes for N=65536.
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=256 * r * n + (1 << 20), dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UserInputError(
            f"{path}: no such key file", hint="make a key pair with `goslim keygen`"
        ) from None
    except OSError as exc:
        raise UserInputError(f"{path}: cannot read the key file: {exc.strerror}") from exc
