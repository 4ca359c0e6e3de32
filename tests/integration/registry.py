"""A real registry for integration tests: Debian's ``docker-registry`` (distribution 2.x) on 127.0.0.1.

``start_registry(tmp, auth=False|True)`` writes a temp config (filesystem storage, a free
loopback port, optional htpasswd basic auth with a bcrypt hash), starts the server and
waits until ``/v2/`` answers. The pytest fixtures ``registry`` (open) and ``auth_registry``
(htpasswd) are session-scoped; tests use their own repository names so they never collide.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import httpx
import pytest

START_TIMEOUT = 20.0


@dataclass(frozen=True)
class RunningRegistry:
    """Where a test registry listens; ``username``/``password`` are set when it uses htpasswd."""

    host: str  # 127.0.0.1:PORT
    storage: Path
    log: Path
    pid: int
    username: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def ref(self, repo: str, tag: str = "latest") -> str:
        return f"{self.host}/{repo}:{tag}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _htpasswd_line(user: str, password: str) -> str:
    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}\n"


@contextlib.contextmanager
def start_registry(workdir: Path, *, auth: bool = False) -> Iterator[RunningRegistry]:
    """Run docker-registry until the context exits (SIGTERM, then SIGKILL after 5 s)."""
    binary = shutil.which("docker-registry")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-registry is missing: scripts/setup.sh should have installed it")
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    user = password = None
    auth_block = ""
    if auth:
        user, password = "goslim", "s3cret-pw"
        htpasswd = workdir / "htpasswd"
        htpasswd.write_text(_htpasswd_line(user, password))
        auth_block = f"auth:\n  htpasswd:\n    realm: goslim-test\n    path: {htpasswd}\n"
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: goslim-test-secret\n"
        f"{auth_block}"
    )
    log = workdir / "registry.log"
    with open(log, "wb") as log_fh:
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=log_fh, stderr=subprocess.STDOUT)
    running = RunningRegistry(f"127.0.0.1:{port}", storage, log, proc.pid, user, password)
    try:
        _wait_ready(running, proc)
        yield running
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _wait_ready(reg: RunningRegistry, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited early: {reg.log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{reg.url}/v2/", timeout=1.0).status_code in (200, 401):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    tail = reg.log.read_text()[-2000:]
    raise RuntimeError(f"docker-registry did not start within {START_TIMEOUT}s: {tail}")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """An open docker-registry on 127.0.0.1 for the whole test session."""
    with start_registry(tmp_path_factory.mktemp("registry-open")) as reg:
        yield reg


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """A docker-registry with htpasswd basic auth (``.username``/``.password``) on 127.0.0.1."""
    with start_registry(tmp_path_factory.mktemp("registry-auth"), auth=True) as reg:
        yield reg
