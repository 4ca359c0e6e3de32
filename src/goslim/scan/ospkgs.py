"""Packages a base image records: dpkg (``status`` or distroless ``status.d/``) and apk (``installed``)."""

from __future__ import annotations

from goslim.scan.models import OsPackage

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d/"
APK_INSTALLED = "lib/apk/db/installed"
OS_RELEASE = ("etc/os-release", "usr/lib/os-release")


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines of os-release, quotes removed."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            out[key] = value.strip().strip("\"'")
    return out


def parse_dpkg_status(text: str, distro: str = "debian") -> list[OsPackage]:
    """Installed packages of a dpkg status file (or one status.d entry, which has no Status field)."""
    packages = []
    for para in _paragraphs(text, sep=": "):
        status = para.get("Status", "install ok installed")
        if not status.endswith(" installed") or "Package" not in para or "Version" not in para:
            continue
        source = para.get("Source", "").split(" ", 1)[0]
        packages.append(
            OsPackage(
                name=para["Package"],
                version=para["Version"],
                arch=para.get("Architecture", ""),
                manager="dpkg",
                distro=distro,
                source=source,
            )
        )
    return packages


def parse_apk_installed(text: str, distro: str = "alpine") -> list[OsPackage]:
    """Packages of apk's installed database (``P:`` name, ``V:`` version, ``A:`` arch, ``L:`` license)."""
    packages = []
    for para in _paragraphs(text, sep=":"):
        if "P" in para and "V" in para:
            packages.append(
                OsPackage(
                    name=para["P"],
                    version=para["V"],
                    arch=para.get("A", ""),
                    manager="apk",
                    distro=distro,
                    license=para.get("L", ""),
                    source=para.get("o", ""),
                )
            )
    return packages


def _paragraphs(text: str, *, sep: str) -> list[dict[str, str]]:
    """Blank-line separated stanzas of ``Key<sep>value`` lines; continuation lines are skipped."""
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                out.append(current)
            current = {}
            continue
        if line[0] in " \t":
            continue
        key, found, value = line.partition(sep)
        if found:
            current.setdefault(key.strip(), value.strip())
    if current:
        out.append(current)
    return out
