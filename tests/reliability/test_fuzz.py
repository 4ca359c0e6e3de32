"""The short CI version of bench/fuzz, plus hypothesis-shaped inputs for the same readers.

GOSLIM_FUZZ_EXECUTIONS (default 20000) sets the mutation budget across all targets; bench/fuzz
runs the same targets with 1M. The hypothesis tests build structured documents and tar entries
that byte mutation rarely reaches (arbitrary JSON at every field, names and link targets made of
``..``, ``/`` and symlinks).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goslim.binary import analyze
from goslim.errors import GoslimError, UserInputError
from goslim.image import assemble
from goslim.oci import Descriptor, Image, Index
from goslim.oci.descriptor import canonical_json
from goslim.oci.unpack import unpack_rootfs
from tests.conftest import BuildFixture
from tests.reliability.fuzz_engine import Target, fuzz_one, replay, run_targets
from tests.reliability.fuzz_seeds import Corpus, build_corpus, layer_image_from_tar
from tests.reliability.fuzz_targets import make_targets, scratch_dir

pytestmark = pytest.mark.timeout(300)  # each test; the mutation run sets its own

EXECUTIONS = int(os.environ.get("GOSLIM_FUZZ_EXECUTIONS", "20000"))
SHAPED = settings(max_examples=max(EXECUTIONS // 100, 50), deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

_scalars = (st.none() | st.booleans() | st.integers(min_value=-(1 << 70), max_value=1 << 70)
            | st.floats(allow_nan=False) | st.text(max_size=20)
            | st.sampled_from(["sha256:" + "0" * 64, "application/vnd.oci.image.manifest.v1+json", "linux"]))
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def corpus(go_build: BuildFixture, tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    binary = go_build("hello-api")
    image = assemble(binary, analyze(Path(binary.path)), "static").image
    return build_corpus(Path(binary.path), image, tmp_path_factory.mktemp("fuzz-seeds"))


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = scratch_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_engine_catches_and_saves_non_goslim_exceptions(tmp_path: Path) -> None:
    def execute(data: bytes) -> None:
        if data[:1] == b"\x00":
            raise KeyError("a bug")
        if data[:1] == b"\x01":
            raise UserInputError("a clean refusal")

    target = Target("self-test", 1.0, lambda rng, m: m.mutate_bytes(b"\x02" * 8, [(0, 1)]), execute)
    stats = fuzz_one(target, 3000, seed=3, crash_dir=tmp_path)
    assert stats.executions == 3000 and stats.rejected and stats.accepted
    (crash,) = stats.crashes.values()
    assert crash.kind == "KeyError" and crash.count > 1
    with pytest.raises(KeyError):
        replay(Path(crash.saved), [target])


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_mutation_fuzz_only_goslim_errors(corpus: Corpus, scratch: Path, tmp_path: Path) -> None:
    results = run_targets(make_targets(corpus, scratch), EXECUTIONS, seed=1, crash_dir=tmp_path / "crashes")
    total = sum(r.executions for r in results)
    print(f"\nfuzzed {total} inputs: " + ", ".join(f"{r.name} {r.executions} ({r.per_second:.0f}/s)"
                                                   for r in results))
    assert total >= EXECUTIONS - len(results)
    assert all(r.rejected for r in results), "every target should see some inputs refused"
    crashes = [c for r in results for c in r.crashes.values()]
    assert not crashes, "\n".join(f"{c.target}: {c.kind} at {c.where} x{c.count}: {c.message} ({c.saved})"
                                  for c in crashes)


@pytest.mark.integration
@SHAPED
@given(field=st.sampled_from(["mediaType", "config", "layers", "annotations", "schemaVersion", "subject"]),
       value=json_values)
def test_manifest_any_json_at_any_field(corpus: Corpus, field: str, value: Any) -> None:
    doc = json.loads(corpus.image.manifest_bytes)
    doc[field] = value
    with contextlib.suppress(GoslimError):
        Image(canonical_json(doc), corpus.image.config_bytes, corpus.image.layers).summary()


@pytest.mark.integration
@SHAPED
@given(field=st.sampled_from(["mediaType", "manifests", "schemaVersion", "annotations"]), value=json_values,
       entry_field=st.sampled_from(["mediaType", "digest", "size", "platform", "urls", "annotations"]),
       entry_value=json_values)
def test_index_any_json(corpus: Corpus, field: str, value: Any, entry_field: str, entry_value: Any) -> None:
    doc = json.loads(Index.build([corpus.image]).index_bytes)
    doc["manifests"][0][entry_field] = entry_value
    doc[field] = value
    with contextlib.suppress(GoslimError):
        Index(canonical_json(doc), (corpus.image,)).image_for("linux/amd64")


@SHAPED
@given(st.dictionaries(st.sampled_from(["mediaType", "digest", "size", "platform", "urls", "annotations"]),
                       json_values, max_size=6))
def test_descriptor_any_json(raw: dict[str, Any]) -> None:
    with contextlib.suppress(GoslimError):
        Descriptor.from_dict(raw)


_segments = st.sampled_from(["..", ".", "", "a", "b", "etc", "link", "/", "passwd", ".wh.a", ".wh..wh..opq"])
tar_paths = st.lists(_segments, min_size=1, max_size=5).map("/".join)
tar_entries = st.lists(
    st.tuples(st.sampled_from(["file", "dir", "symlink", "hardlink"]), tar_paths, tar_paths),
    min_size=1, max_size=6,
)


def _tar(entries: list[tuple[str, str, str]]) -> bytes:
    out = io.BytesIO()
    kinds = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
             "hardlink": tarfile.LNKTYPE}
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, link in entries:
            info = tarfile.TarInfo(name or ".")
            info.type = kinds[kind]
            info.mode = 0o755 if kind == "dir" else 0o644
            info.linkname = link if kind in ("symlink", "hardlink") else ""
            data = b"payload" if kind == "file" else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return out.getvalue()


@SHAPED
@given(tar_entries)
def test_unpack_never_writes_outside(tmp_path_factory: pytest.TempPathFactory,
                                     entries: list[tuple[str, str, str]]) -> None:
    box = tmp_path_factory.mktemp("unpack-box")
    outside = box / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("do not touch\n")
    dest = box / "inner" / "rootfs"
    try:
        unpack_rootfs(layer_image_from_tar(_tar(entries)), dest)
    except GoslimError:
        assert not dest.exists(), "a refused layer must leave no rootfs behind"
    assert sorted(p.name for p in outside.iterdir()) == ["passwd"]
    assert (outside / "passwd").read_text() == "do not touch\n"
    assert sorted(p.name for p in (box / "inner").iterdir()) in ([], ["rootfs"])
    for path in dest.rglob("*") if dest.exists() else ():
        if path.is_symlink():
            continue
        assert path.resolve().is_relative_to(dest.resolve()), f"{path} resolves outside the rootfs"
