"""scripts/apt_backports.py: the backports line comes from the machine's own apt sources."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("apt_backports", REPO / "scripts" / "apt_backports.py")
assert _spec and _spec.loader
apt_backports = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(apt_backports)


def _sources_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    d = tmp_path / "sources.list.d"
    d.mkdir()
    for name, text in files.items():
        (tmp_path / name if name == "sources.list" else d / name).write_text(text)
    return d


def test_deb822_mirror_and_components_are_reused(tmp_path: Path) -> None:
    d = _sources_dir(tmp_path, {"debian.sources": (
        "Types: deb\nURIs: http://mirror.internal/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main contrib\n\n"
        "Types: deb\nURIs: http://mirror.internal/debian-security\nSuites: bookworm-security\n"
        "Components: main\n")})
    assert apt_backports.backports_line("bookworm", d) == \
        "deb http://mirror.internal/debian bookworm-backports main contrib"


def test_one_line_format_with_options(tmp_path: Path) -> None:
    d = _sources_dir(tmp_path, {"sources.list": (
        "# comment\ndeb-src http://x/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://cache.local:3142/debian bookworm main\n")})
    assert apt_backports.backports_line("bookworm", d) == \
        "deb http://cache.local:3142/debian bookworm-backports main"


def test_disabled_or_foreign_sources_are_not_used(tmp_path: Path) -> None:
    d = _sources_dir(tmp_path, {
        "a.sources": "Types: deb\nURIs: http://off/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n",
        "b.list": "deb https://packages.example/apt cloud-sdk-bookworm main\n",
    })
    assert apt_backports.backports_line("bookworm", d) is None
