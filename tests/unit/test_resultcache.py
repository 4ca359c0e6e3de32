"""The on-disk result cache: a miss for anything that does not parse, and best effort writes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from goslim.models import Frozen
from goslim.resultcache import ResultCache, cache_key


class Entry(Frozen):
    value: int


def test_a_stored_result_is_found_again_and_cleared(tmp_path: Path):
    cache = ResultCache("kind", tmp_path)
    key = cache_key({"a": 1})
    assert cache.load(key, Entry) is None
    assert cache.store(key, Entry(value=7)) == ""
    assert cache.load(key, Entry) == Entry(value=7)
    assert cache.clear(key) and cache.load(key, Entry) is None and not cache.clear(key)


def test_keys_follow_every_part_in_any_order():
    assert cache_key({"a": 1, "b": [2]}) == cache_key({"b": [2], "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})


def test_a_torn_or_foreign_entry_is_a_miss(tmp_path: Path):
    cache = ResultCache("kind", tmp_path)
    cache.dir.mkdir(parents=True)
    cache.path("torn").write_text('{"value": ')
    cache.path("foreign").write_text('{"other": 1}')
    assert cache.load("torn", Entry) is None and cache.load("foreign", Entry) is None


def test_an_unwritable_cache_says_why_and_the_run_goes_on(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = ResultCache("kind", blocker)
    assert cache.store("k", Entry(value=1)).startswith("not cached")
    with cache.computing("k"):  # no lock file possible: still runs
        pass


def test_one_key_is_computed_by_one_thread_at_a_time(tmp_path: Path):
    cache = ResultCache("kind", tmp_path)
    inside, overlaps = [], []

    def work() -> None:
        with cache.computing("k"):
            if inside:
                overlaps.append(1)
            inside.append(1)
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []
