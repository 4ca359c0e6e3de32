"""A 1 GiB entrypoint is analyzed and scanned in bounded memory: mapped or streamed, never read whole.

The binary is a real Go build followed by 1 GiB of sparse zeros (the tail a packer or an embedded
asset leaves), so the file costs no disk; the peak RSS of the goslim child is measured as its own VmHWM.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from goslim.oci import FileEntry, Image, Platform, build_layer, new_config, write_oci_layout
from tests.childmem import goslim_argv, peak_kib

pytestmark = pytest.mark.timeout(600)
GIB = 1 << 30
RSS_LIMIT_MIB = 300


@pytest.fixture(scope="module")
def big_binary(go_build, tmp_path_factory) -> Path:
    built = go_build("hello-api")
    path = tmp_path_factory.mktemp("big") / "hello-api"
    shutil.copyfile(built.path, path)
    path.chmod(0o755)
    os.truncate(path, path.stat().st_size + GIB)  # sparse: no disk used for the zeros
    return path


def measured(args: list[str], tmp_path: Path) -> tuple[int, str]:
    """(peak RSS in MiB, stdout) of one goslim child, its own VmHWM (tests.childmem)."""
    out_file, err_file, peak_file = tmp_path / "stdout", tmp_path / "stderr", tmp_path / "peak"
    with open(out_file, "wb") as out, open(err_file, "wb") as err:
        proc = subprocess.run(
            goslim_argv(args, peak_file),
            stdout=out,
            stderr=err,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
            check=False,
        )
    assert proc.returncode == 0, err_file.read_text(errors="replace")[-2000:]
    return peak_kib(peak_file) // 1024, out_file.read_text()


def test_analyze_of_a_1gib_binary_stays_small(big_binary: Path, tmp_path: Path) -> None:
    rss, out = measured(["analyze", str(big_binary), "--json"], tmp_path)
    report = json.loads(out)
    assert report["size"] > GIB and report["is_go"]
    assert rss < RSS_LIMIT_MIB, f"peak RSS {rss} MiB"


def test_scan_of_a_1gib_binary_stays_small(big_binary: Path, tmp_path: Path) -> None:
    db = Path(__file__).resolve().parents[1] / "fixtures" / "osv"
    rss, out = measured(["scan", str(big_binary), "--db", str(db), "--sbom", "cyclonedx", "--json"], tmp_path)
    assert json.loads(out)["report"]["go_version"]
    assert rss < RSS_LIMIT_MIB, f"peak RSS {rss} MiB"


def test_scan_of_an_image_whose_entrypoint_unpacks_300x_is_refused(big_binary: Path, tmp_path: Path) -> None:
    """1 GiB of mostly zeros in a ~4 MB layer is past unpack's budget: scan stops there, as verify does."""
    layer = build_layer([FileEntry.from_path("app/hello-api", big_binary, mode=0o755)], mtime=0)
    image = Image.build(
        new_config(Platform(os="linux", architecture="amd64"), entrypoint=["/app/hello-api"]), [layer]
    )
    layout = tmp_path / "img"
    write_oci_layout(layout, image, tag="big")
    del image, layer
    db = Path(__file__).resolve().parents[1] / "fixtures" / "osv"
    peak = tmp_path / "peak"
    run = subprocess.run(goslim_argv(["scan", f"oci:{layout}:big", "--db", str(db)], peak),
                         capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("error: layer sha256:") and "past its budget" in run.stderr, run.stderr
    assert peak_kib(peak) // 1024 < RSS_LIMIT_MIB
