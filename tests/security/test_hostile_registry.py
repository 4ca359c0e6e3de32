"""A hostile registry against the real CLI: every attack ends in one line, a bounded child and no leak.

Each case runs ``goslim inspect``, ``goslim image --base`` or ``goslim verify`` as a subprocess against
``hostile_registry`` with a docker config holding credentials for it. The child's peak RSS (wait4) must
stay small, the cache must not grow past what the descriptors allow, and no credential may reach the
other host. The time each case took is printed (``-s`` or the -rA summary); only a generous guard
kills a child that hangs. ``GOSLIM_REGISTRY_DEADLINE`` is scaled down so deadlines show in seconds.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.childmem import goslim_argv, peak_kib
from tests.conftest import REPO, BuildFixture
from tests.security.hostile_registry import MODES, PASSWORD, USER, Recorder, hostile_registry

pytestmark = pytest.mark.integration

DEADLINE = 3.0  # GOSLIM_REGISTRY_DEADLINE for the child: the trickle and stall cases end near this
TRICKLE = 0.5  # seconds between bytes; well below the socket timeout, so only a total deadline stops it
GUARD = 120.0  # a child still running after this is killed: goslim hung
MAX_RSS_MIB = 300  # peak RSS of the child (python + goslim + httpx + rich is ~100 MiB)
ADDRESS_SPACE = 3 << 30  # RLIMIT_AS on the child so an unbounded read cannot take the machine down
MAX_FILE = 64 << 20  # RLIMIT_FSIZE on the child so an unbounded download cannot fill the disk


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mib: float

    @property
    def lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.strip()]


def run_goslim(args: list[str], env: dict[str, str], *, wrap: tuple[str, ...] = ()) -> Outcome:
    """Run ``python -m goslim ARGS`` (from this worktree's src), bounded in memory and file size."""
    start = time.monotonic()
    out_path, err_path = Path(env["HOME"]) / "stdout", Path(env["HOME"]) / "stderr"
    peak_path = Path(env["HOME"]) / "peak"
    peak_path.unlink(missing_ok=True)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([*wrap, *goslim_argv(args, peak_path)], stdout=out, stderr=err,
                                env=env, start_new_session=True)
        resource.prlimit(proc.pid, resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (MAX_FILE, MAX_FILE))
        timer = threading.Timer(GUARD, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, _usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    # The child's own peak (tests.childmem): wait4's maxrss would include this test process's RSS.
    return Outcome(proc.returncode, stdout, stderr, time.monotonic() - start, peak_kib(peak_path) / 1024)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A child environment: its own HOME, cache and a docker config (filled per registry by ``login``)."""
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": str(REPO / "src"),
        "DOCKER_CONFIG": str(home / ".docker"),
        "GOSLIM_CACHE": str(tmp_path / "cache"),
        "GOSLIM_REGISTRY_DEADLINE": str(DEADLINE),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }


def login(env: dict[str, str], *hosts: str) -> None:
    """Store the test user's credentials for ``hosts`` the way `docker login` does."""
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config = {"auths": {host: {"auth": auth} for host in hosts}}
    Path(env["DOCKER_CONFIG"], "config.json").write_text(json.dumps(config))


def expect_one_line(outcome: Outcome, case: str, exit_code: int, *needles: str) -> None:
    """One error line naming the problem, the exit code, no traceback, a small child; print the time."""
    print(f"\n[hostile-registry] {case}: exit {outcome.returncode} after {outcome.seconds:.1f} s, "
          f"peak RSS {outcome.max_rss_mib:.0f} MiB: {outcome.lines[0] if outcome.lines else ''}")
    assert "Traceback" not in outcome.stderr, outcome.stderr[-3000:]
    assert outcome.returncode == exit_code, outcome.stderr[-3000:]
    errors = [ln for ln in outcome.lines if ln.startswith("error:")]
    assert len(errors) == 1, outcome.stderr[-3000:]
    for needle in needles:
        assert needle in errors[0], errors[0]
    assert outcome.max_rss_mib < MAX_RSS_MIB, f"child peaked at {outcome.max_rss_mib:.0f} MiB"


def no_credentials_reached(other: Recorder) -> None:
    leaked = [seen for seen in other.requests if seen.authorization]
    assert not leaked, f"the other host received credentials: {leaked}"


def cache_bytes(env: dict[str, str]) -> int:
    root = Path(env["GOSLIM_CACHE"])
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def leftover_temp(env: dict[str, str]) -> list[str]:
    root = Path(env["GOSLIM_CACHE"])
    return [p.name for p in root.rglob("*.tmp")] if root.exists() else []


# -- documents: inspect reads only manifests and the config ----------------------------------------

DOCUMENT_CASES = {
    "endless-manifest": (3, ("manifest", "larger than 4 MiB")),
    "oversize-manifest": (3, ("manifest", "announces 1099511627776 bytes")),
    "endless-config": (3, ("longer than its descriptor size",)),
    "huge-config": (3, ("claims 8589934592 bytes", "4 MiB")),
    "config-not-object": (2, ("config", "not a JSON object")),
    "trickle-manifest": (3, ("deadline",)),
    "stall": (3, ("deadline",)),
    "index-chain": (2, ("not an image",)),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", sorted(DOCUMENT_CASES))
def test_inspect_against_hostile_documents(mode: str, env: dict[str, str]) -> None:
    code, needles = DOCUMENT_CASES[mode]
    with hostile_registry(mode, trickle=TRICKLE) as (registry, other):
        login(env, registry.host)
        outcome = run_goslim(["inspect", registry.ref], env)
    expect_one_line(outcome, f"inspect/{mode}", code, *needles)
    no_credentials_reached(other)


@pytest.mark.timeout(300)
def test_harness_sanity_inspect_of_a_well_behaved_registry(env: dict[str, str]) -> None:
    with hostile_registry("ok") as (registry, _other):
        login(env, registry.host)
        outcome = run_goslim(["inspect", registry.ref, "--json"], env)
    print(f"\n[hostile-registry] inspect/ok: exit {outcome.returncode} after {outcome.seconds:.1f} s, "
          f"peak RSS {outcome.max_rss_mib:.0f} MiB")
    assert outcome.returncode == 0, outcome.stderr
    assert json.loads(outcome.stdout)["layers"], outcome.stdout


# -- credentials --------------------------------------------------------------------------------------

@pytest.mark.timeout(300)
def test_plain_http_realm_on_another_host_gets_nothing(env: dict[str, str]) -> None:
    """401 with Bearer realm="http://127.0.0.2:PORT/token": refused, and the realm sees no request."""
    with hostile_registry("realm") as (registry, other):
        login(env, registry.host, other.host)
        outcome = run_goslim(["inspect", registry.ref], env)
    no_credentials_reached(other)
    assert other.requests == [], f"goslim called the realm: {other.requests}"
    expect_one_line(outcome, "inspect/realm-on-another-host", 3, f"http://{other.host}/token", "refusing")


@pytest.mark.timeout(300)
def test_redirect_to_another_host_carries_no_credentials(env: dict[str, str]) -> None:
    """Blob GETs answer 307 to 127.0.0.2: the download works, the other host never sees Authorization."""
    with hostile_registry("redirect") as (registry, other):
        login(env, registry.host)
        outcome = run_goslim(["inspect", registry.ref, "--json"], env)
    print(f"\n[hostile-registry] inspect/redirect: exit {outcome.returncode} after {outcome.seconds:.1f} s")
    assert outcome.returncode == 0, outcome.stderr
    assert any(seen.authorization for seen in registry.requests), "the registry itself got no credentials"
    assert other.requests, "the redirect was never followed"
    no_credentials_reached(other)


# -- blobs: image --base and verify download layers -----------------------------------------------------

BLOB_CASES = {
    "endless-blob": (3, ("longer than its descriptor size",)),
    "oversize-blob": (3, ("announces 1099511627776 bytes",)),
    "trickle-blob": (3, ("too slow",)),
    "config-not-object": (2, ("config", "not a JSON object")),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", sorted(BLOB_CASES))
def test_image_base_from_a_hostile_registry(mode: str, env: dict[str, str], go_build: BuildFixture,
                                           tmp_path: Path) -> None:
    code, needles = BLOB_CASES[mode]
    hello = go_build("hello-api")
    out = tmp_path / "out"
    with hostile_registry(mode, trickle=TRICKLE) as (registry, other):
        login(env, registry.host)
        outcome = run_goslim(["image", str(hello.path), "--base", registry.ref, "--to", f"oci:{out}"], env)
    expect_one_line(outcome, f"image --base/{mode}", code, *needles)
    no_credentials_reached(other)
    assert cache_bytes(env) < 1 << 20, "the cache grew past the descriptors' sizes"
    assert leftover_temp(env) == [], "a partial download was left in the cache"
    assert not out.exists(), "an image was written from a refused base"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", ["endless-blob", "stall"])
def test_verify_a_hostile_registry_image(mode: str, env: dict[str, str]) -> None:
    with hostile_registry(mode, trickle=TRICKLE) as (registry, other):
        login(env, registry.host)
        outcome = run_goslim(["verify", registry.ref], env)
    needle = "longer than its descriptor size" if mode == "endless-blob" else "deadline"
    expect_one_line(outcome, f"verify/{mode}", 3, needle)
    no_credentials_reached(other)
    assert cache_bytes(env) < 1 << 20


# -- a full disk --------------------------------------------------------------------------------------

def _tiny_cache_wrapper(cache: Path) -> tuple[str, ...]:
    """Run the child in its own user+mount namespace with a tmpfs cache that has no inode to spare."""
    unshare = "/usr/bin/unshare"
    probe = subprocess.run([unshare, "-rm", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a user+mount namespace: {probe.stderr.decode().strip()}")
    cache.mkdir(parents=True, exist_ok=True)
    script = 'mount -t tmpfs -o size=1m,nr_inodes=3 goslim-full "$0" && exec "$@"'
    return (unshare, "-rm", "sh", "-c", script, str(cache))


@pytest.mark.timeout(300)
def test_full_disk_while_caching_a_blob_is_one_line(env: dict[str, str], go_build: BuildFixture,
                                                    tmp_path: Path) -> None:
    hello = go_build("hello-api")
    wrap = _tiny_cache_wrapper(Path(env["GOSLIM_CACHE"]))
    with hostile_registry("ok") as (registry, _other):
        login(env, registry.host)
        outcome = run_goslim(["image", str(hello.path), "--base", registry.ref,
                              "--to", f"oci:{tmp_path / 'out'}"], env, wrap=wrap)
    expect_one_line(outcome, "image --base/full-disk", 2, "cannot write blob", "no space left on device")
    assert not (tmp_path / "out").exists()


def test_modes_are_all_exercised() -> None:
    """Every mode of the hostile registry is used by a case above (or is the sanity mode)."""
    used = {*DOCUMENT_CASES, *BLOB_CASES, "ok", "realm", "redirect", "endless-blob", "stall"}
    assert used >= set(MODES)
