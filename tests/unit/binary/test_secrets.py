"""Secret patterns: planted fake credentials are found and redacted; ordinary strings are not flagged."""

from __future__ import annotations

import pytest

from goslim.binary.secrets import scan

# Go glues string literals together without separators, so the samples are glued too.
POSITIVES = [
    (b"statusAKIAIOSFODNN7EXAMPLEnext", "aws-access-key-id", b"IOSFODNN7EXAMPLE"),
    (b"xghp_FAKEfakeFAKEfakeFAKEfakeFAKEfake0123abc", "github-token", b"FAKEfakeFAKEfake"),
    (b"errpostgres://app:N0tARealPassw0rd@db.example.internal:5432/app", "url-password", b"N0tARealPassw0rd"),
    (b"svc:Fake-DSN-Pass-42@tcp(mysql:3306)/orders", "dsn-password", b"Fake-DSN-Pass-42"),
    (b"host=db user=app password=Sup3rSecretVal dbname=x", "dsn-password", b"Sup3rSecretVal"),
    (
        b"-----BEGIN RSA PRIVATE KEY-----\n" + b"QUJD" * 40 + b"\n-----END RSA PRIVATE KEY-----",
        "private-key",
        b"QUJDQUJD",
    ),
    (b"sk_live_" + b"4eC39HqLyjWDarjtT1zdp7dc", "stripe-secret-key", b"4eC39HqLyjWDarjtT1zdp7dc"),
]

NEGATIVES = [
    b"https://user:password@example.com/",  # documentation placeholder
    b"postgres://${DB_USER}:${DB_PASS}@db/app",
    b"mysql://%s:%s@tcp(%s)/%s",
    b"AKIAXXXXXXXXXXXXXXXX",
    b"-----BEGIN RSA PRIVATE KEY-----",  # a bare header (as crypto/x509 error strings have) is no key
    b"http://127.0.0.1:8080/api/hello",
    b"x509: unsupported elliptic curveinvalid padding",
    b"user:pass@tcp(localhost:3306)/db",
]


@pytest.mark.parametrize(("data", "kind", "secret"), POSITIVES)
def test_found_and_redacted(data: bytes, kind: str, secret: bytes) -> None:
    hits = scan(data)
    assert [h.kind for h in hits] == [kind]
    assert secret.decode() not in hits[0].redacted


@pytest.mark.parametrize("data", NEGATIVES)
def test_no_false_positive(data: bytes) -> None:
    assert scan(data) == []
