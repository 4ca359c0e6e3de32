"""Our own OCI Distribution client (httpx): ping, blobs, uploads, mounts, manifests, tags, auth.

Every HTTP call goes through ``RegistryClient._request``, which adds auth (basic or
bearer tokens fetched from the challenge's realm), retries with exponential backoff on
5xx/429/timeouts/reset connections (never on 401/403/404), and turns a registry's error
JSON into one ``RegistryError`` line naming its code. Plain http is used only for
loopback registries or when ``insecure=True``.
"""

from __future__ import annotations

import base64
import contextlib
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import httpx

from goslim.oci import mediatypes
from goslim.oci.auth import Challenge, Credential, DockerConfigKeychain, Keychain, parse_challenges
from goslim.oci.descriptor import parse_json
from goslim.oci.digest import Digest
from goslim.oci.errors import BlobError, ImageFormatError, RegistryAuthError, RegistryError
from goslim.oci.reference import ImageReference

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
UPLOAD_CHUNK = 1 << 20
Progress = Callable[[Digest, int, int], None]
Opener = Callable[[], IO[bytes]]
_LOGIN_HINT = "run `docker login {host}` (goslim reads ~/.docker/config.json or $DOCKER_CONFIG)"


@dataclass(frozen=True)
class Manifest:
    """A manifest or index as fetched: exact bytes, its media type and digest."""

    data: bytes
    media_type: str
    digest: Digest


class _Retriable(RegistryError):
    """A transient failure; the caller may restart the whole operation."""


