"""Looking things up inside an unpacked root filesystem without ever leaving it.

Symlinks are resolved against the rootfs, never the host, so a hostile image with
`/etc/passwd -> /etc/shadow` style links cannot make goslim read host files.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from goslim.errors import UserInputError

MAX_SYMLINKS = 40
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def resolve_in_rootfs(rootfs: Path, path: str) -> Path | None:
    """The host path of ``path`` inside ``rootfs`` with every symlink followed; None when missing."""
    parts = list(PurePosixPath("/", path).parts[1:])
    current: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if current:
                current.pop()
            continue
        host = rootfs.joinpath(*current, part)
        try:
            st = os.lstat(host)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > MAX_SYMLINKS:
                return None
            target = os.readlink(host)
            if target.startswith("/"):
                current = []
            parts = list(PurePosixPath(target).parts[1 if target.startswith("/") else 0 :]) + parts
            continue
        current.append(part)
    return rootfs.joinpath(*current)


def exists_in_rootfs(rootfs: Path, path: str) -> bool:
    return resolve_in_rootfs(rootfs, path) is not None


def find_executable(rootfs: Path, name: str, path_env: str | None) -> str | None:
    """The in-image path of the program ``name`` (searched on PATH when it has no slash)."""
    if "/" in name:
        candidates = [name if name.startswith("/") else "/" + name]
    else:
        candidates = [f"{d.rstrip('/')}/{name}" for d in (path_env or DEFAULT_PATH).split(":") if d]
    for cand in candidates:
        host = resolve_in_rootfs(rootfs, cand)
        if host is not None and host.is_file():
            return cand
    return None


@dataclass(frozen=True)
class ResolvedUser:
    uid: int
    gid: int
    name: str | None  # the passwd name, when the image has one


def resolve_user(rootfs: Path, user: str) -> ResolvedUser:
    """Turn an image config ``User`` ("", "uid", "uid:gid", "name", "name:group") into numbers."""
    user = user.strip()
    if not user:
        return ResolvedUser(0, 0, "root")
    who, _, group = user.partition(":")
    passwd = _table(rootfs, "/etc/passwd")
    entry = next((e for e in passwd if who in (e[0], e[2])), None)
    if who.isdigit():
        uid = int(who)
        gid = int(entry[3]) if entry and entry[3].isdigit() else uid
    elif entry and entry[2].isdigit():
        uid = int(entry[2])
        gid = int(entry[3]) if entry[3].isdigit() else uid
    else:
        raise UserInputError(
            f"user '{who}' is not in the image's /etc/passwd",
            hint="set a numeric user (e.g. 65532:65532) or add the user to /etc/passwd",
        )
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            grp = next((e for e in _table(rootfs, "/etc/group") if e[0] == group), None)
            if grp is None or not grp[2].isdigit():
                raise UserInputError(
                    f"group '{group}' is not in the image's /etc/group", hint="use a numeric group id"
                )
            gid = int(grp[2])
    return ResolvedUser(uid, gid, entry[0] if entry else None)


def _table(rootfs: Path, path: str) -> list[list[str]]:
    host = resolve_in_rootfs(rootfs, path)
    if host is None or not host.is_file():
        return []
    rows = []
    for line in host.read_text(errors="replace").splitlines():
        if line and not line.startswith("#"):
            fields = line.split(":")
            if len(fields) >= 4:
                rows.append(fields)
    return rows
