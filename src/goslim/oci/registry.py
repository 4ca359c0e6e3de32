"""Our own OCI Distribution client (httpx): ping, blobs, uploads, mounts, manifests, tags, auth.

Every HTTP call goes through ``RegistryClient._request``, which adds auth (basic or
bearer tokens fetched from the challenge's realm), retries with exponential backoff on
5xx/429/timeouts/reset connections (never on 401/403/404), and turns a registry's error
JSON into one ``RegistryError`` line naming its code. Plain http is used only for
loopback registries or when ``insecure=True``; credentials go over plain http only to loopback.

Every answer is bounded (``RegistryLimits``): documents are read up to 4 MiB, blobs never past
their descriptor's size, and each request, retries included, ends by its deadline.
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
from goslim.oci.descriptor import Descriptor, parse_json
from goslim.oci.digest import Digest
from goslim.oci.errors import (
    BlobError,
    ImageFormatError,
    RegistryAuthError,
    RegistryError,
    RegistryLimitError,
    RegistryUnsafeError,
)
from goslim.oci.reference import ImageReference
from goslim.oci.transport import RegistryLimits, bound_by_deadlines, past
from goslim.oci.transport import until as _until

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
UPLOAD_CHUNK = 1 << 20
PARALLEL_UPLOADS = 4  # push sends this many blobs at once, so each may get a quarter of the link
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
        timeout: float | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        chunk_size: int | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str = True,
        sleep: Callable[[float], None] = time.sleep,
        limits: RegistryLimits | None = None,
    ) -> None:
        """``timeout`` bounds a silent socket; ``limits`` (default: from the environment) bound sizes
        and each request's total time, retries included."""
        self.keychain: Keychain = keychain if keychain is not None else DockerConfigKeychain()
        self.insecure = insecure
        self.retries = retries
        self.backoff = backoff
        self.chunk_size = chunk_size
        self.limits = limits if limits is not None else RegistryLimits.from_env()
        socket_timeout = self.limits.socket_timeout if timeout is None else timeout
        # identity: a compressed answer could expand past every cap before we count it.
        self._http = httpx.Client(timeout=socket_timeout, transport=transport, verify=verify,
                                  follow_redirects=False,
                                  headers={"User-Agent": "goslim", "Accept-Encoding": "identity"})
        bound_by_deadlines(self._http)
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
        at = time.monotonic() + self.limits.deadline
        for attempt in range(self.retries + 1):
            for scheme in schemes:
                try:
                    with _until(at):
                        resp = self._http.send(self._http.build_request("GET", f"{scheme}://{host}/v2/"),
                                               stream=True)
                        resp.close()  # only the status matters; the body is not read
                except httpx.TransportError as exc:
                    if past(at):
                        raise _deadline_error(f"GET /v2/ on {ref.registry}", self.limits.deadline) from exc
                    last = exc
                    continue
                if resp.status_code in RETRY_STATUSES and attempt < self.retries:
                    last = RegistryError(f"HTTP {resp.status_code}")
                    break
                self._bases[host] = f"{scheme}://{host}"
                return self._bases[host]
            if attempt == self.retries or not self._backoff(attempt, at):
                break
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
                             headers={"Accept": ", ".join(mediatypes.ACCEPT_MANIFESTS)}, missing=f"{ref}",
                             what=f"manifest {ref.name}:{ident}" if ":" not in ident else f"manifest {ident}")
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

    def fetch_blob(self, ref: ImageReference, digest: Digest, size: int | None = None) -> Iterator[bytes]:
        """Stream a blob's bytes, never past ``size`` (unknown: ``limits.max_unsized_blob``), hashing
        them as they arrive; a wrong size or digest fails at the end, before the stream ends cleanly.

        The transfer has ``limits.deadline`` seconds to start and must then average ``limits.min_rate``:
        its deadline moves on with every byte, so a trickle fails whatever size the descriptor claims.
        """
        cap = self.limits.max_unsized_blob if size is None else size
        grace, rate = self.limits.deadline, self.limits.min_rate
        start = time.monotonic()
        at = start + grace
        what = f"blob {digest} from {ref.registry}"
        resp = self._request("GET", ref, f"/blobs/{digest}", ok=(200,), stream=True, missing=f"blob {digest}",
                             until=at, what=what)
        try:
            _refuse_encoded(resp, what)
            announced = _content_length(resp)
            bound = "its descriptor size" if size is not None else "the limit of"
            if announced is not None and announced > cap:
                raise RegistryLimitError(f"{what} announces {announced} bytes, more than {bound} {cap}",
                                         hint="the registry serves the wrong content; refusing to read it")
            hasher = digest.hasher()
            got = 0
            chunks = _raw_chunks(resp)
            while True:
                try:
                    with _until(at):
                        chunk = next(chunks, None)
                except httpx.TransportError as exc:
                    if past(at):
                        raise _too_slow(what, got, cap, time.monotonic() - start, self.limits) from exc
                    raise RegistryError(f"download of {what} failed: {_short(exc)}") from exc
                if chunk is None:
                    break
                got += len(chunk)
                if got > cap:
                    raise RegistryLimitError(f"{what} is longer than {bound} {cap} bytes; stopped reading")
                if past(at):
                    raise _too_slow(what, got, cap, time.monotonic() - start, self.limits)
                at = start + grace + got / rate
                hasher.update(chunk)
                yield chunk
            if size is not None and got != size:
                raise BlobError(f"{what} ended after {got} of {size} bytes")
            if hasher.hexdigest() != digest.hex:
                raise BlobError(f"{what} is corrupt: it hashes to {digest.algorithm}:{hasher.hexdigest()}")
        finally:
            resp.close()

    def fetch_config(self, ref: ImageReference, desc: Descriptor) -> bytes:
        """An image config's bytes: at most ``limits.max_document``, exactly ``desc.size``, a JSON object."""
        cap = self.limits.max_document
        if desc.size > cap:
            raise RegistryLimitError(f"config {desc.digest} of {ref} claims {desc.size} bytes, more than "
                                     f"the {_mib(cap)} a config may have",
                                     hint="the manifest is not a usable image")
        data = b"".join(self.fetch_blob(ref, desc.digest, desc.size))
        doc = parse_json(data, what=f"config of {ref}")
        if not isinstance(doc, dict):
            raise ImageFormatError(f"config of {ref} is not a JSON object",
                                   hint="the registry serves something that is not an image config")
        return data

    def list_tags(self, ref: ImageReference) -> list[str]:
        """All tags of ``ref``'s repository (following pagination)."""
        tags: list[str] = []
        path: str | None = "/tags/list"
        while path:
            resp = self._request("GET", ref, path, ok=(200,), missing=f"repository {ref.name}",
                                 what=f"tag list of {ref.name}")
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
                                         headers=headers, body=lambda d=data: [d], retry=False,
                                         until=self._upload_deadline(len(data)))
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
                             actions=("pull", "push"), headers=headers, body=body, retry=False,
                             until=self._upload_deadline(size))
        _check_stored_digest(done, digest, ref)

    def _upload_deadline(self, size: int) -> float:
        return time.monotonic() + self.limits.blob_deadline(size * PARALLEL_UPLOADS)

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
        until: float | None = None,
        what: str | None = None,
    ) -> httpx.Response:
        """Send one request with auth, redirects and retries, all done by ``until`` (default: now +
        ``limits.deadline``). Unless ``stream``, the body is read, capped at ``limits.max_document``."""
        at = until if until is not None else time.monotonic() + self.limits.deadline
        seconds = max(at - time.monotonic(), 0.0)
        base = self.ping(ref)
        url = path if path.startswith(("http://", "https://")) else f"{base}/v2/{ref.repository}{path}"
        scope = " ".join((f"repository:{ref.repository}:{','.join(actions)}", *extra_scopes))
        label = f"{method} {_path(url)} on {ref.registry}"
        authed = False
        attempt = 0
        redirects = 0
        while True:
            req_headers = dict(headers or {})
            auth = self._auth_header(ref.api_host, scope)
            # Credentials go only to the registry itself, never to a redirect target (object storage).
            if auth and _same_origin(url, base):
                req_headers["Authorization"] = auth
            try:
                with _until(at):
                    content = body() if body is not None else None
                    request = self._http.build_request(method, url, headers=req_headers, content=content)
                    resp = self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                if past(at):
                    raise _deadline_error(label, seconds) from exc
                if retry and attempt < self.retries and self._backoff(attempt, at):
                    attempt += 1
                    continue
                raise _Retriable(f"{label} failed: {_short(exc)}",
                                 hint="the registry dropped the connection; try again") from exc
            if resp.status_code in REDIRECTS and method in ("GET", "HEAD") and "Location" in resp.headers:
                resp.close()
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise RegistryError(f"{ref.registry}: too many redirects for {method} {_path(url)}")
                url = urllib.parse.urljoin(url, resp.headers["Location"])
                continue
            if resp.status_code == 401 and not authed:
                self._read_error_body(resp, at)
                authed = True
                try:
                    with _until(at):
                        self._authenticate(resp, ref, scope, base)
                except httpx.TransportError as exc:
                    if past(at):
                        raise _deadline_error(f"token request for {ref.registry}", seconds) from exc
                    raise
                continue
            if resp.status_code in RETRY_STATUSES:
                delay = _retry_after(resp)
                if retry and attempt < self.retries and self._backoff(attempt, at, delay):
                    resp.close()
                    attempt += 1
                    continue
                self._read_error_body(resp, at)
                raise _Retriable(_error_line(resp, method, url, ref), status=resp.status_code,
                                 code=_error_code(resp))
            if resp.status_code not in ok:
                self._read_error_body(resp, at)
                raise self._error(resp, method, url, ref, missing)
            if stream:
                return resp
            try:
                return self._read_document(resp, at, seconds, what or label)
            except httpx.TransportError as exc:  # the body was cut: as retriable as a dropped request
                if retry and attempt < self.retries and self._backoff(attempt, at):
                    attempt += 1
                    continue
                raise _Retriable(f"{label} failed: {_short(exc)}",
                                 hint="the registry dropped the connection; try again") from exc

    def _backoff(self, attempt: int, at: float, delay: float | None = None) -> bool:
        """Sleep before retry ``attempt + 1``; False when the request's deadline would pass first."""
        wait = delay if delay is not None else self.backoff * 2**attempt
        if time.monotonic() + wait >= at:
            return False
        self._sleep(wait)
        return True

    def _read_document(self, resp: httpx.Response, at: float, seconds: float, what: str) -> httpx.Response:
        """The answer with its body read, refused past ``limits.max_document`` or past the deadline
        (a cut body raises the transport's error, for the caller to retry)."""
        cap = self.limits.max_document
        try:
            _refuse_encoded(resp, what)
            announced = _content_length(resp)
            if announced is not None and announced > cap:
                raise RegistryLimitError(f"{what} announces {announced} bytes, more than the {_mib(cap)} "
                                         "goslim reads for a manifest, index or config",
                                         hint="the registry serves something that is not an image document")
            data = _read_capped(resp, cap, at)
        except _TooLong:
            raise RegistryLimitError(f"{what} is larger than {_mib(cap)}; stopped reading",
                                     hint="manifests, indexes and configs are small; the registry "
                                          "serves something else") from None
        except httpx.TransportError as exc:
            if past(at):
                raise _deadline_error(what, seconds) from exc
            raise
        finally:
            resp.close()
        _keep_body(resp, data)
        return resp

    def _read_error_body(self, resp: httpx.Response, at: float) -> None:
        """Read an error answer's first ``limits.max_error_body`` bytes (for its message), then close it."""
        data = b""
        try:
            if resp.headers.get("Content-Encoding", "identity").lower() == "identity":
                data = _read_capped(resp, self.limits.max_error_body, at, truncate=True)
        except (httpx.TransportError, _TooLong):
            data = b""
        finally:
            resp.close()
        _keep_body(resp, data)

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

    def _authenticate(self, resp: httpx.Response, ref: ImageReference, scope: str, base: str) -> None:
        challenges = parse_challenges(resp.headers.get_list("www-authenticate"))
        cred = self.keychain.resolve(ref.registry)
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        if cred is not None and base.startswith("http://") and not ref.is_loopback:
            raise RegistryUnsafeError(
                f"registry {ref.registry} asks for credentials over plain http; goslim sends credentials "
                "over plain http only to loopback registries", status=401,
                hint="serve the registry over https, or pull anonymously")
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
        _check_realm(realm, ref)
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
                resp = self._token_request(self._http.build_request("POST", realm, data=form), ref)
                if resp.status_code in (404, 405):  # token servers without the OAuth2 POST: plain GET
                    resp = self._token_request(self._http.build_request("GET", realm, params=params), ref)
            else:
                basic = cred is not None and cred.has_basic
                headers = {"Authorization": _basic_header(cred)} if basic else {}
                resp = self._token_request(self._http.build_request("GET", realm, params=params,
                                                                    headers=headers), ref)
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
        token = (data.get("token") or data.get("access_token")) if isinstance(data, dict) else None
        if not token or not isinstance(token, str):
            raise RegistryError(f"token server for {ref.registry} returned no token")
        return str(token)


    def _token_request(self, request: httpx.Request, ref: ImageReference) -> httpx.Response:
        """A token server's answer, its body capped like a document (the caller's deadline applies)."""
        resp = self._http.send(request, stream=True)
        try:
            data = _read_capped(resp, self.limits.max_document, None)
        except _TooLong:
            raise RegistryLimitError(f"token server for {ref.registry} answered more than "
                                     f"{_mib(self.limits.max_document)}; stopped reading") from None
        finally:
            resp.close()
        _keep_body(resp, data)
        return resp


