"""The registry client's bounds, against in-memory registries: caps, realms, redirects and limits."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest

from goslim.errors import UserInputError
from goslim.oci import mediatypes
from goslim.oci.auth import Credential, StaticKeychain
from goslim.oci.digest import Digest
from goslim.oci.errors import BlobError, RegistryLimitError, RegistryUnsafeError
from goslim.oci.reference import ImageReference
from goslim.oci.registry import RegistryClient
from goslim.oci.transport import RegistryLimits, until

LOCAL = ImageReference.parse("127.0.0.1:5000/team/app:v1")
REMOTE = ImageReference.parse("reg.example/team/app:v1")
BLOB = b"layer bytes" * 10
DIGEST = Digest.of_bytes(BLOB)
CREDS = StaticKeychain({"127.0.0.1:5000": Credential("u", "p"), "reg.example": Credential("u", "p")})


def _client(handler, **kw) -> RegistryClient:
    return RegistryClient(kw.pop("keychain", CREDS), transport=httpx.MockTransport(handler),
                          sleep=lambda _s: None, **kw)


def test_a_manifest_past_the_cap_is_refused() -> None:
    big = json.dumps({"mediaType": mediatypes.OCI_MANIFEST, "pad": "x" * 2000}).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200)
        # A stream without Content-Length: only counting the bytes can stop it.
        return httpx.Response(200, content=iter([big[:1000], big[1000:]]),
                              headers={"Content-Type": mediatypes.OCI_MANIFEST})

    client = _client(handler, limits=RegistryLimits(max_document=1000))
    with pytest.raises(RegistryLimitError, match="larger than 1000 bytes"):
        client.get_manifest(REMOTE)


def test_an_announced_oversize_blob_is_refused_before_reading() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200)
        return httpx.Response(200, content=BLOB, headers={"Content-Length": str(1 << 40)})

    with pytest.raises(RegistryLimitError, match="announces 1099511627776 bytes"):
        b"".join(_client(handler).fetch_blob(REMOTE, DIGEST, len(BLOB)))


def test_a_blob_longer_than_its_descriptor_or_corrupt_fails() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200)
        return httpx.Response(200, content=iter([BLOB, b"more"]))

    with pytest.raises(RegistryLimitError, match="longer than its descriptor size"):
        b"".join(_client(handler).fetch_blob(REMOTE, DIGEST, len(BLOB)))
    with pytest.raises(BlobError, match="corrupt"):
        b"".join(_client(handler).fetch_blob(REMOTE, Digest.of_bytes(b"other"), len(BLOB) + 4))


def _bearer(realm: str):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            seen.append(request)
            return httpx.Response(200, json={"token": "t"})
        if request.headers.get("Authorization") == "Bearer t":
            return httpx.Response(200, content=BLOB)
        return httpx.Response(401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'})

    return handler, seen


@pytest.mark.parametrize("ref,realm", [
    (LOCAL, "http://127.0.0.2:5001/token"),  # loopback, but another host
    (LOCAL, "http://auth.example/token"),
    (REMOTE, "http://auth.example/token"),
    (REMOTE, "ftp://auth.example/token"),
])
def test_plain_http_realm_on_another_host_is_refused(ref: ImageReference, realm: str) -> None:
    handler, seen = _bearer(realm)
    with pytest.raises(RegistryUnsafeError, match="token realm") as info:
        _client(handler).blob_exists(ref, DIGEST)
    assert realm in info.value.one_line()
    assert seen == []


@pytest.mark.parametrize("ref,realm", [
    (LOCAL, "http://127.0.0.1:5001/token"),  # the loopback registry's own host
    (REMOTE, "https://auth.example/token"),
])
def test_https_realm_or_same_loopback_host_is_used(ref: ImageReference, realm: str) -> None:
    handler, seen = _bearer(realm)
    assert _client(handler).blob_exists(ref, DIGEST)
    assert seen and seen[0].headers["Authorization"].startswith("Basic ")


def test_no_credentials_over_plain_http_to_a_remote_registry() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            raise httpx.ConnectError("no tls here")
        if request.url.path == "/v2/":
            return httpx.Response(200)
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})

    with pytest.raises(RegistryUnsafeError, match="plain http"):
        _client(handler, insecure=True).blob_exists(REMOTE, DIGEST)


def test_redirect_to_another_host_drops_the_authorization() -> None:
    seen: dict[str, str | None] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = request.headers.get("Authorization")
        if request.url.host == "storage.example":
            return httpx.Response(200, content=BLOB)
        if request.url.path == "/v2/":
            return httpx.Response(200)
        if request.headers.get("Authorization") is None:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        return httpx.Response(307, headers={"Location": "https://storage.example/b"})

    assert b"".join(_client(handler).fetch_blob(REMOTE, DIGEST, len(BLOB))) == BLOB
    assert seen["reg.example"] and seen["storage.example"] is None


def test_limits_from_the_environment() -> None:
    limits = RegistryLimits.from_env({"GOSLIM_REGISTRY_DEADLINE": "5", "GOSLIM_REGISTRY_MIN_RATE": "1000"})
    assert limits.deadline == 5 and limits.socket_timeout == 5
    assert limits.blob_deadline(1_000_000) == 1000
    assert RegistryLimits.from_env({}) == RegistryLimits()
    with pytest.raises(UserInputError, match="GOSLIM_REGISTRY_DEADLINE"):
        RegistryLimits.from_env({"GOSLIM_REGISTRY_DEADLINE": "soon"})


def test_the_deadline_bounds_a_trickling_socket() -> None:
    """The real transport: a byte every 0.2 s is cut at the deadline; the idle timeout never fires."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while not stop.wait(0.2):
            try:
                conn.sendall(b"x")
            except OSError:
                break
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    client = RegistryClient(StaticKeychain({}), limits=RegistryLimits(deadline=1.0, idle=30.0))
    start = time.monotonic()
    try:
        with until(time.monotonic() + 1.0), pytest.raises(httpx.TimeoutException):
            client._http.get(f"http://127.0.0.1:{server.getsockname()[1]}/")
    finally:
        stop.set()
        server.close()
        client.close()
    assert time.monotonic() - start < 10  # a guard against hanging; the idle timeout alone never fires



