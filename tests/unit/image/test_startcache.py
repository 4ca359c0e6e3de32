"""Compare's start checks are reused for the same image digest and options, when they are settled."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from goslim.image.startcache import CACHE_KIND, StartCheckCache
from goslim.image.startcheck import StartCheck
from goslim.resultcache import ResultCache
from goslim.verify.models import VerifyOptions

READY = StartCheck(started=True, detail="ready", verdicts={"starts": "pass", "readiness": "pass"})
CRASHED = StartCheck(started=False, detail="exited", exit_code=1, verdicts={"starts": "fail"})
TIMED_OUT = StartCheck(started=False, detail="not ready", verdicts={"starts": "pass", "readiness": "fail"})


@dataclass(frozen=True)
class FakeImage:
    digest: str


def _counting(result: StartCheck) -> tuple[list[str], object]:
    calls: list[str] = []

    def check(image: FakeImage) -> StartCheck:
        calls.append(image.digest)
        return result

    return calls, check


def test_settled_results_are_reused_for_the_same_digest_and_options(tmp_path: Path):
    for result in (READY, CRASHED):
        root = tmp_path / result.detail
        calls, check = _counting(result)
        first = StartCheckCache(ResultCache(CACHE_KIND, root))
        assert first.wrap(check, VerifyOptions())(FakeImage("sha256:aa")) == result
        second = StartCheckCache(ResultCache(CACHE_KIND, root))
        wrapped = second.wrap(check, VerifyOptions())
        assert wrapped(FakeImage("sha256:aa")) == result and calls == ["sha256:aa"]
        assert second.describe() == "start checks reused for 1 of 1 images (same digests)"
        wrapped(FakeImage("sha256:bb"))  # another image is run
        second.wrap(check, VerifyOptions(alive_seconds=2))(FakeImage("sha256:aa"))  # other options too
        assert calls == ["sha256:aa", "sha256:bb", "sha256:aa"]


def test_a_timeout_is_checked_again(tmp_path: Path):
    calls, check = _counting(TIMED_OUT)
    for _ in range(2):
        cache = StartCheckCache(ResultCache(CACHE_KIND, tmp_path))
        cache.wrap(check, VerifyOptions())(FakeImage("sha256:aa"))
    assert calls == ["sha256:aa", "sha256:aa"] and cache.describe() == ""