def _check_realm(realm: str, ref: ImageReference) -> None:
    """A token realm gets the user's credentials: https, or plain http only on the loopback registry."""
    parsed = urllib.parse.urlparse(realm)
    if parsed.scheme == "https" and parsed.hostname:
        return
    registry_host = urllib.parse.urlparse(f"//{ref.api_host}").hostname
    if parsed.scheme == "http" and parsed.hostname and ref.is_loopback and parsed.hostname == registry_host:
        return
    where = "another host" if parsed.hostname and parsed.hostname != registry_host else "its own host"
    raise RegistryUnsafeError(
        f"registry {ref.registry} sends credentials to token realm '{realm[:200]}' over "
        f"{parsed.scheme or 'no scheme'} on {where}; refusing",
        status=401, hint="a token realm must be https (plain http only on the same loopback host)")


class _TooLong(Exception):
    """A body went past its cap."""


def _read_capped(resp: httpx.Response, cap: int, at: float | None, *, truncate: bool = False) -> bytes:
    """Up to ``cap`` raw bytes of a streamed answer, read by ``at``; _TooLong past the cap (or truncated)."""
    data = bytearray()
    chunks = _raw_chunks(resp)
    while True:
        # at None: keep the deadline the caller already set for this thread.
        with _until(at) if at is not None else contextlib.nullcontext():
            chunk = next(chunks, None)
        if chunk is not None:
            data += chunk
        if len(data) > cap:
            if truncate:
                return bytes(data[:cap])
            raise _TooLong
        if chunk is None:
            return bytes(data)
        if past(at):
            raise httpx.ReadTimeout("the request's deadline has passed")


