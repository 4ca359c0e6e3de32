"""cosign key files: round trip, legacy PEM type, wrong password, unsupported keys."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import nacl.secret
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from goslim.errors import UserInputError
from goslim.sign import keys as keys_mod
from goslim.sign.crypto import sign_bytes, verify_bytes
from goslim.sign.errors import KeyFileError, UnsupportedKeyError, WrongPasswordError
from goslim.sign.keys import (
    LEGACY_PRIVATE_PEM_TYPE,
    PRIVATE_PEM_TYPE,
    KeyFile,
    decrypt_private_key,
    encrypt_private_key,
    load_private_key,
    load_public_key,
    parse_public_key,
    pem_decode,
    pem_encode,
    write_key_pair,
)


def test_keygen_round_trip(tmp_path: Path) -> None:
    pair = write_key_pair(tmp_path, b"s3cret")
    pem = pair.private_key.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    assert pair.private_key.stat().st_mode & 0o777 == 0o600
    envelope = json.loads(pem_decode(pem)[1])
    assert envelope["kdf"]["name"] == "scrypt"
    assert envelope["kdf"]["params"] == {"N": 65536, "r": 8, "p": 1}
    assert len(base64.b64decode(envelope["kdf"]["salt"])) == 32
    assert envelope["cipher"] == {"name": "nacl/secretbox", "nonce": envelope["cipher"]["nonce"]}
    assert len(base64.b64decode(envelope["cipher"]["nonce"])) == 24
    key = load_private_key(pair.private_key, b"s3cret")
    pub = load_public_key(pair.public_key)
    assert pair.public_key.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    sig = sign_bytes(key, b"payload")
    assert verify_bytes(pub, b"payload", sig)
    assert not verify_bytes(pub, b"payload!", sig)


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    write_key_pair(tmp_path, b"")
    with pytest.raises(UserInputError, match="already exists"):
        write_key_pair(tmp_path, b"")


def test_empty_password_still_encrypts(tmp_path: Path) -> None:
    pair = write_key_pair(tmp_path, b"")
    assert load_private_key(pair.private_key, b"").curve.name == "secp256r1"
    with pytest.raises(WrongPasswordError):
        load_private_key(pair.private_key, b"x")


def test_wrong_password_is_one_clear_error(tmp_path: Path) -> None:
    pair = write_key_pair(tmp_path, b"right")
    with pytest.raises(WrongPasswordError) as info:
        load_private_key(pair.private_key, b"wrong")
    assert "wrong password" in info.value.one_line()
    assert "COSIGN_PASSWORD" in (info.value.hint or "")


def test_legacy_cosign_pem_type_loads() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = encrypt_private_key(key, b"pw").replace(PRIVATE_PEM_TYPE.encode(), LEGACY_PRIVATE_PEM_TYPE.encode())
    loaded = decrypt_private_key(pem, b"pw")
    assert loaded.private_numbers() == key.private_numbers()


def test_other_private_key_types_are_refused() -> None:
    rsa_like = pem_encode("RSA PRIVATE KEY", b"\x30\x00")
    with pytest.raises(UnsupportedKeyError, match="unsupported private key type 'RSA PRIVATE KEY'"):
        decrypt_private_key(rsa_like, b"")


def test_encrypted_ed25519_key_is_refused() -> None:
    """A well-formed cosign envelope around a key goslim does not sign with."""
    ed = ed25519.Ed25519PrivateKey.generate()
    p256 = ec.generate_private_key(ec.SECP256R1())
    pem = encrypt_private_key(p256, b"pw")
    # Re-encrypt an Ed25519 PKCS#8 key in the same envelope format.
    env = json.loads(pem_decode(pem)[1])
    salt = base64.b64decode(env["kdf"]["salt"])
    nonce = base64.b64decode(env["cipher"]["nonce"])
    der = ed.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    box = nacl.secret.SecretBox(keys_mod._scrypt(b"pw", salt, 65536, 8, 1))
    env["ciphertext"] = base64.b64encode(box.encrypt(der, nonce).ciphertext).decode()
    with pytest.raises(UnsupportedKeyError, match="Ed25519"):
        decrypt_private_key(pem_encode(PRIVATE_PEM_TYPE, json.dumps(env).encode()), b"pw")


def test_unknown_scrypt_parameters_refused() -> None:
    pem = encrypt_private_key(ec.generate_private_key(ec.SECP256R1()), b"")
    env = json.loads(pem_decode(pem)[1])
    env["kdf"]["params"]["N"] = 1024
    with pytest.raises(UnsupportedKeyError, match="scrypt parameters"):
        decrypt_private_key(pem_encode(PRIVATE_PEM_TYPE, json.dumps(env).encode()), b"")


def test_public_key_checks(tmp_path: Path) -> None:
    pair = write_key_pair(tmp_path, b"")
    with pytest.raises(UnsupportedKeyError, match="private key"):
        parse_public_key(pair.private_key.read_bytes())
    ed_pub = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(UnsupportedKeyError, match="Ed25519"):
        parse_public_key(ed_pub)
    p384 = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(UnsupportedKeyError, match="secp384r1"):
        parse_public_key(p384)
    with pytest.raises(KeyFileError, match="not a PEM"):
        parse_public_key(b"hello")
    with pytest.raises(UserInputError, match="no such key file"):
        load_public_key(tmp_path / "missing.pub")


def test_a_key_file_is_decrypted_once_and_its_password_asked_once(tmp_path: Path) -> None:
    pair = write_key_pair(tmp_path, b"pw")
    asked: list[str] = []

    def password() -> bytes:
        asked.append("asked")
        return b"pw"

    key = KeyFile(pair.private_key, password)
    public = key.public()
    assert key.private().public_key().public_numbers() == public.public_numbers()
    assert key.public() is public and key.private() is key.private()
    assert asked == ["asked"]
    assert KeyFile(pair.public_key, password).public().public_numbers() == public.public_numbers()
    assert asked == ["asked"]  # cosign.pub needs no password