class RegistryClient:
    """A client for one or more registries; keeps schemes and tokens per host for its lifetime."""

    def __init__(
        self,
        keychain: Keychain | None = None,
        *,
        insecure: bool = False,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
        chunk_size: int | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.keychain: Keychain = keychain if keychain is not None else DockerConfigKeychain()
        self.insecure = insecure
        self.retries = retries
        self.backoff = backoff
        self.chunk_size = chunk_size
        self._http = httpx.Client(timeout=timeout, transport=transport, verify=verify,
                                  follow_redirects=False, headers={"User-Agent": "goslim"})
        self._bases: dict[str, str] = {}
        self._tokens: dict[tuple[str, str], str] = {}
        self._basic: dict[str, str] = {}
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- endpoints --------------------------------------------------------------------------------

    def ping(self, ref: ImageReference) -> str:
        """Find the base URL of ``ref``'s registry (https, or http for loopback/insecure)."""
        host = ref.api_host
        if host in self._bases:
            return self._bases[host]
        schemes = ["https", "http"] if (self.insecure or ref.is_loopback) else ["https"]
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            for scheme in schemes:
                try:
                    resp = self._http.get(f"{scheme}://{host}/v2/")
                except httpx.TransportError as exc:
                    last = exc
                    continue
                if resp.status_code in RETRY_STATUSES and attempt < self.retries:
                    last = RegistryError(f"HTTP {resp.status_code}")
                    break
                self._bases[host] = f"{scheme}://{host}"
                return self._bases[host]
            if attempt < self.retries:
                self._sleep(self.backoff * 2**attempt)
        hint = "check the address and that the registry is running"
        if not (self.insecure or ref.is_loopback):
            hint += "; for a plain-http registry pass --insecure"
        raise RegistryError(f"cannot reach registry {ref.registry}: {_short(last)}", hint=hint)

    def blob_exists(self, ref: ImageReference, digest: Digest) -> bool:
        resp = self._request("HEAD", ref, f"/blobs/{digest}", ok=(200, 404))
        return resp.status_code == 200

    def upload_blob(
        self,
        ref: ImageReference,
        digest: Digest,
        size: int,
        opener: Opener,
        *,
        mount_from: Iterable[str] = (),
        progress: Progress | None = None,
    ) -> str:
        """Make ``digest`` exist in ``ref``'s repository: 'exists', 'mounted' or 'uploaded'."""
        if self.blob_exists(ref, digest):
            return "exists"
        for source in mount_from:
            if source == ref.repository:
                continue
            q = urllib.parse.urlencode({"mount": str(digest), "from": source})
            resp = self._request("POST", ref, f"/blobs/uploads/?{q}", ok=(201, 202),
                                 actions=("pull", "push"), extra_scopes=(f"repository:{source}:pull",))
            if resp.status_code == 201:
                return "mounted"
            self._cancel(ref, resp)
        for attempt in range(self.retries + 1):
            try:
                self._upload_once(ref, digest, size, opener, progress)
                return "uploaded"
            except _Retriable:
                if attempt == self.retries:
                    raise
                self._sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    def put_manifest(self, ref: ImageReference, identifier: str, data: bytes, media_type: str) -> Digest:
        """PUT a manifest under a tag or digest; the registry's digest must equal ours."""
        expected = Digest.of_bytes(data)
        resp = self._request("PUT", ref, f"/manifests/{identifier}", ok=(200, 201), actions=("pull", "push"),
                             headers={"Content-Type": media_type}, body=lambda: [data])
        returned = resp.headers.get("Docker-Content-Digest")
        if returned and returned != str(expected):
            raise RegistryError(f"registry {ref.registry} stored manifest {ref.repository}:{identifier} as "
                                f"{returned}, expected {expected}", hint="the registry rewrote the manifest")
        return expected

    def get_manifest(self, ref: ImageReference, identifier: str | None = None) -> Manifest:
        """GET a manifest or index (all OCI and Docker types accepted), verified against its digest."""
        ident = identifier or ref.identifier
        resp = self._request("GET", ref, f"/manifests/{ident}", ok=(200,),
                             headers={"Accept": ", ".join(mediatypes.ACCEPT_MANIFESTS)}, missing=f"{ref}")
        data = resp.content
        digest = Digest.of_bytes(data)
        if ":" in ident:  # a digest; tags cannot hold ':' (cosign's "sha256-<hex>.sig" tags are tags)
            want = Digest.parse(ident)
            want.verify_bytes(data, what=f"manifest {ref.name}@")
        else:
            header = resp.headers.get("Docker-Content-Digest")
            if header and header.startswith("sha256:") and header != str(digest):
                raise BlobError(f"manifest {ref} hashes to {digest} but the registry says {header}")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        doc = parse_json(data, what=f"manifest {ref}")
        body_type = doc.get("mediaType") if isinstance(doc, dict) else None
        if not isinstance(doc, dict) or not isinstance(body_type, str | None):
            raise ImageFormatError(f"manifest {ref} is not a JSON object with a string mediaType")
        if body_type and media_type and media_type not in (body_type, "application/json"):
            raise ImageFormatError(f"manifest {ref} says mediaType {body_type}, served as {media_type}")
        return Manifest(data, body_type or media_type, digest)

    def fetch_blob(self, ref: ImageReference, digest: Digest) -> Iterator[bytes]:
        """Stream a blob's bytes (the caller verifies the digest while writing them)."""
        resp = self._request("GET", ref, f"/blobs/{digest}", ok=(200,), stream=True, missing=f"blob {digest}")
        try:
            yield from resp.iter_bytes(UPLOAD_CHUNK)
        except httpx.TransportError as exc:
            raise RegistryError(f"download of {digest} from {ref.registry} failed: {_short(exc)}") from exc
        finally:
            resp.close()

    def list_tags(self, ref: ImageReference) -> list[str]:
        """All tags of ``ref``'s repository (following pagination)."""
        tags: list[str] = []
        path: str | None = "/tags/list"
        while path:
            resp = self._request("GET", ref, path, ok=(200,), missing=f"repository {ref.name}")
            try:
                page = resp.json()
            except ValueError as exc:
                raise RegistryError(f"{ref.registry}: tag list of {ref.repository} is not JSON") from exc
            found = page.get("tags") if isinstance(page, dict) else None
            tags.extend(str(t) for t in found or [])
            nxt = resp.links.get("next", {}).get("url")
            path = None
            if nxt:
                path = urllib.parse.urljoin(str(resp.url), nxt)
        return tags

    # -- uploads ----------------------------------------------------------------------------------

    def _upload_once(self, ref: ImageReference, digest: Digest, size: int, opener: Opener,
                     progress: Progress | None) -> None:
        resp = self._request("POST", ref, "/blobs/uploads/", ok=(202,), actions=("pull", "push"),
                             headers={"Content-Length": "0"})
        location = _location(resp)
        chunk = self.chunk_size
        if chunk and size > chunk:
            sent = 0
            with opener() as fh:
                while sent < size:
                    data = fh.read(chunk)
                    if not data:
                        raise BlobError(f"blob {digest} ended after {sent} of {size} bytes")
                    headers = {"Content-Type": "application/octet-stream",
                               "Content-Range": f"{sent}-{sent + len(data) - 1}",
                               "Content-Length": str(len(data))}
                    resp = self._request("PATCH", ref, location, ok=(202,), actions=("pull", "push"),
                                         headers=headers, body=lambda d=data: [d], retry=False)
                    location = _location(resp)
                    sent += len(data)
                    if progress:
                        progress(digest, sent, size)
            done = self._request("PUT", ref, _with_digest(location, digest), ok=(201, 204),
                                 actions=("pull", "push"), headers={"Content-Length": "0"}, retry=False)
            _check_stored_digest(done, digest, ref)
            return

        def body() -> Iterator[bytes]:
            sent = 0
            with opener() as fh:
                while data := fh.read(UPLOAD_CHUNK):
                    sent += len(data)
                    yield data
                    if progress:
                        progress(digest, sent, size)

        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        done = self._request("PUT", ref, _with_digest(location, digest), ok=(201, 204),
                             actions=("pull", "push"), headers=headers, body=body, retry=False)
        _check_stored_digest(done, digest, ref)

    def _cancel(self, ref: ImageReference, resp: httpx.Response) -> None:
        # A stale upload session expires on its own, so a failed cancel is not an error.
        with contextlib.suppress(RegistryError):
            self._request("DELETE", ref, _location(resp), ok=(200, 202, 204, 404), actions=("pull", "push"),
                          retry=False)

    # -- transport --------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        ref: ImageReference,
        path: str,
        *,
        ok: tuple[int, ...],
        actions: tuple[str, ...] = ("pull",),
        extra_scopes: tuple[str, ...] = (),
        headers: dict[str, str] | None = None,
        body: Callable[[], Iterable[bytes]] | None = None,
        stream: bool = False,
        retry: bool = True,
        missing: str | None = None,
    ) -> httpx.Response:
        base = self.ping(ref)
        url = path if path.startswith(("http://", "https://")) else f"{base}/v2/{ref.repository}{path}"
        scope = " ".join((f"repository:{ref.repository}:{','.join(actions)}", *extra_scopes))
        authed = False
        attempt = 0
        redirects = 0
        while True:
            req_headers = dict(headers or {})
            auth = self._auth_header(ref.api_host, scope)
            # Credentials go only to the registry itself, never to a redirect target (object storage).
            if auth and urllib.parse.urlparse(url).netloc == ref.api_host:
                req_headers["Authorization"] = auth
            try:
                content = body() if body is not None else None
                request = self._http.build_request(method, url, headers=req_headers, content=content)
                resp = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                if retry and attempt < self.retries:
                    self._sleep(self.backoff * 2**attempt)
                    attempt += 1
                    continue
                raise _Retriable(f"{method} {_path(url)} on {ref.registry} failed: {_short(exc)}",
                                 hint="the registry dropped the connection; try again") from exc
            if resp.status_code in REDIRECTS and method in ("GET", "HEAD") and "Location" in resp.headers:
                resp.close()
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise RegistryError(f"{ref.registry}: too many redirects for {method} {_path(url)}")
                url = urllib.parse.urljoin(url, resp.headers["Location"])
                continue
            if resp.status_code == 401 and not authed:
                resp.close()
                authed = True
                self._authenticate(resp, ref, scope)
                continue
            if resp.status_code in RETRY_STATUSES:
                if retry and attempt < self.retries:
                    resp.close()
                    self._sleep(_retry_after(resp) or self.backoff * 2**attempt)
                    attempt += 1
                    continue
                if stream:
                    resp.read()
                raise _Retriable(_error_line(resp, method, url, ref), status=resp.status_code,
                                 code=_error_code(resp))
            if resp.status_code not in ok:
                if stream:
                    resp.read()
                raise self._error(resp, method, url, ref, missing)
            return resp

    def _error(self, resp: httpx.Response, method: str, url: str, ref: ImageReference,
               missing: str | None) -> RegistryError:
        code = _error_code(resp)
        line = _error_line(resp, method, url, ref)
        if resp.status_code == 401:
            return RegistryAuthError(f"registry {ref.registry} refused the credentials: {line}",
                                     status=401, code=code, hint=_LOGIN_HINT.format(host=ref.registry))
        if resp.status_code == 403:
            return RegistryAuthError(f"access to {ref.name} denied: {line}", status=403, code=code,
                                     hint="check that your account may push/pull this repository")
        if resp.status_code == 404 and missing:
            return RegistryError(f"{missing} not found on {ref.registry} ({code or 'HTTP 404'})", status=404,
                                 code=code, hint="check the repository, tag and digest")
        return RegistryError(line, status=resp.status_code, code=code)

    def _auth_header(self, host: str, scope: str) -> str | None:
        return self._tokens.get((host, scope)) or self._basic.get(host)

    def _authenticate(self, resp: httpx.Response, ref: ImageReference, scope: str) -> None:
        challenges = parse_challenges(resp.headers.get_list("www-authenticate"))
        cred = self.keychain.resolve(ref.registry)
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        if bearer is not None:
            self._tokens[(ref.api_host, scope)] = f"Bearer {self._fetch_token(bearer, ref, scope, cred)}"
            return
        if basic is not None:
            if cred is None or not cred.has_basic:
                raise RegistryAuthError(
                    f"registry {ref.registry} requires credentials for {ref.repository} (HTTP 401) "
                    "and none were found", status=401, code=_error_code(resp),
                    hint=_LOGIN_HINT.format(host=ref.registry))
            self._basic[ref.api_host] = _basic_header(cred)
            return
        raise RegistryAuthError(f"registry {ref.registry} answered 401 without a usable challenge",
                                status=401, hint=_LOGIN_HINT.format(host=ref.registry))

    def _fetch_token(self, challenge: Challenge, ref: ImageReference, scope: str,
                     cred: Credential | None) -> str:
        if cred is not None and cred.registry_token:
            return cred.registry_token
        realm = challenge.params.get("realm", "")
        parsed = urllib.parse.urlparse(realm)
        if parsed.scheme not in ("https", "http") or (parsed.scheme == "http" and not
                                                      (self.insecure or ref.is_loopback)):
            raise RegistryAuthError(f"registry {ref.registry} points to an unsafe token realm '{realm}'",
                                    hint="token realms must be https")
        scopes = scope.split(" ")
        service = challenge.params.get("service")
        params: list[tuple[str, str]] = [("scope", s) for s in scopes]
        if service:
            params.insert(0, ("service", service))
        try:
            if cred is not None and cred.identity_token:
                form = {"grant_type": "refresh_token", "refresh_token": cred.identity_token,
                        "client_id": "goslim", "scope": " ".join(scopes)}
                if service:
                    form["service"] = service
                resp = self._http.post(realm, data=form)
                if resp.status_code in (404, 405):  # token servers without the OAuth2 POST: plain GET
                    resp = self._http.get(realm, params=params)
            else:
                basic = cred is not None and cred.has_basic
                headers = {"Authorization": _basic_header(cred)} if basic else {}
                resp = self._http.get(realm, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise RegistryError(
                f"cannot reach token server {parsed.netloc} for {ref.registry}: {_short(exc)}"
            ) from exc
        if resp.status_code in (401, 403):
            what = "refused our credentials" if cred else "requires credentials"
            raise RegistryAuthError(f"token server for {ref.registry} {what} for {ref.repository} "
                                    f"(HTTP {resp.status_code})", status=resp.status_code,
                                    hint=_LOGIN_HINT.format(host=ref.registry))
        if resp.status_code != 200:
            raise RegistryError(f"token server for {ref.registry} answered HTTP {resp.status_code}",
                                status=resp.status_code)
        try:
            data = resp.json()
        except ValueError as exc:
            raise RegistryError(f"token server for {ref.registry} returned invalid JSON") from exc
        token = data.get("token") or data.get("access_token")
        if not token:
            raise RegistryError(f"token server for {ref.registry} returned no token")
        return str(token)


def _check_stored_digest(resp: httpx.Response, digest: Digest, ref: ImageReference) -> None:
    """The registry names the digest it stored; it must be the one we computed."""
    stored = resp.headers.get("Docker-Content-Digest")
    if stored and stored != str(digest):
        raise RegistryError(f"registry {ref.registry} stored blob {digest} as {stored}",
                            hint="the upload was altered in transit or by a proxy; try again")


def _basic_header(cred: Credential | None) -> str:
    assert cred is not None and cred.username is not None
    raw = f"{cred.username}:{cred.password or ''}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _location(resp: httpx.Response) -> str:
    loc = resp.headers.get("Location")
    if not loc:
        raise RegistryError(f"registry answered {resp.status_code} to {resp.request.method} with no Location")
    return urllib.parse.urljoin(str(resp.request.url), loc)


def _with_digest(location: str, digest: Digest) -> str:
    sep = "&" if "?" in location else "?"
    return f"{location}{sep}digest={urllib.parse.quote(str(digest), safe='')}"


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("Retry-After", "")
    try:
        return min(float(value), 30.0)
    except ValueError:
        return None


def _error_code(resp: httpx.Response) -> str | None:
    try:
        errors = resp.json().get("errors") or []
    except (ValueError, AttributeError):
        return None
    return str(errors[0].get("code")) if errors and isinstance(errors[0], dict) else None


def _error_line(resp: httpx.Response, method: str, url: str, ref: ImageReference) -> str:
    detail = ""
    try:
        data: Any = resp.json()
        errors = data.get("errors") or []
        if errors and isinstance(errors[0], dict):
            first = errors[0]
            detail = f"{first.get('code', 'ERROR')}: {first.get('message', '')}".rstrip(": ")
    except (ValueError, AttributeError):
        detail = resp.text.strip().splitlines()[0][:120] if resp.text.strip() else ""
    out = f"{ref.registry}: {method} {_path(url)} -> HTTP {resp.status_code}"
    return f"{out} {detail}" if detail else out


def _path(url: str) -> str:
    return urllib.parse.urlparse(url).path


def _short(exc: object) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:160]
