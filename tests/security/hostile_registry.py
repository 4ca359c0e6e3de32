"""A hostile OCI registry for tests: a threaded http.server on a loopback address and a random port.

It serves one small valid image (``REPO:TAG``) and misbehaves in one way, chosen by ``mode``:

``ok``                  behave (a sanity check that the harness itself works)
``endless-manifest``    the manifest body never ends (no Content-Length, until the client hangs up)
``oversize-manifest``   the manifest announces Content-Length 1 TiB, then sends without end
``endless-config``      the config blob (descriptor: its true small size) never ends
``huge-config``         the manifest's config descriptor claims 8 GiB; the blob never ends
``config-not-object``   the config is the JSON array ``[]`` (digest and size correct)
``endless-blob``        the layer blob never ends
``oversize-blob``       the layer blob announces Content-Length 1 TiB
``trickle-manifest``    the manifest's headers, then one byte every ``trickle`` seconds, for ever
``trickle-blob``        the layer blob, one byte every ``trickle`` seconds
``stall``               every manifest request is read and never answered
``index-chain``         the tag is an index whose image entry is an index, 3,000 levels deep
``realm``               every request answers 401 ``Bearer realm="http://<other>/token"``; ``other``
                        is a ``Recorder`` on another loopback address (127.0.0.2)
``redirect``            Basic auth required; blob GETs answer 307 to the ``other`` Recorder, which
                        serves the blob bytes

Every request is recorded as (method, path, Authorization header or None) in ``requests``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from goslim.oci import FileEntry, Image, build_layer, mediatypes, new_config
from goslim.oci.descriptor import canonical_json
from goslim.oci.layout import default_platform

REPO = "hostile/app"
TAG = "v1"
USER, PASSWORD = "alice", "s3cret-hostile"
CHUNK = b'{"pad":"' + b"x" * (64 << 10)
CHAIN_DEPTH = 3000
MODES = ("ok", "endless-manifest", "oversize-manifest", "endless-config", "huge-config", "config-not-object",
         "endless-blob", "oversize-blob", "trickle-manifest", "trickle-blob", "stall", "index-chain", "realm",
         "redirect")


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    authorization: str | None


def basic_auth() -> str:
    return "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _Content:
    """The documents and blobs one mode serves, by manifest identifier and blob digest."""

    def __init__(self, mode: str) -> None:
        entry = FileEntry.file("/etc/hostile", b"hostile registry layer\n" * 64)
        layer = build_layer([entry], "gzip", mtime=0)
        image = Image.build(new_config(default_platform(), created=0), [layer])
        self.layer_digest = str(layer.digest)
        self.config_digest = str(image.config_descriptor.digest)
        self.blobs: dict[str, bytes] = {self.config_digest: image.config_bytes}
        with layer.open() as fh:
            self.blobs[self.layer_digest] = fh.read()
        manifest = dict(image.manifest)
        if mode == "config-not-object":
            config = b"[]"
            self.config_digest = _digest(config)
            self.blobs[self.config_digest] = config
            manifest["config"] = {**manifest["config"], "digest": self.config_digest, "size": len(config)}
        if mode == "huge-config":
            manifest["config"] = {**manifest["config"], "size": 8 << 30}
        manifest_bytes = canonical_json(manifest)
        self.manifests: dict[str, tuple[str, bytes]] = {}
        top = (mediatypes.OCI_MANIFEST, manifest_bytes)
        if mode == "index-chain":
            top = self._chain(manifest_bytes)
        self.manifests[TAG] = top
        self.manifests[_digest(manifest_bytes)] = (mediatypes.OCI_MANIFEST, manifest_bytes)

    def _chain(self, manifest_bytes: bytes) -> tuple[str, bytes]:
        """Index -> index -> ... -> the image; each entry claims to be an image manifest."""
        child, child_size = _digest(manifest_bytes), len(manifest_bytes)
        body = b""
        platform = default_platform()
        for _ in range(CHAIN_DEPTH):
            body = canonical_json({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": [{
                "mediaType": mediatypes.OCI_MANIFEST, "digest": child, "size": child_size,
                "platform": {"os": platform.os, "architecture": platform.architecture}}]})
            child, child_size = _digest(body), len(body)
            self.manifests[child] = (mediatypes.OCI_INDEX, body)
        return mediatypes.OCI_INDEX, body


class _Server:
    """A ThreadingHTTPServer on ``address`` whose handler calls ``respond``; records every request."""

    def __init__(self, address: str) -> None:
        self.requests: list[Seen] = []
        self.stopping = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet: tests read ``requests``
                pass

            def do_GET(self) -> None:
                owner.requests.append(Seen(self.command, self.path, self.headers.get("Authorization")))
                try:
                    owner.respond(self)
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    self.close_connection = True

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        self._server = ThreadingHTTPServer((address, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        address, port = self._server.server_address[:2]
        return f"{address}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def respond(self, h: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    # -- answers ----------------------------------------------------------------------------------

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
             content_type: str = "application/json") -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def endless(self, h: BaseHTTPRequestHandler, content_type: str, length: int | None = None) -> None:
        """Headers, then bytes as fast as the client takes them, until it hangs up."""
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        if length is not None:
            h.send_header("Content-Length", str(length))
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        while not self.stopping.is_set():
            h.wfile.write(CHUNK)

    def trickle(self, h: BaseHTTPRequestHandler, content_type: str, every: float, data: bytes) -> None:
        """Headers, then one byte every ``every`` seconds (the true bytes, then padding, for ever)."""
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        h.wfile.flush()
        for i in range(1 << 30):
            if self.stopping.wait(every):
                return
            h.wfile.write(data[i:i + 1] or b" ")
            h.wfile.flush()


class Recorder(_Server):
    """The 'other host': records who called with what, answers a token or the blob it is asked for."""

    def __init__(self, address: str = "127.0.0.2") -> None:
        super().__init__(address)
        self.blobs: dict[str, bytes] = {}

    def respond(self, h: BaseHTTPRequestHandler) -> None:
        name = h.path.split("?", 1)[0].rsplit("/", 1)[-1]
        if name in self.blobs:
            self.send(h, 200, self.blobs[name], content_type="application/octet-stream")
            return
        self.send(h, 200, json.dumps({"token": "stolen-if-you-can-read-this"}).encode())


class HostileRegistry(_Server):
    """A registry serving ``REPO:TAG`` that misbehaves as ``mode`` says (see the module docstring)."""

    def __init__(self, mode: str, *, trickle: float = 0.5, other: Recorder | None = None,
                 address: str = "127.0.0.1") -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode}")
        super().__init__(address)
        self.mode = mode
        self.every = trickle
        self.other = other
        self.content = _Content(mode)
        if other is not None:
            other.blobs.update(self.content.blobs)

    @property
    def ref(self) -> str:
        return f"{self.host}/{REPO}:{TAG}"

    def respond(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        mode = self.mode
        if mode == "realm":
            assert self.other is not None
            challenge = f'Bearer realm="http://{self.other.host}/token",service="hostile"'
            self.send(h, 401, b'{"errors":[{"code":"UNAUTHORIZED","message":"token please"}]}',
                      {"WWW-Authenticate": challenge})
            return
        if mode == "redirect" and h.headers.get("Authorization") != basic_auth():
            self.send(h, 401, b'{"errors":[{"code":"UNAUTHORIZED","message":"login"}]}',
                      {"WWW-Authenticate": 'Basic realm="hostile"'})
            return
        if path in ("/v2/", "/v2"):
            self.send(h, 200, b"{}")
            return
        prefix = f"/v2/{REPO}/"
        if not path.startswith(prefix):
            self.send(h, 404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"no"}]}')
            return
        kind, _, ident = path[len(prefix):].partition("/")
        if kind == "manifests":
            self._manifest(h, ident)
        elif kind == "blobs":
            self._blob(h, ident)
        else:
            self.send(h, 404)

    def _manifest(self, h: BaseHTTPRequestHandler, ident: str) -> None:
        mode = self.mode
        found = self.content.manifests.get(ident)
        if found is None:
            self.send(h, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no"}]}')
            return
        media_type, body = found
        if mode == "endless-manifest":
            self.endless(h, media_type)
        elif mode == "oversize-manifest":
            self.endless(h, media_type, length=1 << 40)
        elif mode == "trickle-manifest":
            self.trickle(h, media_type, self.every, body)
        elif mode == "stall":
            self.stopping.wait(3600)
        else:
            self.send(h, 200, body, {"Docker-Content-Digest": _digest(body)}, content_type=media_type)

    def _blob(self, h: BaseHTTPRequestHandler, digest: str) -> None:
        mode = self.mode
        data = self.content.blobs.get(digest)
        if data is None:
            self.send(h, 404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"no"}]}')
            return
        is_config = digest == self.content.config_digest
        is_layer = digest == self.content.layer_digest
        octet = "application/octet-stream"
        endless = {"endless-config": is_config, "huge-config": is_config, "endless-blob": is_layer}
        if endless.get(mode):
            self.endless(h, octet)
        elif mode == "oversize-blob" and is_layer:
            self.endless(h, octet, length=1 << 40)
        elif mode == "trickle-blob" and is_layer:
            self.trickle(h, octet, self.every, data)
        elif mode == "redirect":
            assert self.other is not None
            self.send(h, 307, b"", {"Location": f"http://{self.other.host}/storage/{digest}"})
        else:
            self.send(h, 200, data, {"Docker-Content-Digest": digest}, content_type=octet)


@contextmanager
def hostile_registry(mode: str, *, trickle: float = 0.5) -> Iterator[tuple[HostileRegistry, Recorder]]:
    """A running hostile registry on 127.0.0.1 and its 'other host' recorder on 127.0.0.2."""
    other = Recorder("127.0.0.2")
    registry = HostileRegistry(mode, trickle=trickle, other=other)
    other.start()
    registry.start()
    try:
        yield registry, other
    finally:
        registry.stop()
        other.stop()
        time.sleep(0)  # let handler threads see ``stopping``
