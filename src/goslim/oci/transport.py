"""Bounded registry I/O: the limits a registry answer must stay within, and an httpx transport whose
every socket operation (connect, TLS handshake, each read and write) ends by the request's deadline.

A socket timeout alone bounds only silence: a registry that sends one byte every few seconds keeps a
request alive forever. ``until(at)`` sets a deadline for the current thread; the transport clamps
each socket operation's timeout to what is left of it, so connect + headers + the whole body finish
by ``at`` or fail with a timeout.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from goslim.errors import UserInputError

DEADLINE_ENV = "GOSLIM_REGISTRY_DEADLINE"
MIN_RATE_ENV = "GOSLIM_REGISTRY_MIN_RATE"


@dataclass(frozen=True)
class RegistryLimits:
    """How much one registry answer may cost: its size, its total time, and the slowest acceptable blob.

    ``deadline`` bounds a request for a small document (ping, token, manifest, config, HEAD, PUT of a
    manifest) from connect to last byte, retries included. A blob download has ``deadline`` seconds
    to start and must then average ``min_rate``; an upload gets ``max(deadline, size / min_rate)``.
    ``idle`` is how long a socket may stay silent.
    """

    deadline: float = 60.0
    idle: float = 30.0
    min_rate: int = 128 << 10  # bytes per second
    max_document: int = 4 << 20  # manifests, indexes, configs (as distribution and containerd)
    max_unsized_blob: int = 64 << 20  # a blob fetched without a descriptor size (signatures, SBOMs)
    max_error_body: int = 64 << 10  # an error answer is read this far for its first line

    def blob_deadline(self, size: int) -> float:
        """Seconds a transfer of ``size`` bytes may take, retries included."""
        return max(self.deadline, size / self.min_rate)

    @property
    def socket_timeout(self) -> float:
        return min(self.idle, self.deadline)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RegistryLimits:
        """Defaults, with ``$GOSLIM_REGISTRY_DEADLINE`` (seconds) and ``$GOSLIM_REGISTRY_MIN_RATE``
        (bytes per second) applied when set."""
        env = os.environ if environ is None else environ
        limits = cls()
        deadline = _positive(env, DEADLINE_ENV, float)
        rate = _positive(env, MIN_RATE_ENV, int)
        return cls(deadline=deadline or limits.deadline, min_rate=int(rate or limits.min_rate))


def _positive(env: Mapping[str, str], name: str, kind: type[float] | type[int]) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = kind(raw)
    except ValueError:
        value = -1
    if not (value > 0 and math.isfinite(value)):
        unit = "seconds" if kind is float else "bytes per second"
        raise UserInputError(f"{name}={raw!r} is not a positive number",
                             hint=f"set {name} to a number of {unit}")
    return float(value)


_state = threading.local()


@contextlib.contextmanager
def until(at: float | None) -> Iterator[None]:
    """Within this block, this thread's registry socket operations end by ``at`` (``time.monotonic()``)."""
    previous = getattr(_state, "at", None)
    _state.at = at
    try:
        yield
    finally:
        _state.at = previous


def past(at: float | None) -> bool:
    """Whether the deadline ``at`` has come."""
    return at is not None and time.monotonic() >= at


def _clamp(timeout: float | None, exc: type[Exception]) -> float | None:
    at = getattr(_state, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise exc("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, _clamp(timeout, httpcore.ConnectTimeout), local_address,
                                         socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, _clamp(timeout, httpcore.ConnectTimeout),
                                                 socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def bound_by_deadlines(client: httpx.Client) -> bool:
    """Make every socket the client's own transports open obey ``until``; False if none could be.

    httpx has no public hook for a network backend, so this wraps the one its connection pools hold.
    A transport given from outside (tests' MockTransport) is left alone.
    """
    bound = False
    transports = [client._transport, *(t for t in client._mounts.values() if t is not None)]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(backend, _DeadlineBackend):
            pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
            bound = True
    return bound
