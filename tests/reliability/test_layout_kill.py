"""kill -9 during OCI layout writes, and two writers on one layout at once.

A child process (tests/reliability/layout_writer.py) writes a large image into a layout that
already holds an older image under tag ``old`` and under the very tag the child writes (``app``).
It is SIGKILLed at exact points inside goslim's writer and at several wall-clock delays. After
each kill the layout must still be valid for goslim, skopeo and umoci, ``old`` must be intact, and
``app`` must point at either the old image or the complete new one, never at something partial.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from goslim.oci import Descriptor, Digest, layout_tags, mediatypes, write_oci_layout
from goslim.oci.layout import read_descriptor
from tests.conftest import REPO
from tests.reliability.layout_checks import assert_layout_valid, temp_files
from tests.reliability.layout_writer import make_image

pytestmark = pytest.mark.integration

BIG_MB = 24
OLD_SEED, NEW_SEED = 1, 2
CHILD_TIMEOUT = 60


def _writer(layout: Path, tag: str, seed: int, *extra: str, size_mb: int = BIG_MB) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.layout_writer", str(layout), tag, "--seed", str(seed),
         "--size-mb", str(size_mb), *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.fixture(scope="module")
def images() -> dict[int, str]:
    """Digests of the images the children write (computed here the same way)."""
    return {seed: str(make_image(seed, BIG_MB).digest) for seed in (OLD_SEED, NEW_SEED)}


def _layout_with_old_image(root: Path) -> str:
    old = make_image(OLD_SEED, BIG_MB)
    write_oci_layout(root, old, "old")
    write_oci_layout(root, old, "app")
    return str(old.digest)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("point", ["blob-half", "blob-renamed", "index-tmp", "after-index"])
def test_kill_at_exact_points_keeps_layout_valid(tmp_path: Path, images: dict[int, str], point: str) -> None:
    root = tmp_path / "layout"
    old = _layout_with_old_image(root)
    child = _writer(root, "app", NEW_SEED, "--crash-at", point)
    _out, err = child.communicate(timeout=CHILD_TIMEOUT)
    assert child.returncode == -signal.SIGKILL, f"writer was not killed at {point}: {err[-500:]}"
    app = images[NEW_SEED] if point == "after-index" else old
    assert_layout_valid(root, {"old": old, "app": app})
    # A later write succeeds over whatever the killed one left behind.
    write_oci_layout(root, make_image(NEW_SEED, BIG_MB), "app")
    assert_layout_valid(root, {"old": old, "app": images[NEW_SEED]})


@pytest.mark.timeout(300)
def test_kill_at_several_moments_keeps_layout_valid(tmp_path: Path, images: dict[int, str]) -> None:
    root = tmp_path / "layout"
    old = _layout_with_old_image(root)
    outcomes = []
    for delay in (0.0, 0.05, 0.15, 0.3, 0.6, 1.2):
        child = _writer(root, "app", NEW_SEED)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "writing"  # the image is built, the write starts now
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=CHILD_TIMEOUT)
        tags = {"old": old}
        current = assert_app_is_old_or_new(root, old, images[NEW_SEED])
        tags["app"] = current
        assert_layout_valid(root, tags)
        outcomes.append((delay, "new" if current == images[NEW_SEED] else "old", len(temp_files(root))))
        if current == images[NEW_SEED]:
            write_oci_layout(root, make_image(OLD_SEED, BIG_MB), "app")  # reset for the next round
    print("kill delay -> app tag, temp files left:", outcomes)


def assert_app_is_old_or_new(root: Path, old: str, new: str) -> str:
    digest = str(layout_tags(root)["app"].digest)
    assert digest in (old, new), f"tag app points at {digest}: neither the old nor the new image"
    return digest


@pytest.mark.timeout(300)
def test_two_writers_at_once_both_images_present(tmp_path: Path, images: dict[int, str]) -> None:
    root = tmp_path / "layout"
    old = _layout_with_old_image(root)
    rounds, size = 4, 8
    a = _writer(root, "first", 3, "--rounds", str(rounds), size_mb=size)
    b = _writer(root, "second", 4, "--rounds", str(rounds), size_mb=size)
    out_a, err_a = a.communicate(timeout=CHILD_TIMEOUT * rounds)
    out_b, err_b = b.communicate(timeout=CHILD_TIMEOUT * rounds)
    assert a.returncode == 0, err_a[-800:]
    assert b.returncode == 0, err_b[-800:]
    written_a = [line.split()[1] for line in out_a.splitlines() if line.startswith("done")]
    written_b = [line.split()[1] for line in out_b.splitlines() if line.startswith("done")]
    last = 1000 * (rounds - 1)
    assert written_a[-1] == str(make_image(3 + last, size).digest)
    assert written_b[-1] == str(make_image(4 + last, size).digest)
    assert len(written_a) == len(written_b) == rounds
    assert_layout_valid(root, {"old": old, "app": old, "first": written_a[-1], "second": written_b[-1]})
    # Every image of every round is complete in the layout (blobs verified), tagged or not.
    for digest in written_a + written_b:
        blob = root / "blobs" / "sha256" / digest.removeprefix("sha256:")
        desc = Descriptor(mediatypes.OCI_MANIFEST, Digest.parse(digest), blob.stat().st_size)
        assert str(read_descriptor(root, desc).digest) == digest
    assert temp_files(root) == []
