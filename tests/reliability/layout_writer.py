"""A child process that writes one large image into an OCI layout, for the kill -9 and race tests.

    python -m tests.reliability.layout_writer LAYOUT TAG --seed S --size-mb N [--rounds R] [--crash-at POINT]

With ``--rounds R`` it writes R images in turn under TAG (seeds S, S+1000, ...).

The image has a small layer shared by every seed and a large layer unique to ``seed`` (random,
incompressible, uncompressed so building it is cheap). The process prints ``writing`` just before
calling ``write_oci_layout``, so a parent can time its SIGKILL, and ``done DIGEST`` after.

``--crash-at`` makes the process SIGKILL itself at an exact point inside goslim's writer:
``blob-half`` (half of the large blob copied into its temp file), ``blob-renamed`` (large blob in
place, before config and manifest), ``index-tmp`` (new index.json half-written to its temp file,
before the rename) or ``after-index`` (just after index.json was replaced).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any

import goslim.oci.layout as layout_mod
from goslim.fsutil import atomic_path
from goslim.oci import FileEntry, Image, build_layer, new_config, write_oci_layout
from goslim.platform import Platform

SHARED_SEED = 424242


def make_image(seed: int, size_mb: int) -> Image:
    """A two-layer image: a shared 256 KiB layer and a ``size_mb`` MiB layer unique to ``seed``."""
    shared = build_layer([FileEntry.file("/shared/data", random.Random(SHARED_SEED).randbytes(256 << 10))],
                         "none", mtime=0)
    unique = build_layer([FileEntry.dir("/app"),
                          FileEntry.file(f"/app/blob-{seed}", random.Random(seed).randbytes(size_mb << 20))],
                         "none", mtime=0)
    config = new_config(Platform(os="linux", architecture="amd64"), entrypoint=[f"/app/blob-{seed}"],
                        labels={"seed": str(seed)}, created=0)
    return Image.build(config, [shared, unique])


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install_crash_point(point: str, big_size: int) -> None:
    """Make goslim's layout writer SIGKILL this process at ``point`` (see the module docstring)."""
    real_write_blob = layout_mod.write_blob
    real_write_atomic = layout_mod.write_bytes_atomic

    if point == "blob-half":
        real_writer = layout_mod._HashingWriter

        class HalfThenDie(real_writer):  # type: ignore[misc, valid-type]
            def write(self, data: bytes) -> int:
                n = super().write(data)
                if self.size >= big_size // 2 and big_size > 1 << 20:
                    self._out.flush()
                    _die()
                return n

        layout_mod._HashingWriter = HalfThenDie  # type: ignore[misc]
    elif point == "blob-renamed":
        def write_blob(root: Path, digest: Any, size: int, src: Any) -> bool:
            wrote = real_write_blob(root, digest, size, src)
            if size == big_size:
                _die()
            return wrote

        layout_mod.write_blob = write_blob  # type: ignore[assignment]
    elif point == "index-tmp":
        def write_index(path: Path, data: bytes, mode: int = 0o644) -> None:
            if path.name != "index.json":
                real_write_atomic(path, data, mode)
                return
            with atomic_path(path) as tmp:
                tmp.write_bytes(data[: len(data) // 2])
                _die()

        layout_mod.write_bytes_atomic = write_index  # type: ignore[assignment]
    elif point == "after-index":
        def write_then_die(path: Path, data: bytes, mode: int = 0o644) -> None:
            real_write_atomic(path, data, mode)
            if path.name == "index.json":
                _die()

        layout_mod.write_bytes_atomic = write_then_die  # type: ignore[assignment]
    elif point != "none":
        raise SystemExit(f"unknown crash point {point}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("layout", type=Path)
    parser.add_argument("tag")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--size-mb", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--crash-at", default="none")
    args = parser.parse_args()
    for round_no in range(args.rounds):
        # Each round writes a new image (seed, seed+1000, ...) so every round has fresh blobs to race on.
        image = make_image(args.seed + 1000 * round_no, args.size_mb)
        if round_no == 0:
            install_crash_point(args.crash_at, image.layers[1].size)
        print("writing", flush=True)
        desc = write_oci_layout(args.layout, image, args.tag)
        print(f"done {desc.digest}", flush=True)


if __name__ == "__main__":
    main()
