"""UPX measurements are kept by the binary's sha256 and levels: a re-run neither packs nor launches."""

from __future__ import annotations

from pathlib import Path

from goslim.gobuild.models import sha256_file
from goslim.probe import ProbeSpec
from goslim.resultcache import ResultCache
from goslim.upx import Budget, UpxMeasurementCache, evaluate
from goslim.upx.measurement_cache import CACHE_KIND
from tests.conftest import BuildFixture, need_tool

ECHO = ProbeSpec("tcp", 9000)
ANYTHING_THAT_WORKS = Budget(max_startup_ms=100_000, min_pull_saving_pct=-100)


def test_a_second_evaluation_reuses_rows_and_packed_files(go_build: BuildFixture, tmp_path: Path):
    need_tool("upx")
    echo = go_build("upx-echo")
    cache = UpxMeasurementCache(ResultCache(CACHE_KIND, tmp_path / "cache"))

    def run(work: str, budget: Budget = ANYTHING_THAT_WORKS):
        work_dir = tmp_path / work
        return evaluate(echo, ("default",), ECHO, budget, work_dir=work_dir, repetitions=1, cache=cache)

    first = run("one")
    assert not first.reused_measurements and first.decision.level == "default"
    second = run("two")
    assert second.reused_measurements
    assert [r.model_dump(exclude={"path"}) for r in second.rows] == [
        r.model_dump(exclude={"path"}) for r in first.rows
    ]
    assert second.decision.binary is not None and second.decision.binary.path.parent == tmp_path / "two"
    assert second.decision.binary.sha256 == first.decision.binary.sha256
    assert sha256_file(second.decision.binary.path)[0] == first.decision.binary.sha256

    # The budget steers how many rounds are run: another budget is another measurement.
    strict = run("three", Budget(min_pull_saving_pct=99))
    assert not strict.reused_measurements and strict.decision.level is None

    # A packed file that changed in the cache is not trusted: measured again.
    packed = cache.packed_dir / first.decision.binary.sha256
    packed.write_bytes(b"not the packed binary")
    fourth = run("four")
    assert not fourth.reused_measurements and fourth.decision.level == "default"
