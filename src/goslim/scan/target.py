"""What ``goslim scan`` was pointed at: a binary file, or an image whose entrypoint binary is read."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from goslim.binary import BinaryReport
from goslim.errors import UserInputError
from goslim.oci import ImageLocation, read_image
from goslim.oci.layout import REF_NAME
from goslim.platform import Platform
from goslim.scan.image_files import read_image_files
from goslim.scan.models import OsPackage
from goslim.scan.ospkgs import (
    APK_INSTALLED,
    DPKG_STATUS,
    DPKG_STATUS_D,
    OS_RELEASE,
    parse_apk_installed,
    parse_dpkg_status,
    parse_os_release,
)
from goslim.scan.sbom import SbomSubject
from goslim.scan.scanner import read_binary_report
from goslim.sign.store import ATTACHMENT_SUFFIXES


@dataclass(frozen=True)
class ScanTarget:
    """A resolved scan target: the binary's report and the SBOM subject built around them."""

    location: str
    kind: Literal["binary", "image"]
    report: BinaryReport | None  # None for a file that is not ELF or an image without an entrypoint
    subject: SbomSubject
    attachable: bool  # an OCI layout or a registry can carry a .sbom tag
    beside: Path  # where SBOM files go by default
    binary_label: str | None = None  # the binary's path inside an image


def open_target(
    text: str, workdir: Path, unpacked: Path | None = None, platform: Platform | None = None
) -> ScanTarget:
    """A file path → binary; ``oci:``, ``docker-archive:`` or a registry reference → image.

    ``unpacked``: the binary the image was built from, read instead of a UPX-packed entrypoint.
    ``platform``: of an image index, the platform whose image is scanned (default: this machine's).
    """
    path = Path(text)
    if path.is_file():
        return binary_target(path)
    # A path-looking argument (or a bare name) that is not a file is a missing binary, not an image name.
    if text.startswith(("/", "./", "../", "~")) or (":" not in text and "/" not in text):
        raise UserInputError(
            f"{text}: no such file",
            hint="give a binary path or an image location (oci:DIR, docker-archive:FILE, HOST/REPO:TAG)",
        )
    if path.is_dir() and (path / "index.json").is_file():
        raise UserInputError(f"{text} is an OCI layout directory", hint=f"write it as oci:{text}")
    return image_target(text, workdir, unpacked, platform)


def binary_target(path: Path) -> ScanTarget:
    report, missing = read_binary_report(path, path.name)
    subject = SbomSubject(
        name=path.name,
        kind="binary",
        sha256=report.sha256 if report else _sha256(path),
        build_info=report.build_info if report else None,
        partial_reasons=missing,
    )
    return ScanTarget(str(path), "binary", report, subject, attachable=False, beside=path.parent)


def image_target(
    text: str, workdir: Path, unpacked: Path | None = None, platform: Platform | None = None
) -> ScanTarget:
    """The image's entrypoint binary (or ``unpacked``, when it is packed) and its base packages."""
    loc = ImageLocation.parse(text)
    image = read_image(_skip_attachments(loc), platform)
    files = read_image_files(image, workdir)
    reasons: list[str] = []
    report = None
    if files.binary is not None and files.entrypoint:
        name = Path(files.entrypoint).name
        report, missing = read_binary_report(files.binary, name)
        if unpacked is not None and (report is None or report.build_info is None):
            # goslim packs after building: the build's own binary carries what the packed one hides.
            report, missing = read_binary_report(unpacked, unpacked.name)
        reasons += missing
    else:
        reasons.append("the image has no absolute entrypoint or command: no Go binary was read")
    packages = os_packages(files.records)
    beside = loc.path.parent if loc.kind == "oci" and loc.path else Path.cwd()
    subject = SbomSubject(
        name=text,
        kind="image",
        sha256=image.digest.hex,
        build_info=report.build_info if report else None,
        os_packages=packages,
        partial_reasons=reasons,
    )
    label = f"/{files.entrypoint}" if files.entrypoint else None
    return ScanTarget(
        text,
        "image",
        report,
        subject,
        attachable=loc.kind in ("oci", "registry"),
        beside=beside,
        binary_label=label,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def os_packages(records: dict[str, bytes]) -> list[OsPackage]:
    """Packages from dpkg status / status.d and the apk installed db, named by os-release's ID."""
    release = next(
        (parse_os_release(records[n].decode(errors="replace")) for n in OS_RELEASE if n in records), {}
    )
    distro = release.get("ID", "")
    packages: list[OsPackage] = []
    for path in sorted(records):
        text = records[path].decode(errors="replace")
        if path == DPKG_STATUS or path.startswith(DPKG_STATUS_D):
            if path.endswith(".md5sums"):
                continue
            packages += parse_dpkg_status(text, distro or "debian")
        elif path == APK_INSTALLED:
            packages += parse_apk_installed(text, distro or "alpine")
    unique = {(p.manager, p.name, p.version, p.arch): p for p in packages}
    return sorted(unique.values(), key=lambda p: (p.manager, p.name))


def _skip_attachments(loc: ImageLocation) -> ImageLocation:
    """An untagged ``oci:DIR`` that also holds .sig/.sbom tags names its one image by that image's tag."""
    if loc.kind != "oci" or loc.tag is not None or loc.path is None:
        return loc
    try:
        index = json.loads((loc.path / "index.json").read_text())
        entries = [
            m
            for m in index.get("manifests", [])
            if not str((m.get("annotations") or {}).get(REF_NAME, "")).endswith(ATTACHMENT_SUFFIXES)
        ]
    except (OSError, ValueError, AttributeError):
        return loc
    tag = (entries[0].get("annotations") or {}).get(REF_NAME) if len(entries) == 1 else None
    return ImageLocation("oci", loc.path, tag) if tag else loc
