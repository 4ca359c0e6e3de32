"""Hostile images through the real CLI: verify, image --base, inspect, scan leave the host untouched.

Every case of ``hostile_images`` is written as an OCI layout (some also as a docker-archive) and
given to ``goslim`` in a fresh subprocess. Afterwards: the canary tree on the host is identical
(content, mode, owner, mtime, link targets), the child's peak RSS (VmHWM) stayed under
``RSS_LIMIT``, its temp directory never held more than ``DISK_LIMIT``, and the outcome is one line
with exit 2 (refused) or a safe completion, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import goslim
from tests.childmem import goslim_argv, live_peak_kib, peak_kib
from tests.conftest import REPO, BuildFixture
from tests.security.hostile_images import (
    BOMBS,
    CASES,
    canary,
    case_image,
    expectation,
    gzipped_docker_archive_with_big_layer,
    snapshot,
    write_location,
)

pytestmark = pytest.mark.integration

RSS_LIMIT = 400 << 20  # goslim itself is ~100 MB; a bomb read into memory is 1 GiB
AS_LIMIT = 3 << 30  # a child that tries to hold a GiB bomb fails (MemoryError) instead of straining the host
DISK_LIMIT = 160 << 20  # the default budget for a 1 MB layer is 20 x 1 MB + 64 MiB
OSV = REPO / "tests" / "fixtures" / "osv"
SRC = Path(goslim.__file__).resolve().parents[1]


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    max_rss: int  # bytes
    peak_disk: int  # bytes under the child's TMPDIR


def _du(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # a file removed while we walk
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


def goslim_cli(args: list[str], tmp: Path, timeout: float = 300) -> Run:
    """Run ``goslim ARGS`` in a fresh process; measure its peak RSS and the peak size of its TMPDIR."""
    tmpdir = tmp / "child-tmp"
    tmpdir.mkdir(exist_ok=True)
    hwm_file = tmp / "child-hwm"
    hwm_file.unlink(missing_ok=True)
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONPATH": str(SRC), "NO_COLOR": "1", "COLUMNS": "200"}
    out, err = tmp / "stdout", tmp / "stderr"
    peak = 0
    hwm_kib = 0  # sampled too, for a child killed before its atexit runs
    done = threading.Event()

    def watch() -> None:
        nonlocal peak, hwm_kib
        while not done.is_set():
            peak = max(peak, _du(tmpdir))
            hwm_kib = max(hwm_kib, live_peak_kib(proc.pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen(goslim_argv(args, hwm_file, as_limit=AS_LIMIT), stdout=o, stderr=e, env=env,
                                stdin=subprocess.DEVNULL)
        watcher.start()
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                break
            time.sleep(0.05)
    done.set()
    watcher.join()
    hwm_kib = max(hwm_kib, peak_kib(hwm_file))
    return Run(proc.returncode, out.read_text(errors="replace"), err.read_text(errors="replace"),
               hwm_kib * 1024, peak)


def assert_safe(run: Run, allowed: set[int], canary_root: Path, before: dict) -> None:
    """No traceback, an allowed exit, a one-line refusal, memory and disk bounded, the canary intact."""
    text = run.stdout + run.stderr
    assert "Traceback" not in text, text[-3000:]
    assert run.returncode in allowed, f"exit {run.returncode}:\n{text[-3000:]}"
    if run.returncode == 2:
        lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
        assert lines and lines[0].startswith("error:"), run.stderr
        assert len(lines) <= 2, f"expected one line and a hint:\n{run.stderr}"
    assert run.max_rss < RSS_LIMIT, f"peak RSS {run.max_rss >> 20} MiB"
    assert run.peak_disk < DISK_LIMIT, f"peak temp disk {run.peak_disk >> 20} MiB"
    assert snapshot(canary_root) == before, "the canary tree on the host changed"


def assert_verdict(run: Run, case: str, canary_root: Path, before: dict) -> None:
    """Verify's outcome: a refused case ends in one line naming the layer; a safe one unpacks and goes on.

    The hostile images hold no real program, so a safe case may still end in exit 2 for that reason.
    """
    if expectation(case) == "refused":
        assert_safe(run, {2}, canary_root, before)
        assert "layer sha256:" in run.stderr, run.stderr
    else:
        assert_safe(run, {0, 1, 2}, canary_root, before)
        assert "layer sha256:" not in run.stderr, run.stderr


@pytest.fixture
def target(tmp_path: Path) -> tuple[Path, dict]:
    root = canary(tmp_path)
    return root, snapshot(root)


def _verify_args(location: str) -> list[str]:
    # Static checks only: the rootfs is unpacked exactly as for a full run, without starting runc.
    return ["verify", location, "--check", "static"]


ALL = sorted(CASES) + list(BOMBS)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("case", ALL)
def test_verify(case: str, tmp_path: Path, target) -> None:
    root, before = target
    location = write_location(case_image(case, str(root)), tmp_path)
    run = goslim_cli(_verify_args(location), tmp_path)
    assert_verdict(run, case, root, before)
    if case in BOMBS:
        assert "budget" in run.stderr or "entries" in run.stderr or "header" in run.stderr, run.stderr
        assert "layer sha256:" in run.stderr and "(1 of 1)" in run.stderr, run.stderr


@pytest.mark.timeout(600)
@pytest.mark.parametrize("case", ["dirmeta-one-layer", "dirmeta-two-layers", "root-symlink", "whiteout-dot",
                                  "whiteout-dotdot", "relative-climb", "gzip-bomb"])
def test_verify_docker_archive(case: str, tmp_path: Path, target) -> None:
    root, before = target
    location = write_location(case_image(case, str(root)), tmp_path, "docker-archive")
    run = goslim_cli(_verify_args(location), tmp_path)
    assert_verdict(run, case, root, before)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("case", ALL)
def test_image_base_then_verify(case: str, tmp_path: Path, target, go_build: BuildFixture) -> None:
    """As a --base the image is refused by name, or built; the result then verifies safely too."""
    root, before = target
    binary = go_build("hello-api")
    location = write_location(case_image(case, str(root)), tmp_path)
    out = tmp_path / "out"
    run = goslim_cli(["image", str(binary.path), "--base", location, "--to", f"oci:{out}:v1"], tmp_path)
    assert_safe(run, {0, 2}, root, before)
    if run.returncode == 0 and case not in BOMBS:  # bombs through verify: test_verify
        again = goslim_cli(_verify_args(f"oci:{out}:v1"), tmp_path)
        assert_verdict(again, case, root, before)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("case", ALL)
def test_inspect(case: str, tmp_path: Path, target) -> None:
    root, before = target
    location = write_location(case_image(case, str(root)), tmp_path)
    run = goslim_cli(["inspect", location], tmp_path)
    assert_safe(run, {0, 2}, root, before)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("case", ALL)
def test_scan(case: str, tmp_path: Path, target) -> None:
    root, before = target
    location = write_location(case_image(case, str(root)), tmp_path)
    run = goslim_cli(["scan", location, "--db", str(OSV), "--no-attach", "--out", str(tmp_path / "sbom")],
                     tmp_path)
    assert_safe(run, {0, 1, 2}, root, before)


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory: pytest.TempPathFactory) -> str:
    return gzipped_docker_archive_with_big_layer(tmp_path_factory.mktemp("big") / "image.tar.gz")


@pytest.mark.timeout(900)
def test_inspect_gzipped_docker_archive_with_1gib_layer(big_archive: str, tmp_path: Path, target) -> None:
    root, before = target
    run = goslim_cli(["inspect", big_archive], tmp_path)
    assert_safe(run, {0, 2}, root, before)


@pytest.mark.timeout(900)
def test_verify_gzipped_docker_archive_with_1gib_layer(big_archive: str, tmp_path: Path, target) -> None:
    root, before = target
    run = goslim_cli(_verify_args(big_archive), tmp_path)
    assert_safe(run, {2}, root, before)
