"""Shared test fixtures: Go programs are built once per test run and reused."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from goslim.gobuild import Binary, BuildOptions, GoToolchain, Profile, build_binaries
from goslim.platform import Platform

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DIR = REPO / "examples" / "hello-api"
GO_FIXTURES = REPO / "tests" / "fixtures" / "go"

BuildFixture = Callable[..., Binary]


def app_dir(app: str) -> Path:
    """examples/<app> for the bundled examples, else tests/fixtures/go/<app>."""
    example = REPO / "examples" / app
    return example if example.is_dir() else GO_FIXTURES / app


def need_tool(name: str) -> str:
    """Path of an external program; skipped locally when missing, an error in CI (setup installs it)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing: scripts/setup.sh should have installed it")
        pytest.skip(f"{name} is not installed (run scripts/setup.sh)")
    return path


@pytest.fixture(scope="session")
def go_build(tmp_path_factory: pytest.TempPathFactory) -> BuildFixture:
    """Build a Go program once per test run: ``go_build("hello-api", profile="slim")``.

    Go's own build cache (GOCACHE) is shared across runs, so repeated sessions are fast.
    """
    need_tool("go")
    root = tmp_path_factory.mktemp("go-builds")
    cache: dict[tuple, Binary] = {}
    lock = threading.Lock()

    def build(
        app: str,
        profile: str = "slim",
        platform: str = "linux/amd64",
        tags: tuple[str, ...] = (),
        **overrides: object,
    ) -> Binary:
        key = (app, profile, platform, tags, tuple(sorted(overrides.items())))
        with lock:
            if key not in cache:
                out = root / f"{app}-{len(cache)}"
                opts = BuildOptions(
                    profile=Profile(profile), platform=Platform.parse(platform), tags=tags, **overrides
                )
                cache[key] = build_binaries(GoToolchain(app_dir(app)), ["."], out, [opts])[0]
            return cache[key]

    return build