def test_a_trickled_blob_fails_after_the_grace_whatever_size_it_claims() -> None:
    """A 1 GiB descriptor would get a size-scaled deadline of hours; progress-based, it ends soon."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=_answer, args=(conn, stop), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    ref = ImageReference.parse(f"127.0.0.1:{server.getsockname()[1]}/team/app:v1")
    client = RegistryClient(StaticKeychain({}), limits=RegistryLimits(deadline=1.0), retries=0)
    try:
        with pytest.raises(RegistryLimitError, match="too slow"):
            b"".join(client.fetch_blob(ref, DIGEST, 1 << 30))
    finally:
        stop.set()
        server.close()
        client.close()


def _answer(conn: socket.socket, stop: threading.Event) -> None:
    """/v2/: 200 at once; anything else: headers for 1 GiB, then a byte every 0.1 s."""
    conn.settimeout(5)
    try:
        request = conn.recv(65536)
        if request.startswith(b"GET /v2/ "):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
        while not stop.wait(0.1):
            conn.sendall(b"x")
    except OSError:
        pass
    finally:
        conn.close()


def test_a_cut_manifest_body_is_retried() -> None:
    calls: list[int] = []

    def cut_once():
        yield b'{"mediaType":'
        raise httpx.ReadError("connection reset mid-body")

    body = json.dumps({"mediaType": mediatypes.OCI_MANIFEST, "schemaVersion": 2}).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200)
        calls.append(1)
        content = cut_once() if len(calls) == 1 else iter([body])
        return httpx.Response(200, content=content, headers={"Content-Type": mediatypes.OCI_MANIFEST})

    assert _client(handler).get_manifest(REMOTE).data == body
    assert len(calls) == 2
