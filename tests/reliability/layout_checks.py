"""Checks that an OCI layout is valid, by goslim and by independent readers (skopeo, umoci)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from goslim.oci import Image, layout_tags, read_oci_layout
from tests.conftest import need_tool

READER_TIMEOUT = 60


def assert_layout_valid(root: Path, expected: dict[str, str]) -> None:
    """Each tag in ``expected`` (tag -> digest) resolves, in goslim, skopeo and umoci, to a complete image."""
    tags = layout_tags(root)
    for tag, digest in expected.items():
        assert tag in tags, f"tag {tag} missing from {root}/index.json: {sorted(tags)}"
        assert str(tags[tag].digest) == digest, f"tag {tag} points at {tags[tag].digest}, expected {digest}"
        image = read_oci_layout(root, tag)  # verifies every blob against its digest
        assert isinstance(image, Image)
        assert str(image.digest) == digest
        inspected = skopeo_inspect(f"oci:{root}:{tag}")
        assert inspected["Digest"] == digest
    umoci_tags = umoci_ls(root)
    assert set(expected) <= set(umoci_tags), f"umoci ls: {umoci_tags}"


def skopeo_inspect(location: str, *extra: str) -> dict:
    skopeo = need_tool("skopeo")
    out = subprocess.run([skopeo, "inspect", *extra, location], capture_output=True, text=True,
                         timeout=READER_TIMEOUT, check=False)
    assert out.returncode == 0, f"skopeo inspect {location} failed: {out.stderr.strip()[-500:]}"
    return json.loads(out.stdout)


def umoci_ls(root: Path) -> list[str]:
    umoci = need_tool("umoci")
    out = subprocess.run([umoci, "ls", "--layout", str(root)], capture_output=True, text=True,
                         timeout=READER_TIMEOUT, check=False)
    assert out.returncode == 0, f"umoci ls --layout {root} failed: {out.stderr.strip()[-500:]}"
    return out.stdout.split()


def temp_files(root: Path) -> list[str]:
    """Leftover temp files of interrupted writes (harmless to readers, reported for information)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.tmp"))
