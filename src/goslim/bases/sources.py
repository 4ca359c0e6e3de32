"""Where the CA bundle and the zoneinfo database come from, and which version went in.

Two well-kept sources each: the host's Debian-style files (/etc/ssl/certs, /usr/share/zoneinfo)
and the Python packages goslim depends on (certifi, tzdata). Versions are read, never guessed.
"""

from __future__ import annotations

import importlib.metadata
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import certifi
import tzdata

from goslim.bases.models import BaseFile
from goslim.errors import UserInputError

SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SYSTEM_ZONEINFO = Path("/usr/share/zoneinfo")
DPKG_STATUS = Path("/var/lib/dpkg/status")
ZONEINFO_DIR = "/usr/share/zoneinfo"
TZIF_MAGIC = b"TZif"
# Duplicated trees of the same zones (POSIX-only and leap-second variants) that Go never reads.
SKIPPED_ZONE_DIRS = {"posix", "right"}

CaSource = Literal["auto", "system", "certifi"]
TzSource = Literal["auto", "system", "tzdata"]


@dataclass(frozen=True)
class CaBundle:
    data: bytes
    source: str
    version: str
    certificates: int


@dataclass(frozen=True)
class ZoneinfoTree:
    entries: tuple[BaseFile, ...]  # directories, TZif files and alias symlinks under ZONEINFO_DIR
    source: str
    version: str

    @property
    def files(self) -> int:
        return sum(1 for e in self.entries if e.kind == "file")

    @property
    def bytes(self) -> int:
        return sum(e.size for e in self.entries)

    def select(self, names: list[str]) -> tuple[ZoneinfoTree, list[str]]:
        """Only the zones ``names`` (aliases with their targets) plus UTC; and the names not in the tree."""
        by_path = {e.path: e for e in self.entries}
        chosen: dict[str, BaseFile] = {}
        missing: list[str] = []
        for name in sorted({*names, "UTC"}):
            path = f"{ZONEINFO_DIR}/{name}"
            for _hop in range(8):  # an alias may point at another alias; the tree has no loops
                entry = by_path.get(path)
                if entry is None or entry.kind == "dir":
                    missing.append(name)
                    break
                chosen[path] = entry
                if entry.kind == "file":
                    break
                path = posixpath.normpath(posixpath.join(posixpath.dirname(path), entry.target))
        dirs = {d for p in chosen for d in _parents(p) if d.startswith(ZONEINFO_DIR)}
        subset = [*chosen.values(), *(BaseFile(path=d, kind="dir", mode=0o755) for d in dirs)]
        return ZoneinfoTree(tuple(sorted(subset, key=lambda e: e.path)), self.source, self.version), missing


def load_ca_bundle(source: CaSource = "auto", system_bundle: Path = SYSTEM_CA_BUNDLE) -> CaBundle:
    """The CA bundle: the host's (it carries roots an admin added) when present, else certifi's."""
    if source in ("auto", "system") and system_bundle.is_file():
        data = system_bundle.read_bytes()
        version = _dpkg_version("ca-certificates") or "unknown"
        return CaBundle(data, f"system {system_bundle}", f"ca-certificates {version}", _count_certs(data))
    if source == "system":
        raise UserInputError(
            f"no CA bundle at {system_bundle}",
            hint="install ca-certificates, or use the certifi bundle (image.ca_source: certifi)",
        )
    data = Path(certifi.where()).read_bytes()
    version = f"certifi {importlib.metadata.version('certifi')}"
    return CaBundle(data, "certifi (PyPI)", version, _count_certs(data))


def load_zoneinfo(source: TzSource = "auto", system_dir: Path = SYSTEM_ZONEINFO) -> ZoneinfoTree:
    """The zoneinfo tree; ``auto`` takes the newer IANA release of the host's and the tzdata package's."""
    system = _system_zoneinfo(system_dir) if source in ("auto", "system") and system_dir.is_dir() else None
    if source == "system":
        if system is None:
            raise UserInputError(
                f"no zoneinfo at {system_dir}", hint="install tzdata, or use image.tz_source: tzdata"
            )
        return system
    package = _package_zoneinfo()
    if system is None:
        return package
    # IANA release names ("2025b", "2026f") sort as strings.
    return system if _iana(system.version) >= _iana(package.version) else package


def _system_zoneinfo(root: Path) -> ZoneinfoTree:
    version = _zoneinfo_version(root) or "unknown"
    dpkg = _dpkg_version("tzdata")
    label = f"tzdata {version}" + (f" (Debian {dpkg})" if dpkg else "")
    return ZoneinfoTree(tuple(_walk_zoneinfo(root)), f"system {root}", label)