def _raw_chunks(resp: httpx.Response) -> Iterator[bytes]:
    """The answer's raw bytes as they arrive (no rechunking, so progress counts every byte); an
    in-memory answer (tests' MockTransport) is read already."""
    try:
        data = resp.content
    except httpx.ResponseNotRead:
        return resp.iter_raw()
    return iter([data] if data else [])


def _keep_body(resp: httpx.Response, data: bytes) -> None:
    resp._content = data  # where httpx keeps a read body: .json(), .text and .content use it


def _refuse_encoded(resp: httpx.Response, what: str) -> None:
    encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise RegistryLimitError(f"{what} came with Content-Encoding '{encoding[:40]}' though goslim asked "
                                 "for identity; refusing to expand it")


def _content_length(resp: httpx.Response) -> int | None:
    raw = resp.headers.get("Content-Length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _same_origin(url: str, base: str) -> bool:
    a, b = urllib.parse.urlparse(url), urllib.parse.urlparse(base)
    return (a.scheme, a.netloc.lower()) == (b.scheme, b.netloc.lower())


def _deadline_error(label: str, seconds: float) -> RegistryLimitError:
    return RegistryLimitError(
        f"{label} did not finish within its {seconds:.0f} s deadline",
        hint="the registry is stalled or too slow; raise GOSLIM_REGISTRY_DEADLINE (seconds) or "
             "GOSLIM_REGISTRY_MIN_RATE (bytes/s for blobs) if it is just slow")


def _too_slow(what: str, got: int, size: int, elapsed: float, limits: RegistryLimits) -> RegistryLimitError:
    return RegistryLimitError(
        f"download of {what} is too slow: {got} of {size} bytes after {elapsed:.0f} s (goslim allows "
        f"{limits.deadline:g} s to start, then needs {limits.min_rate >> 10} KiB/s on average)",
        hint="the registry is stalled or trickling; raise GOSLIM_REGISTRY_DEADLINE (seconds) or lower "
             "GOSLIM_REGISTRY_MIN_RATE (bytes/s) if it is just slow")


def _mib(n: int) -> str:
    return f"{n >> 20} MiB" if n % (1 << 20) == 0 else f"{n} bytes"


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
