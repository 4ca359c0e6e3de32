"""The ablation measured once per Go, flags, platform and source state, then reused from disk.

The key holds everything that changes an ablation's figures: the Go version and its whole
environment (``go env``), the C compiler a default (cgo) build links with, the host, the build
options and the pattern, the technique list, how sizes are measured (gzip backend and level, zstd
level and library), and the source the package's builds read (its local packages' files, module
versions, go.mod/go.sum, go.work, and the git revision and modified flag go stamps in): editing one
service of a module leaves the other services' ablations valid.
Runs and services that share a key share one measurement (serialised by ``ResultCache.computing``).
"""

from __future__ import annotations

import json
import os
import platform as host_platform
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import zstandard

from goslim import gzipstream
from goslim.gobuild.ablation import GZIP_LEVEL, TECHNIQUES, ZSTD_LEVEL, Ablation, run_ablation
from goslim.gobuild.flags import BuildOptions, Profile, plan_build
from goslim.gobuild.models import Binary
from goslim.gobuild.sourcehash import package_source_state
from goslim.gobuild.toolchain import GoToolchain
from goslim.resultcache import ResultCache, cache_key

CACHE_KIND = "ablation"
SCHEMA = 2  # bump when Ablation or how it is measured changes
_GO_TMP = re.compile(r"/go-build\d+")  # go env names a fresh temp dir in GOGCCFLAGS each time


@dataclass(frozen=True)
class CachedAblation:
    """An ablation and whether it was measured now or reused from an earlier run."""

    ablation: Ablation
    reused: bool
    key: str
    cache_note: str = ""  # why it could not be stored, when it could not

    def describe(self) -> str:
        """One line for the stage: what was reused or measured, and the key."""
        if self.reused:
            return f"reused from the cache (same Go, flags and source; key {self.key[:12]})"
        builds = len(self.ablation.rows)
        return f"measured {builds} builds; {self.cache_note or 'cached'} (key {self.key[:12]})"


def ablation_key(
    toolchain: GoToolchain, pattern: str, base: BuildOptions, exclude: Iterable[Path] = ()
) -> str:
    """The cache key of ``run_ablation(toolchain, pattern, base)``; ``exclude``: goslim's outputs."""
    env = plan_build(base).env
    go_env = _go_env(toolchain, env)
    return cache_key(
        {
            "schema": SCHEMA,
            "techniques": [[name, sorted(overrides.items())] for name, overrides in TECHNIQUES],
            "pattern": pattern,
            "options": base.model_dump(mode="json"),
            "go_env": go_env,
            "cc": _cc_version(toolchain, go_env.get("CC", "")),
            "host": [os.uname().machine, *host_platform.libc_ver()],
            "sizes": [gzipstream.backend(), GZIP_LEVEL, ZSTD_LEVEL, zstandard.ZSTD_VERSION],
            "source": package_source_state(
                toolchain, pattern, _variant_envs(base), base.tags, exclude, vcs=base.buildvcs
            ),
        }
    )


def cached_ablation(
    toolchain: GoToolchain,
    pattern: str,
    base: BuildOptions,
    *,
    exclude: Iterable[Path] = (),
    cache: ResultCache | None = None,
    on_step: Callable[[str], None] | None = None,
    built: Binary | None = None,
) -> CachedAblation:
    """``run_ablation``, or its stored result when nothing it depends on changed (``built``: see there)."""
    store = cache or ResultCache(CACHE_KIND)
    key = ablation_key(toolchain, pattern, base, exclude)
    with store.computing(key):
        found = store.load(key, Ablation)
        if found is not None:
            return CachedAblation(ablation=found, reused=True, key=key)
        ablation = run_ablation(toolchain, pattern, base, on_step, built)
        note = store.store(key, ablation)
    return CachedAblation(ablation=ablation, reused=False, key=key, cache_note=note)


def _variant_envs(base: BuildOptions) -> list[dict[str, str]]:
    """The distinct build environments of the techniques (cgo on and off select different files)."""
    envs: list[dict[str, str]] = []
    for _name, overrides in TECHNIQUES:
        env = plan_build(base.model_copy(update={"profile": Profile.DEFAULT, **overrides})).env
        if env not in envs:
            envs.append(env)
    return envs


def _go_env(toolchain: GoToolchain, env: dict[str, str]) -> dict[str, str]:
    """``go env`` under the build's environment, without the temp dir it makes up each time."""
    out = toolchain.run(["env", "-json"], env=env).stdout
    try:
        values = json.loads(out)
    except ValueError:
        return {"raw": _GO_TMP.sub("/go-build", out)}
    return {str(k): _GO_TMP.sub("/go-build", str(v)) for k, v in values.items()}


def _cc_version(toolchain: GoToolchain, cc_setting: str) -> str:
    """The C compiler's version line: a default build may link with it (cgo)."""
    words = cc_setting.split()
    cc = toolchain.runner.which(words[0]) if words else None
    if not cc:
        return "none"
    result = toolchain.runner.run([cc, "--version"], timeout=30, check=False)
    return (result.stdout.splitlines() or [""])[0]
