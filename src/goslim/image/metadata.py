"""OCI labels and annotations from the binary's VCS build info, and a reproducible creation time."""

from __future__ import annotations

import configparser
import os
import re
from datetime import datetime
from pathlib import Path

from goslim.bases.models import Base
from goslim.binary import BinaryReport
from goslim.errors import UserInputError

PREFIX = "org.opencontainers.image."
_X_VERSION = re.compile(r"-X=?main\.version=([^\s']+)")


def created_epoch(facts: BinaryReport) -> int:
    """SOURCE_DATE_EPOCH when set, else the commit time Go stamped (vcs.time), else 0."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if raw:
        if not raw.isdigit():
            raise UserInputError(f"SOURCE_DATE_EPOCH='{raw}' is not a non-negative integer",
                                 hint="set it to seconds since 1970, e.g. $(git log -1 --format=%ct)")
        return int(raw)
    vcs_time = _settings(facts).get("vcs.time")
    if vcs_time:
        try:
            return int(datetime.fromisoformat(vcs_time.replace("Z", "+00:00")).timestamp())
        except ValueError:
            pass  # a malformed stamp is not worth failing the build for; fall back to 0
    return 0


def image_version(facts: BinaryReport, flags: list[str]) -> str | None:
    """The version stamped with -X main.version=..., else the main module's version."""
    for flag in flags:
        m = _X_VERSION.search(flag)
        if m:
            return m.group(1)
    version = facts.build_info.main.version if facts.build_info else ""
    if version and version != "(devel)":
        return version
    return None


def source_url(module_dir: Path | None, facts: BinaryReport | None) -> str | None:
    """The origin remote of the module's git checkout, else https://<module path> for hosted paths."""
    if module_dir is not None:
        url = _git_origin(module_dir)
        if url:
            return url
    main_path = facts.build_info.main.path if facts and facts.build_info else ""
    first = main_path.split("/")[0] if main_path else ""
    if "." in first and first not in ("example.com", "example.org"):
        return f"https://{main_path}"
    return None


def oci_labels(
    facts: BinaryReport, base: Base, *, name: str, flags: list[str], module_dir: Path | None, created: str
) -> dict[str, str]:
    """org.opencontainers.image.* keys; only those with a known value are set."""
    values = {
        "title": name,
        "created": created,
        "source": source_url(module_dir, facts),
        "revision": _settings(facts).get("vcs.revision"),
        "version": image_version(facts, flags),
        "base.name": base.name,
        "base.digest": base.digest,
    }
    return {PREFIX + k: v for k, v in values.items() if v}


def _settings(facts: BinaryReport) -> dict[str, str]:
    return facts.build_info.settings if facts.build_info else {}


def _git_origin(start: Path) -> str | None:
    """Read [remote "origin"] url from .git/config (no git process needed)."""
    for directory in (start.resolve(), *start.resolve().parents):
        git = directory / ".git"
        if git.is_dir():
            parser = configparser.ConfigParser(strict=False)
            try:
                parser.read(git / "config")
            except configparser.Error:
                return None
            url = parser.get('remote "origin"', "url", fallback=None)
            return _redact(url) if url else None
        if git.is_file():
            return None  # a worktree or submodule: leave it out rather than guess
    return None


def _redact(url: str) -> str:
    # Never publish credentials embedded in a remote URL.
    return re.sub(r"//[^/@]+@", "//", url)
