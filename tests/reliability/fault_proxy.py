"""A fault-injecting HTTP proxy on 127.0.0.1, put in front of a real registry.

Each ``Fault`` matches requests by method and a path regex and, for its first ``times`` matches
(``None``: every match), does one of:

``drop``           read the request, close the connection without answering
``drop-request``   read half of the request body, then close (an upload cut mid-stream)
``500`` / ``429``  answer with that status and a registry error body (429 carries Retry-After)
``stall``          read the request, say nothing for ``stall`` seconds, then close
``lost-response``  forward to the registry (so it acts on the request), then drop the answer
``cut-response``   forward, send the headers and half of the body, then close

Everything else is forwarded unchanged, Host header included, so the registry's Location URLs
point back at the proxy. ``log`` records (method, path, action) for every request.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
              "content-length"}
UPSTREAM_TIMEOUT = 30


@dataclass
class Fault:
    kind: str
    method: str | None = None
    path: str = ".*"
    times: int | None = 1
    retry_after: int = 1
    stall: float = 3.0
    hits: int = field(default=0, init=False)

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return (self.method is None or self.method == method) and re.search(self.path, path) is not None


class FaultProxy:
    """A threaded proxy to ``upstream`` (``127.0.0.1:PORT``) that injects ``faults`` in order of listing."""

    def __init__(self, upstream: str, faults: list[Fault] | None = None) -> None:
        self.upstream = upstream
        self.faults = list(faults or [])
        self.log: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet: the test reads proxy.log instead
                pass

            def do_GET(self) -> None:
                proxy._handle(self)

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def actions(self, kind: str) -> int:
        """How many requests got fault ``kind``."""
        return sum(1 for _m, _p, action in self.log if action == kind)

    # -- one request ---------------------------------------------------------------------------------

    def _pick(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        method, path = h.command, h.path
        fault = self._pick(method, path)
        action = fault.kind if fault else "forward"
        with self._lock:
            self.log.append((method, path, action))
        if fault is not None and fault.kind == "drop-request":
            _read_body(h, limit_fraction=0.5)
            _hang_up(h)
            return
        body = _read_body(h)
        if fault is None or fault.kind in ("lost-response", "cut-response"):
            status, headers, payload = self._forward(h, body)
            if fault is not None and fault.kind == "lost-response":
                _hang_up(h)
                return
            _reply(h, status, headers, payload, cut=fault is not None)
            return
        if fault.kind == "drop":
            _hang_up(h)
        elif fault.kind == "stall":
            self._stopping.wait(fault.stall)
            _hang_up(h)
        elif fault.kind in ("500", "429"):
            status = int(fault.kind)
            code = "TOOMANYREQUESTS" if status == 429 else "UNKNOWN"
            error = {"code": code, "message": "injected by the fault proxy"}
            payload = json.dumps({"errors": [error]}).encode()
            headers = [("Content-Type", "application/json")]
            if status == 429:
                headers.append(("Retry-After", str(fault.retry_after)))
            _reply(h, status, headers, payload)
        else:
            raise ValueError(f"unknown fault kind {fault.kind}")

    def _forward(self, h: BaseHTTPRequestHandler, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.upstream, timeout=UPSTREAM_TIMEOUT)
        try:
            headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            send = body if body or h.command not in ("GET", "HEAD") else None
            conn.request(h.command, h.path, body=send, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            return resp.status, [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP], payload
        finally:
            conn.close()


def _read_body(h: BaseHTTPRequestHandler, limit_fraction: float = 1.0) -> bytes:
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                h.rfile.readline()
                return bytes(out)
            out += h.rfile.read(size)
            h.rfile.readline()
            if limit_fraction < 1.0:
                return bytes(out)
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(int(length * limit_fraction))


def _reply(h: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], payload: bytes,
           *, cut: bool = False) -> None:
    h.send_response_only(status)
    for k, v in headers:
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(payload)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(payload[: len(payload) // 2] if cut else payload)
    h.wfile.flush()
    if cut:
        _hang_up(h)


def _hang_up(h: BaseHTTPRequestHandler) -> None:
    h.close_connection = True
    with contextlib.suppress(OSError):
        h.connection.shutdown(socket.SHUT_RDWR)


@contextmanager
def fault_proxy(upstream: str, faults: list[Fault] | None = None) -> Iterator[FaultProxy]:
    """Run a ``FaultProxy`` for the duration of the block."""
    proxy = FaultProxy(upstream, faults).start()
    try:
        yield proxy
    finally:
        proxy.stop()
