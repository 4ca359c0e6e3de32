"""RegistryClient HTTP behaviour against an in-process fake registry (httpx.MockTransport).

Covers what a real registry cannot be made to do on demand: 5xx/429 retries, bearer
token exchange, error JSON lines. The real docker-registry is exercised in integration tests.
"""

from __future__ import annotations

import io
import json

import httpx
import pytest

from goslim.oci import Credential, Digest, RegistryAuthError, RegistryError, StaticKeychain
from goslim.oci.mediatypes import OCI_MANIFEST
from goslim.oci.reference import ImageReference
from goslim.oci.registry import RegistryClient

BLOB = b"some blob bytes"
DIGEST = Digest.of_bytes(BLOB)


class FakeRegistry:
    """Minimal Distribution API: blobs via POST+PUT, manifests, optional bearer auth and failures."""

    def __init__(self, *, fail_first: int = 0, fail_status: int = 503, bearer: bool = False) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.bearer = bearer
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, bytes] = {}
        self.log: list[str] = []
        self.token_requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.log.append(f"{request.method} {request.url.scheme} {path}")
        if request.url.host == "auth.example":
            self.token_requests.append(request)
            if request.headers.get("Authorization") != "Basic dTpw":
                return httpx.Response(401, json={"errors": [{"code": "UNAUTHORIZED", "message": "bad"}]})
            return httpx.Response(200, json={"token": "tkn"})
        if path == "/v2/":
            return httpx.Response(200)
        if self.bearer and request.headers.get("Authorization") != "Bearer tkn":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.example/token",'
                                                'service="reg",scope="repository:team/app:pull"'},
                                  json={"errors": [{"code": "UNAUTHORIZED", "message": "auth required"}]})
        if self.fail_first > 0:
            self.fail_first -= 1
            return httpx.Response(self.fail_status, headers={"Retry-After": "0"},
                                  json={"errors": [{"code": "UNAVAILABLE", "message": "busy"}]})
        if request.method == "HEAD" and "/blobs/" in path:
            return httpx.Response(200 if path.rsplit("/", 1)[1] in self.blobs else 404)
        if request.method == "POST" and path.endswith("/blobs/uploads/"):
            return httpx.Response(202, headers={"Location": "/v2/team/app/blobs/uploads/u1?_state=x"})
        if request.method == "PUT" and "/blobs/uploads/" in path:
            assert request.url.params["_state"] == "x"
            self.blobs[request.url.params["digest"]] = request.read()
            return httpx.Response(201)
        if request.method == "PUT" and "/manifests/" in path:
            body = request.read()
            self.manifests[path.rsplit("/", 1)[1]] = body
            return httpx.Response(201, headers={"Docker-Content-Digest": str(Digest.of_bytes(body))})
        if request.method == "GET" and "/manifests/" in path:
            ident = path.rsplit("/", 1)[1]
            if ident not in self.manifests:
                return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN",
                                                             "message": "manifest unknown"}]})
            body = self.manifests[ident]
            return httpx.Response(200, content=body, headers={"Content-Type": json.loads(body)["mediaType"]})
        return httpx.Response(405, json={"errors": [{"code": "UNSUPPORTED", "message": "nope"}]})


def _client(fake: FakeRegistry, **kw) -> RegistryClient:
    return RegistryClient(kw.pop("keychain", StaticKeychain({})), transport=httpx.MockTransport(fake),
                          sleep=lambda _s: None, **kw)


REF = ImageReference.parse("reg.example/team/app:v1")


def test_upload_then_exists_over_https() -> None:
    fake = FakeRegistry()
    client = _client(fake)
    assert client.upload_blob(REF, DIGEST, len(BLOB), lambda: io.BytesIO(BLOB)) == "uploaded"
    assert fake.blobs[str(DIGEST)] == BLOB
    assert client.upload_blob(REF, DIGEST, len(BLOB), lambda: io.BytesIO(BLOB)) == "exists"
    assert all(" https " in line for line in fake.log)


def test_retries_on_503_and_429_but_not_404() -> None:
    fake = FakeRegistry(fail_first=2)
    client = _client(fake)
    assert not client.blob_exists(REF, DIGEST)
    assert sum("HEAD" in line for line in fake.log) == 3
    fake429 = FakeRegistry(fail_first=1, fail_status=429)
    assert not _client(fake429).blob_exists(REF, DIGEST)
    fake404 = FakeRegistry()
    with pytest.raises(RegistryError, match="MANIFEST_UNKNOWN"):
        _client(fake404).get_manifest(REF)
    assert sum("GET https /v2/team/app/manifests" in line for line in fake404.log) == 1


