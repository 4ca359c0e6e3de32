"""Credentials embedded in a binary: a few precise patterns, shown redacted.

Go packs string literals back to back without separators, so a pattern anchors on a
distinctive prefix and a fixed shape instead of on word boundaries at both ends. Obvious
placeholders ("password", "changeme", "${VAR}", "%s") are skipped to keep false positives low.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PER_KIND = 5


@dataclass(frozen=True)
class SecretHit:
    kind: str
    redacted: str
    offset: int


_TOKEN_PATTERNS: list[tuple[str, re.Pattern[bytes]]] = [
    ("aws-access-key-id", re.compile(rb"A(?:KIA|SIA|BIA|CCA)[A-Z2-7]{16}")),
    ("github-token", re.compile(rb"gh[pousr]_[A-Za-z0-9]{36}")),
    ("github-token", re.compile(rb"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}")),
    ("slack-token", re.compile(rb"xox[abposr]-[0-9]{8,13}-[0-9A-Za-z-]{8,}")),
    ("stripe-secret-key", re.compile(rb"k_live_[0-9A-Za-z]{24,99}")),  # after "s" or "r", checked below
    ("google-api-key", re.compile(rb"AIza[0-9A-Za-z_\-]{35}")),
    (
        "private-key",
        re.compile(
            rb"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----\r?\n"
            rb"(?:[A-Za-z0-9-]+: [^\n]*\n)*\r?\n?[A-Za-z0-9+/=\r\n]{64,}"
        ),
    ),
    ("jwt", re.compile(rb"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,}")),
]
# scheme://user:password@host — anchored on "://" (scheme checked separately).
_URL_CREDS = re.compile(
    rb"://([A-Za-z0-9._%~!$&*+=-]{1,64}):([^\s/@:'\"<>\\`{}|^]{3,128})@([A-Za-z0-9.-]{2,253})"
)
# go-sql-driver/mysql DSN: user:password@tcp(host:port)/db — found from "@tcp(", matched backwards.
_MYSQL_AT = re.compile(rb"@(?:tcp|unix)\(")
_MYSQL_PASSWORD = re.compile(rb":([^\s/@:'\"]{3,128})\Z")
# libpq key/value DSN: password=secret, with host=, user= or dbname= shortly before it.
_KV_PASSWORD = re.compile(rb"password=([^\s'\"]{3,128})")
_KV_CONTEXT = re.compile(rb"(?:host|user|dbname)=[^\s'\"]{1,128} ")

_SCHEMES = (
    b"postgres",
    b"postgresql",
    b"mysql",
    b"mongodb",
    b"mongodb+srv",
    b"redis",
    b"rediss",
    b"amqp",
    b"amqps",
    b"http",
    b"https",
    b"ftp",
    b"sftp",
    b"smtp",
    b"smtps",
    b"ldap",
    b"ldaps",
    b"nats",
    b"kafka",
    b"sqlserver",
    b"clickhouse",
    b"git+ssh",
    b"ssh",
)
_PLACEHOLDERS = {
    b"password",
    b"passwd",
    b"pass",
    b"pwd",
    b"secret",
    b"changeme",
    b"example",
    b"xxx",
    b"xxxx",
    b"****",
    b"<password>",
    b"your-password",
    b"yourpassword",
    b"mypassword",
    b"pw",
    b"p@ssw0rd",
    b"token",
    b"user",
}


def redact(value: bytes) -> str:
    """Keep a short prefix so the user can find the value, hide the rest, say how long it was."""
    text = value.decode("ascii", "replace")
    keep = 4 if len(text) >= 12 else 1
    return f"{text[:keep]}…({len(text)} chars)"


def _is_placeholder(secret: bytes) -> bool:
    low = secret.lower()
    if low in _PLACEHOLDERS or low.strip(b"*x.") == b"":
        return True
    return any(mark in secret for mark in (b"${", b"%s", b"%v", b"{{", b"$(", b"<", b">"))


def scan(data: bytes | memoryview, base: int = 0) -> list[SecretHit]:
    """All credential-looking values in ``data`` (``base`` is added to reported offsets).

    Each pattern starts with a literal, which lets ``re`` skip ahead quickly (measured faster
    than locating the prefixes with bytes.find first).
    """
    hits: list[SecretHit] = []
    counts: dict[str, int] = {}

    def add(kind: str, shown: str, offset: int) -> None:
        if counts.get(kind, 0) < MAX_PER_KIND:
            counts[kind] = counts.get(kind, 0) + 1
            hits.append(SecretHit(kind, shown, base + offset))

    for kind, pattern in _TOKEN_PATTERNS:
        for m in pattern.finditer(data):
            token = m.group(0)
            if kind == "stripe-secret-key":
                if m.start() == 0 or data[m.start() - 1] not in b"sr":
                    continue
                token = bytes(data[m.start() - 1 : m.start()]) + token
            if kind == "private-key":
                header = token.split(b"\n", 1)[0].decode("ascii", "replace").strip()
                add(kind, f"{header} …({len(token)} bytes)", m.start())
            elif len(set(token[4:])) > 3:  # "AKIAXXXXXXXXXXXXXXXX" and the like are placeholders
                add(kind, redact(token), m.start())
    for m in _URL_CREDS.finditer(data):
        start = m.start()
        scheme_start = start
        while (
            scheme_start > 0
            and scheme_start > start - 16
            and (chr(data[scheme_start - 1]).isalnum() or data[scheme_start - 1] in b"+.-")
        ):
            scheme_start -= 1
        scheme = bytes(data[scheme_start:start]).lower()
        # The scheme may be glued to an earlier string: accept a known scheme at its end.
        known = next((s for s in sorted(_SCHEMES, key=len, reverse=True) if scheme.endswith(s)), None)
        password = m.group(2)
        if known is None or _is_placeholder(password) or _is_placeholder(m.group(1)):
            continue
        add(
            "url-password",
            f"{known.decode()}://{m.group(1).decode('ascii', 'replace')}:"
            f"{redact(password)}@{m.group(3).decode('ascii', 'replace')}",
            m.start(),
        )
    for m in _MYSQL_AT.finditer(data):
        before = _MYSQL_PASSWORD.search(bytes(data[max(0, m.start() - 130) : m.start()]))
        if before and not _is_placeholder(before.group(1)):
            # The user name may be glued to the string before it, so only the password is shown.
            add("dsn-password", f"…:{redact(before.group(1))}@tcp(…)", m.start() - len(before.group(1)))
    for m in _KV_PASSWORD.finditer(data):
        context = bytes(data[max(0, m.start() - 400) : m.start()])
        if _KV_CONTEXT.search(context) and not _is_placeholder(m.group(1)):
            add("dsn-password", f"password={redact(m.group(1))}", m.start())
    return hits
