"""The ablation is measured once per Go, flags and source state, and reused from disk after that."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from goslim.gobuild import Binary, BuildOptions, GoToolchain, Profile, build_binaries, run_ablation
from goslim.gobuild.ablation_cache import CACHE_KIND, cached_ablation
from goslim.resultcache import ResultCache
from tests.conftest import GO_FIXTURES, need_tool


@pytest.fixture
def module(tmp_path: Path) -> Path:
    need_tool("go")
    return Path(shutil.copytree(GO_FIXTURES / "no-needs", tmp_path / "no-needs"))


def test_reused_until_the_source_or_the_flags_change(module: Path, tmp_path: Path):
    cache = ResultCache(CACHE_KIND, tmp_path / "cache")
    go = GoToolchain(module)
    outputs = [module / "goslim-report"]
    first = cached_ablation(go, ".", BuildOptions(), exclude=outputs, cache=cache)
    assert not first.reused and "measured 7 builds" in first.describe()

    (module / "goslim-report").mkdir()  # goslim's own output inside the module changes nothing
    (module / "goslim-report" / "report.json").write_text("{}")
    again = cached_ablation(go, ".", BuildOptions(), exclude=outputs, cache=cache)
    assert again.reused and again.key == first.key and again.ablation == first.ablation
    assert "reused from the cache" in again.describe()

    stamped = cached_ablation(go, ".", BuildOptions(x={"main.version": "2"}), exclude=outputs, cache=cache)
    assert not stamped.reused and stamped.key != first.key

    main_go = module / "main.go"
    main_go.write_text(main_go.read_text() + "\nvar extra = []byte(\"a change to the source\")\n")
    changed = cached_ablation(go, ".", BuildOptions(), exclude=outputs, cache=cache)
    assert not changed.reused and changed.key not in (first.key, stamped.key)
    assert len(list(cache.dir.glob("*.json"))) == 3


def test_services_of_one_module_are_measured_once_each_and_again_only_when_their_source_changes(
    tmp_path: Path,
):
    need_tool("go")
    module = Path(shutil.copytree(GO_FIXTURES / "three-services", tmp_path / "three-services"))
    cache = ResultCache(CACHE_KIND, tmp_path / "cache")
    go = GoToolchain(module)
    services = ["./cmd/alpha", "./cmd/beta", "./cmd/gamma"]

    def measured() -> list[str]:
        """The services whose ablation was built in this pass (the rest came from the cache)."""
        results = {s: cached_ablation(go, s, BuildOptions(), cache=cache) for s in services}
        return [s for s, r in results.items() if not r.reused]

    assert measured() == services  # cold: one ablation per service
    assert measured() == []  # nothing changed: every one reused
    gamma = module / "cmd" / "gamma" / "main.go"
    gamma.write_text(gamma.read_text().replace('"gamma"', '"gamma, edited"'))
    assert measured() == ["./cmd/gamma"]  # one service edited: that one only
    shared = module / "internal" / "greet" / "greet.go"
    shared.write_text(shared.read_text().replace('"hello, "', '"hi, "'))
    assert measured() == ["./cmd/alpha", "./cmd/beta"]  # a package two of them import: those two
    (module / "cmd" / "gamma" / "main_test.go").write_text("package main\n")
    (module / "README.md").write_text("not read by any build\n")
    assert measured() == []  # tests and files outside the packages reach no binary
    (module / "go.mod").write_text((module / "go.mod").read_text() + "\ngodebug default=go1.21\n")
    assert measured() == services  # go.mod is every service's
    assert len(list(cache.dir.glob("*.json"))) == 3 + 1 + 2 + 3


def test_the_slim_row_is_measured_on_the_binary_the_build_stage_made(module: Path, tmp_path: Path):
    go = GoToolchain(module)
    [slim] = build_binaries(go, ["."], tmp_path / "bin", [BuildOptions()])
    [default] = build_binaries(go, ["."], tmp_path / "default", [BuildOptions(profile=Profile.DEFAULT)])
    ablation = run_ablation(go, ".", BuildOptions(), built=slim)
    fresh = run_ablation(go, ".", BuildOptions())
    assert ablation.rows == fresh.rows  # the same bytes a new link gives: Go builds are reproducible
    assert ablation.rows[5].size == slim.size and slim.path.exists()  # measured there, left in place

    # A binary with other bytes than its record says is not trusted: the row is linked again.
    shutil.copyfile(default.path, slim.path)
    assert run_ablation(go, ".", BuildOptions(), built=slim).rows[5].size == fresh.rows[5].size
    # Proof that the row really came from ``built`` rather than a new link: a record that matches
    # other bytes (the default build's, under the slim flags) gives those bytes' sizes.
    posing = Binary.from_file(default.path, **slim.model_dump(exclude={"path", "sha256", "size"}))
    assert run_ablation(go, ".", BuildOptions(), built=posing).rows[5].size == default.size