def test_gives_up_after_retries_with_code() -> None:
    fake = FakeRegistry(fail_first=10)
    with pytest.raises(RegistryError, match="HTTP 503 UNAVAILABLE: busy") as info:
        _client(fake, retries=2).blob_exists(REF, DIGEST)
    assert info.value.code == "UNAVAILABLE"


def test_bearer_token_flow_with_basic_credentials() -> None:
    fake = FakeRegistry(bearer=True)
    client = _client(fake, keychain=StaticKeychain({"reg.example": Credential("u", "p")}))
    assert not client.blob_exists(REF, DIGEST)
    req = fake.token_requests[0]
    assert req.url.params["service"] == "reg"
    assert req.url.params["scope"] == "repository:team/app:pull"


def test_bearer_without_credentials_is_one_line() -> None:
    fake = FakeRegistry(bearer=True)
    with pytest.raises(RegistryAuthError, match=r"token server for reg\.example requires") as info:
        _client(fake).blob_exists(REF, DIGEST)
    assert "docker login reg.example" in (info.value.hint or "")


def test_manifest_put_get_roundtrip_and_digest_check() -> None:
    fake = FakeRegistry()
    client = _client(fake)
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode()
    digest = client.put_manifest(REF, "v1", body, OCI_MANIFEST)
    got = client.get_manifest(REF)
    assert got.digest == digest and got.data == body
    fake.manifests[str(digest)] = body + b" "
    with pytest.raises(Exception, match="corrupt"):
        client.get_manifest(REF, str(digest))


def test_blob_redirect_is_followed_without_credentials() -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get("Authorization")))
        if request.url.path == "/v2/":
            return httpx.Response(200)
        if request.url.host == "reg.example":
            return httpx.Response(307, headers={"Location": "https://storage.example/blob?sig=1"})
        return httpx.Response(200, content=BLOB)

    client = RegistryClient(StaticKeychain({}), transport=httpx.MockTransport(handler))
    client._basic["reg.example"] = "Basic dTpw"  # as if the registry had asked for basic auth
    assert b"".join(client.fetch_blob(REF, DIGEST)) == BLOB
    assert seen[-2] == ("reg.example", "Basic dTpw")
    assert seen[-1] == ("storage.example", None)


def test_plain_http_only_for_loopback_or_insecure() -> None:
    def refuse_tls(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            raise httpx.ConnectError("tls handshake failed")
        return httpx.Response(200)

    remote = ImageReference.parse("reg.example/a:b")
    with pytest.raises(RegistryError, match=r"cannot reach registry reg\.example") as info:
        RegistryClient(StaticKeychain({}), transport=httpx.MockTransport(refuse_tls), retries=0).ping(remote)
    assert "--insecure" in (info.value.hint or "")
    insecure = RegistryClient(StaticKeychain({}), transport=httpx.MockTransport(refuse_tls), retries=0,
                              insecure=True)
    assert insecure.ping(remote) == "http://reg.example"
    local = RegistryClient(StaticKeychain({}), transport=httpx.MockTransport(refuse_tls), retries=0)
    assert local.ping(ImageReference.parse("127.0.0.1:5000/a")) == "http://127.0.0.1:5000"


def test_upload_restarts_after_a_reset_connection() -> None:
    fake = FakeRegistry()
    resets = {"left": 1}

    def flaky(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and "/blobs/uploads/" in request.url.path and resets["left"]:
            resets["left"] -= 1
            raise httpx.RemoteProtocolError("connection reset by peer")
        return fake(request)

    client = RegistryClient(StaticKeychain({}), transport=httpx.MockTransport(flaky), sleep=lambda _s: None)
    assert client.upload_blob(REF, DIGEST, len(BLOB), lambda: io.BytesIO(BLOB)) == "uploaded"
    assert fake.blobs[str(DIGEST)] == BLOB
    assert sum(line.startswith("POST") for line in fake.log) == 2  # a fresh upload session after the reset


def test_identity_token_uses_oauth2_post() -> None:
    posts: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            form = dict(httpx.QueryParams(request.read().decode()))
            posts.append(form)
            return httpx.Response(200, json={"access_token": "tkn"})
        if request.url.path == "/v2/":
            return httpx.Response(200)
        if request.headers.get("Authorization") != "Bearer tkn":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.example/t",'
                                                'service="reg"'})
        return httpx.Response(404)

    client = RegistryClient(StaticKeychain({"reg.example": Credential(identity_token="refresh-me")}),
                            transport=httpx.MockTransport(handler), sleep=lambda _s: None)
    assert not client.blob_exists(REF, DIGEST)
    assert posts == [{"grant_type": "refresh_token", "refresh_token": "refresh-me", "client_id": "goslim",
                      "scope": "repository:team/app:pull", "service": "reg"}]
