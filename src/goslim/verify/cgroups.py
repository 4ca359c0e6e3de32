"""How close a container came to its pids and memory limits, read from its cgroups (v1 or v2)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class LimitUsage:
    pids_current: int | None
    pids_limit_hits: int | None  # times a fork/clone was refused by the pids limit
    memory_peak_bytes: int | None
    memory_limit_hits: int | None  # times usage hit the memory limit


def limit_usage(pid: int) -> LimitUsage:
    """Read the cgroup counters of the process ``pid`` (all None when they cannot be read)."""
    paths = _cgroup_dirs(pid)
    pids_dir, mem_dir, unified = paths.get("pids"), paths.get("memory"), paths.get("")
    pids_dir = pids_dir or unified
    mem_v1 = mem_dir is not None
    mem_dir = mem_dir or unified
    return LimitUsage(
        pids_current=_int(pids_dir, "pids.current"),
        pids_limit_hits=_keyed(pids_dir, "pids.events", "max"),
        memory_peak_bytes=_int(mem_dir, "memory.max_usage_in_bytes" if mem_v1 else "memory.peak"),
        memory_limit_hits=_int(mem_dir, "memory.failcnt")
        if mem_v1
        else _keyed(mem_dir, "memory.events", "max"),
    )


def _cgroup_dirs(pid: int) -> dict[str, Path]:
    dirs: dict[str, Path] = {}
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return dirs
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for ctl in controllers.split(",") if controllers else [""]:
            base = CGROUP_ROOT / ctl if ctl else _unified_root()
            dirs[ctl] = base / path.lstrip("/")
    return dirs


def _unified_root() -> Path:
    hybrid = CGROUP_ROOT / "unified"
    return hybrid if hybrid.is_dir() else CGROUP_ROOT


def _int(directory: Path | None, name: str) -> int | None:
    if directory is None:
        return None
    try:
        return int((directory / name).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _keyed(directory: Path | None, name: str, key: str) -> int | None:
    if directory is None:
        return None
    try:
        for line in (directory / name).read_text().splitlines():
            k, _, v = line.partition(" ")
            if k == key:
                return int(v)
    except (OSError, ValueError):
        return None
    return None
