"""The user namespace verify runs containers in: container ids 0..65535 on an unprivileged host range.

Range: the first 65536 ids of the ``goslim`` entry of /etc/subuid and /etc/subgid when both
exist (as LXD and Docker's userns-remap use theirs), else host ids from 0x70000000 (1879048192):
above systemd's container range (524288..0x6FFFFFFF), below its foreign-UID range and below
2^31, so no user account or other container manager hands them out.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

ID_COUNT = 65536  # the POSIX range including nobody (65534), as Kubernetes and LXD allocate
DEFAULT_HOST_ID = 0x7000_0000
SUBID_OWNER = "goslim"
MAX_USER_NAMESPACES = Path("/proc/sys/user/max_user_namespaces")
SUBUID, SUBGID = Path("/etc/subuid"), Path("/etc/subgid")


@dataclass(frozen=True)
class IdMap:
    """Container ids 0..size-1 are host ids host_id..host_id+size-1 (uids and gids alike)."""

    host_id: int
    size: int = ID_COUNT
    source: str = "goslim's default range"

    def describe(self) -> str:
        ids = f"0-{self.size - 1} = host ids {self.host_id}-{self.host_id + self.size - 1}"
        return f"user namespace: container ids {ids} ({self.source})"


@dataclass(frozen=True)
class UserNamespace:
    """Whether verify can use a user namespace here: the map, or why not."""

    id_map: IdMap | None
    reason: str = ""  # why there is none


def user_namespace(work_dir: Path | None = None) -> UserNamespace:
    """The id map to run containers with, or the reason this machine cannot give one.

    ``work_dir`` is where the rootfs and bundle go: the mapped root must be able to walk to them.
    """
    if os.geteuid() != 0:
        return UserNamespace(None, "goslim is not running as root, so it cannot own a shifted rootfs")
    try:
        limit = int(MAX_USER_NAMESPACES.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return UserNamespace(None, f"the kernel has no user namespaces ({MAX_USER_NAMESPACES} is unreadable)")
    if limit <= 0:
        return UserNamespace(None, f"user namespaces are disabled ({MAX_USER_NAMESPACES} is 0)")
    id_map = _subid_map() or IdMap(DEFAULT_HOST_ID)
    if not _mapped_here(id_map):
        last = id_map.host_id + id_map.size - 1
        return UserNamespace(
            None, f"host ids {id_map.host_id}-{last} are not mapped in goslim's own user namespace"
        )
    closed = _closed_ancestor(work_dir) if work_dir is not None else None
    if closed is not None:
        return UserNamespace(
            None, f"{closed} is not searchable by other users, so the container's unprivileged root "
            "could not reach its rootfs; set TMPDIR to a directory under /tmp"
        )
    return UserNamespace(id_map)


def _closed_ancestor(path: Path) -> Path | None:
    """The first directory from ``path`` up that other users cannot search, if any."""
    for p in (path, *path.parents):
        try:
            if not os.stat(p).st_mode & stat.S_IXOTH:
                return p
        except OSError:
            return p
    return None


def unavailable_note(reason: str) -> str:
    return f"user namespace: not used ({reason}); the container's uid 0 is the host's uid 0"


def container_ids(pid: int) -> tuple[int | None, int | None]:
    """Real uid and gid of ``pid`` as its own user namespace sees them (the image's view)."""
    uid = gid = None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
            elif line.startswith("Gid:"):
                gid = int(line.split()[1])
        if uid is not None:
            uid = _inside(Path(f"/proc/{pid}/uid_map"), uid)
        if gid is not None:
            gid = _inside(Path(f"/proc/{pid}/gid_map"), gid)
    except (OSError, ValueError, IndexError):
        return None, None
    return uid, gid


def _inside(map_file: Path, host_id: int) -> int | None:
    """Translate a host id through a /proc/PID/[ug]id_map read from the host (inside outside count)."""
    for line in map_file.read_text().splitlines():
        inside, outside, count = (int(x) for x in line.split())
        if outside <= host_id < outside + count:
            return inside + host_id - outside
    return None


def _subid_map() -> IdMap | None:
    """The goslim entry of /etc/subuid and /etc/subgid, when both give the same 65536-id range."""
    uid_start, gid_start = _subid_start(SUBUID), _subid_start(SUBGID)
    if uid_start is None or uid_start != gid_start:
        return None
    return IdMap(uid_start, source=f"'{SUBID_OWNER}' in {SUBUID} and {SUBGID}")


def _subid_start(path: Path) -> int | None:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, rest = line.strip().partition(":")
        start, _, count = rest.partition(":")
        if name == SUBID_OWNER and start.isdigit() and count.isdigit() and int(count) >= ID_COUNT:
            return int(start)
    return None


def _mapped_here(id_map: IdMap) -> bool:
    """The whole host range exists, for uids and gids, in the user namespace goslim runs in."""
    last = id_map.host_id + id_map.size - 1
    for name in ("uid_map", "gid_map"):
        try:
            rows = [line.split() for line in Path(f"/proc/self/{name}").read_text().splitlines()]
        except OSError:
            return False
        if not any(int(lo) <= id_map.host_id and last < int(lo) + int(n) for lo, _, n in rows):
            return False
    return True