def _package_zoneinfo() -> ZoneinfoTree:
    root = Path(tzdata.__file__).parent / "zoneinfo"
    version = getattr(tzdata, "IANA_VERSION", "") or importlib.metadata.version("tzdata")
    return ZoneinfoTree(tuple(_walk_zoneinfo(root)), "tzdata (PyPI)", f"tzdata {version}")


def _walk_zoneinfo(root: Path) -> list[BaseFile]:
    """TZif files and in-tree alias symlinks, with their directories, in path order."""
    entries: list[BaseFile] = []
    dirs: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_ZONE_DIRS and not d.startswith("__"))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = (rel_dir / name).as_posix()
            dest = f"{ZONEINFO_DIR}/{rel}"
            if path.is_symlink():
                target = os.readlink(path)
                resolved = (path.parent / target).resolve()
                # Keep aliases that stay inside the tree; drop e.g. localtime -> /etc/localtime.
                inside = resolved.is_relative_to(root.resolve()) and resolved.is_file()
                if target.startswith("/") or not inside:
                    continue
                entries.append(BaseFile(path=dest, kind="symlink", mode=0o777, target=target))
            elif path.is_file():
                data = path.read_bytes()
                if not data.startswith(TZIF_MAGIC):
                    continue  # zone.tab, tzdata.zi, __init__.py: Go reads none of them
                entries.append(BaseFile(path=dest, kind="file", mode=0o644, data=data,
                                        group=zone_group(data)))
            else:
                continue
            dirs.update(_parents(dest))
    entries = _link_duplicates(entries, _link_names(root))
    dir_entries = [BaseFile(path=d, kind="dir", mode=0o755) for d in sorted(dirs)]
    return sorted([*dir_entries, *entries], key=lambda e: e.path)


def zone_group(data: bytes) -> str:
    """Zones under one rule for future times (the TZ string ending a TZif v2+ file, as
    "CET-1CEST,M3.5.0,M10.5.0/3") mostly share their recent transitions: one layer group."""
    tail = data[-256:].rstrip(b"\n")
    rule = tail[tail.rfind(b"\n") + 1:] if data[4:5] >= b"2" and b"\n" in tail else b""
    return "zoneinfo " + rule.decode("ascii", "replace")


def _link_names(root: Path) -> set[str]:
    """Zone names tzdata.zi declares as links ("L Asia/Shanghai PRC"): aliases, not zones."""
    zi = root / "tzdata.zi"
    if not zi.is_file():
        return set()
    with open(zi, "rb") as fh:
        lines = fh.read(4 << 20).decode("utf-8", "replace").splitlines()
    return {f"{ZONEINFO_DIR}/{parts[2]}" for parts in (ln.split() for ln in lines)
            if len(parts) == 3 and parts[0] == "L"}


def _link_duplicates(entries: list[BaseFile], links: set[str]) -> list[BaseFile]:
    """Identical zone files (aliases the tzdata package ships as copies) as symlinks to one of them.

    A tar layer stores each copy in full and gzip's 32 KiB window rarely reaches the earlier one, so
    copies cost pull bytes; Go reads a zone through a symlink as it reads the file.
    """
    canonical: dict[bytes, str] = {}
    files = [e for e in entries if e.kind == "file"]
    top_level = ZONEINFO_DIR.count("/") + 1
    # The zone tzdata.zi names wins over its links, then a region directory over a legacy name.
    for e in sorted(files, key=lambda e: (e.path in links, e.path.count("/") == top_level, e.path)):
        canonical.setdefault(e.data, e.path)
    out = []
    for e in entries:
        first = canonical.get(e.data) if e.kind == "file" else None
        if first is None or first == e.path:
            out.append(e)
        else:
            target = posixpath.relpath(first, posixpath.dirname(e.path))
            out.append(BaseFile(path=e.path, kind="symlink", mode=0o777, target=target))
    return out


def _parents(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _zoneinfo_version(root: Path) -> str | None:
    """The IANA release named in tzdata.zi's first line ("# version 2025b")."""
    zi = root / "tzdata.zi"
    if zi.is_file():
        with zi.open() as fh:
            m = re.match(r"#\s*version\s+(\S+)", fh.readline())
            if m:
                return m.group(1)
    return None


def _iana(version: str) -> str:
    m = re.search(r"(\d{4}[a-z])", version)
    return m.group(1) if m else ""


def _dpkg_version(package: str, status: Path = DPKG_STATUS) -> str | None:
    """The installed version of a Debian package, read from dpkg's status file."""
    if not status.is_file():
        return None
    for stanza in status.read_text(errors="replace").split("\n\n"):
        if f"\nPackage: {package}\n" in f"\n{stanza}\n":
            m = re.search(r"^Version:\s*(\S+)", stanza, re.MULTILINE)
            return m.group(1) if m else None
    return None


def _count_certs(data: bytes) -> int:
    return data.count(b"-----BEGIN CERTIFICATE-----")
