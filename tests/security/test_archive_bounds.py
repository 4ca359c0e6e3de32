"""A docker-archive is read in bounded memory: inspect reads only manifest.json and the config,
a full read streams each layer, and oversized documents are refused in one line.

The archive is written by hand with a sparse 512 MiB layer member, so it costs no disk; the
child's peak RSS is its own VmHWM (tests.childmem).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from goslim.oci import Platform, new_config
from goslim.oci.archive import DOCUMENT_CAP
from tests.childmem import code_argv, goslim_argv, peak_kib

pytestmark = pytest.mark.timeout(300)

LAYER_BYTES = 512 << 20
RSS_BOUND_KIB = 200 << 10  # the interpreter and goslim's imports take about 60 MiB of it
_ZEROS = bytes(1 << 20)


@functools.cache
def zeros_digest(size: int) -> str:
    h = hashlib.sha256()
    for _ in range(size >> 20):
        h.update(_ZEROS)
    return f"sha256:{h.hexdigest()}"


def write_archive(path: Path, members: list[tuple[str, bytes | int]]) -> None:
    """A plain tar: bytes are written, an int is that many zero bytes left as a hole (sparse)."""
    with open(path, "wb") as fh:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = content if isinstance(content, int) else len(content)
            fh.write(info.tobuf(tarfile.USTAR_FORMAT))
            if isinstance(content, int):
                fh.seek(content, io.SEEK_CUR)
            else:
                fh.write(content)
            fh.seek(-info.size % 512, io.SEEK_CUR)
        fh.write(bytes(1024))


def big_layer_archive(path: Path, layer_bytes: int = LAYER_BYTES) -> Path:
    config = new_config(Platform(os="linux", architecture="amd64"), entrypoint=["/app"])
    config["rootfs"]["diff_ids"] = [zeros_digest(layer_bytes)]
    config_bytes = json.dumps(config).encode()
    manifest = [{"Config": "config.json", "RepoTags": ["example.com/big:v1"], "Layers": ["big/layer.tar"]}]
    write_archive(path, [("big/layer.tar", layer_bytes), ("config.json", config_bytes),
                         ("manifest.json", json.dumps(manifest).encode())])
    return path


def run_measured(args: list[str], cwd: Path) -> tuple[int, str, str, int]:
    """Run a child (argv from tests.childmem) to the end: exit code, stdout, stderr, its peak RSS in KiB."""
    out, err = cwd / "child.out", cwd / "child.err"
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.run(args, cwd=cwd, stdout=o, stderr=e, check=False)
    return proc.returncode, out.read_text(), err.read_text(), peak_kib(cwd / "child.peak")


def test_inspect_reads_only_manifest_and_config(tmp_path: Path) -> None:
    archive = big_layer_archive(tmp_path / "big.tar")
    code, out, err, rss = run_measured(
        goslim_argv(["inspect", "--json", f"docker-archive:{archive}"], tmp_path / "child.peak"), tmp_path)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["layers"][0]["size"] == LAYER_BYTES
    assert rss < RSS_BOUND_KIB, f"inspect peaked at {rss >> 10} MiB RSS"


def test_full_read_streams_the_layer(tmp_path: Path) -> None:
    archive = big_layer_archive(tmp_path / "big.tar")
    script = ("import sys; from goslim.oci.archive import read_docker_archive; "
              "image = read_docker_archive(sys.argv[1]); print(image.layers[0].digest, image.layers[0].size)")
    code, out, err, rss = run_measured(code_argv(script, [str(archive)], tmp_path / "child.peak"), tmp_path)
    assert code == 0, err
    assert out.split() == [zeros_digest(LAYER_BYTES), str(LAYER_BYTES)]  # digest and diff_id checked
    assert rss < RSS_BOUND_KIB, f"reading the archive peaked at {rss >> 10} MiB RSS"


def test_layer_is_read_from_the_archive_when_needed(tmp_path: Path) -> None:
    from goslim.oci.archive import read_docker_archive  # noqa: PLC0415

    archive = big_layer_archive(tmp_path / "small.tar", layer_bytes=3 << 20)
    image = read_docker_archive(archive)
    with image.layers[0].open() as fh:
        assert fh.read() == bytes(3 << 20)


@pytest.mark.parametrize("document", ["manifest.json", "config.json"])
def test_oversized_document_is_refused_in_one_line(tmp_path: Path, document: str) -> None:
    archive = tmp_path / "huge.tar"
    config = new_config(Platform(os="linux", architecture="amd64"))
    members: dict[str, bytes | int] = {
        "config.json": json.dumps(config).encode(),
        "manifest.json": json.dumps([{"Config": "config.json", "Layers": []}]).encode(),
    }
    members[document] = DOCUMENT_CAP + 1
    write_archive(archive, list(members.items()))
    result = subprocess.run([sys.executable, "-m", "goslim", "inspect", f"docker-archive:{archive}"],
                            check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"'{document}' has {DOCUMENT_CAP + 1} bytes" in result.stderr.splitlines()[0]
