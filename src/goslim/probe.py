"""Kubernetes-style probes (HTTP GET and TCP), optionally inside another network namespace.

Shared by `upx` (is the packed binary ready?) and `verify` (the probe checks). A probe
inside a container's namespace runs in a short-lived thread that has joined that
namespace with setns(2); only that thread moves, the rest of goslim stays put.
"""

from __future__ import annotations

import ctypes
import http.client
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

CLONE_NEWNET = 0x40000000
MAX_BODY_BYTES = 16 << 20  # a probe drains at most this much of a body (a big /metrics is a few MiB)
BODY_KEPT = 512  # characters of the body kept for evidence
READ_CHUNK = 64 << 10


@dataclass(frozen=True)
class ProbeSpec:
    kind: Literal["http", "tcp"]
    port: int
    path: str = "/healthz"
    host: str = "127.0.0.1"
    timeout_s: float = 1.0

    def describe(self) -> str:
        return f"GET :{self.port}{self.path}" if self.kind == "http" else f"TCP :{self.port}"


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str  # "200 OK", "connection refused", ...
    status: int | None = None
    body: str = ""


@dataclass(frozen=True)
class WaitResult:
    ok: bool
    attempts: int
    seconds: float  # from the start of waiting to the first success (or to giving up)
    last: ProbeResult


def probe_once(spec: ProbeSpec, netns_pid: int | None = None) -> ProbeResult:
    """One probe attempt; success for HTTP means a status in 200..399, as in Kubernetes."""
    if netns_pid is None:
        return _probe(spec)
    return _in_netns(netns_pid, lambda: _probe(spec))


def wait_until(
    spec: ProbeSpec,
    *,
    period_s: float,
    failure_threshold: int,
    netns_pid: int | None = None,
    still_running: Callable[[], bool] | None = None,
) -> WaitResult:
    """Probe every ``period_s`` until success, ``failure_threshold`` failures, or the process dies."""
    start = time.monotonic()
    last = ProbeResult(ok=False, detail="not probed")
    for attempt in range(1, failure_threshold + 1):
        last = probe_once(spec, netns_pid)
        if last.ok:
            return WaitResult(True, attempt, time.monotonic() - start, last)
        if still_running is not None and not still_running():
            return WaitResult(False, attempt, time.monotonic() - start, ProbeResult(False, "process exited"))
        time.sleep(period_s)
    return WaitResult(False, failure_threshold, time.monotonic() - start, last)


def _probe(spec: ProbeSpec) -> ProbeResult:
    try:
        if spec.kind == "tcp":
            with socket.create_connection((spec.host, spec.port), timeout=spec.timeout_s):
                return ProbeResult(True, "connected")
        conn = http.client.HTTPConnection(spec.host, spec.port, timeout=spec.timeout_s)
        try:
            # Connection: close, and the whole body read before closing: a probe that hangs up
            # mid-response makes the service log "write: broken pipe" for every probe.
            conn.request("GET", spec.path, headers={"User-Agent": "goslim-probe", "Connection": "close"})
            resp = conn.getresponse()
            body = _drain(resp, deadline=time.monotonic() + 5 * spec.timeout_s)
            ok = 200 <= resp.status < 400
            return ProbeResult(ok, f"{resp.status} {resp.reason}", resp.status, body)
        finally:
            conn.close()
    except ConnectionRefusedError:
        return ProbeResult(False, "connection refused")
    except TimeoutError:
        return ProbeResult(False, f"timed out after {spec.timeout_s:g}s")
    except (OSError, http.client.HTTPException) as exc:
        return ProbeResult(False, f"{type(exc).__name__}: {exc}")


def speaks_first(
    port: int, netns_pid: int | None = None, *, wait_s: float = 0.3, host: str = "127.0.0.1"
) -> bool:
    """Does the server send bytes before the client says anything (a NATS, SMTP or MySQL banner)?

    Such a port does not speak HTTP; sending it a GET only makes the service log a protocol error.
    """

    def check() -> ProbeResult:
        try:
            with socket.create_connection((host, port), timeout=wait_s) as sock:
                sock.settimeout(wait_s)
                return ProbeResult(bool(sock.recv(1)), "banner")
        except (TimeoutError, OSError):
            return ProbeResult(False, "silent")

    return (check() if netns_pid is None else _in_netns(netns_pid, check)).ok


def _drain(resp: http.client.HTTPResponse, *, deadline: float) -> str:
    """Read the body to its end (bounded in bytes and time); the first ``BODY_KEPT`` characters."""
    kept = b""
    total = 0
    while total < MAX_BODY_BYTES and time.monotonic() < deadline:
        chunk = resp.read1(READ_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if len(kept) < BODY_KEPT:
            kept += chunk[: BODY_KEPT - len(kept)]
    return kept.decode(errors="replace")


def _in_netns(pid: int, fn: Callable[[], ProbeResult]) -> ProbeResult:
    """Run ``fn`` in a thread that has joined the network namespace of ``pid``."""
    box: dict[str, ProbeResult] = {}

    def target() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        except OSError as exc:
            box["r"] = ProbeResult(False, f"cannot open network namespace of pid {pid}: {exc.strerror}")
            return
        try:
            if _setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                box["r"] = ProbeResult(False, f"setns failed: {os.strerror(err)}")
                return
        finally:
            os.close(fd)
        box["r"] = fn()

    thread = threading.Thread(target=target, name=f"probe-netns-{pid}", daemon=True)
    thread.start()
    thread.join()
    return box["r"]


def _setns(fd: int, nstype: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.setns(fd, nstype)
